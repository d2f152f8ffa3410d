"""The plugins' side of the layering (docs/plugins.md): a plugin imports the toolkit's public
modules, never the command-line program (`disentangle.cli`), and never another plugin, so each
one can be left out (DISENTANGLE_PLUGINS) without breaking the others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())
EXAMPLE = ROOT / "docs" / "example-plugin" / "disentangle_example"
PACKAGES = [*PLUGINS, EXAMPLE]


def imported(source: str) -> list[str]:
    """Every module a source file imports, function-level imports included."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def forbidden(package: str, module: str) -> str | None:
    """Why `package` may not import `module` (None when it may)."""
    top = module.split(".")[0]
    if module == "disentangle.cli" or module.startswith("disentangle.cli."):
        return "the command-line program (use disentangle.console for a command's output)"
    if top.startswith("disentangle_") and top != package:
        return "another plugin"
    return None


def test_the_scan_sees_both_kinds_of_import() -> None:
    source = "from disentangle.cli import out\ndef f():\n    import disentangle_vae.beta_vae\n"
    found = [forbidden("disentangle_data", m) for m in imported(source)]
    assert found == [
        "the command-line program (use disentangle.console for a command's output)",
        "another plugin",
    ]
    assert forbidden("disentangle_data", "disentangle_data.idx") is None
    assert forbidden("disentangle_data", "disentangle.console") is None


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_a_plugin_imports_neither_the_cli_nor_another_plugin(package: Path) -> None:
    problems = [
        f"{path.relative_to(ROOT)} imports {module}: {why}"
        for path in sorted(package.rglob("*.py"))
        for module in imported(path.read_text())
        if (why := forbidden(package.name, module))
    ]
    assert not problems, "\n".join(problems)
