"""Every Python snippet of the README and docs/ runs (page by page, in a fresh interpreter, in
the order the page shows them), so a name the docs use and the code does not have fails here."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if "```python" in p.read_text()
)
#: what a snippet may take as given: the imports a plugin module has (the example plugin's
#: namespace: torch, nn, F, math, Field, the disentangle names) and pytest's tmp_path
PRELUDE = """\
import tempfile
from pathlib import Path

import pytest

import disentangle_example
globals().update({k: v for k, v in vars(disentangle_example).items() if not k.startswith("__")})
import disentangle

tmp_path = Path(tempfile.mkdtemp())
"""


def snippets(page: Path) -> list[str]:
    """The page's ```python blocks, those indented in a list item too."""
    return [
        textwrap.dedent(block)
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    ]


def test_the_pages_with_snippets_are_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "plugins.md", "hooks.md", "methods.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_snippet_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    code = PRELUDE + "".join(
        f"\n# --- snippet {i} of {page.name}\n{block}" for i, block in enumerate(snippets(page))
    )
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    example = ROOT / "docs" / "example-plugin"
    env = {k: v for k, v in os.environ.items() if k != "DISENTANGLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(example), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def called_names(text: str) -> set[str]:
    """The `disentangle.a.b(` calls in a page's code spans and blocks (a plugin's own hooks,
    `disentangle.hook.NAME(`, are the plugin's to define)."""
    names = set(re.findall(r"\b(disentangle(?:\.\w+)+)\(", text))
    return {n for n in names if not n.startswith("disentangle.hook.")}


def resolve(dotted: str) -> object:
    """The object a dotted name reaches, importing modules on the way (None if none)."""
    parts = dotted.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module(".".join(parts[: i + 1]))
            except ImportError:
                return None
    return obj


DOC_PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_disentangle_function_the_page_calls_exists(page: Path) -> None:
    wrong = [
        name
        for name in sorted(called_names(page.read_text()))
        if not callable(obj := resolve(name)) or inspect.ismodule(obj)
    ]
    assert not wrong, f"{page.name} calls what is no function: {wrong}"


def test_the_check_finds_a_module_called_as_a_function() -> None:
    assert called_names("`disentangle.analysis.evaluate(run)`") == {"disentangle.analysis.evaluate"}
    assert inspect.ismodule(resolve("disentangle.analysis.evaluate"))
    assert resolve("disentangle.nosuch_function") is None
