"""The docs held to the code (datasette's tests/test_docs.py): every hook has its section with its
exact signature, each documented interface member exists with the documented parameters, the
built-in plugin names are the pyproject's entry points, every command the docs show exists
with the flags shown, and the plugin tutorial's code is the example plugin's."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
from pathlib import Path

import pytest
import typer

from disentangle import hookspecs
from disentangle.cli import add_plugin_commands, app
from disentangle.components import Backbone, Dataset, LatentCode, Metric, MIEstimator
from disentangle.method import Method

ROOT = Path(__file__).resolve().parents[2]
HOOKS = (ROOT / "docs" / "hooks.md").read_text()
#: the interface each hook's section documents in its table
INTERFACES = {
    "register_methods": Method,
    "register_codes": LatentCode,
    "register_backbones": Backbone,
    "register_datasets": Dataset,
    "register_estimators": MIEstimator,
    "register_metrics": Metric,
}
#: the pages whose commands are checked
PAGES = [
    "README.md",
    "docs/guide.md",
    "docs/results.md",
    "docs/benchmarks.md",
    "docs/plugins.md",
    "docs/peers.md",
]


def hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "disentangle_spec")
    ]


def section(name: str) -> str:
    """The text of `## \\`name\\`` in docs/hooks.md, up to the next section."""
    start = HOOKS.index(f"## `{name}`")
    end = HOOKS.find("\n## ", start + 1)
    return HOOKS[start : end if end >= 0 else None]


def test_the_hooks_are_the_ones_the_page_knows() -> None:
    assert set(hook_names()) == {*INTERFACES, "register_commands", "published_results"}


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_its_section_with_its_exact_signature(name: str) -> None:
    assert f"## `{name}`" in HOOKS
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"`{name}({params})`" in section(name), f"its section does not show {name}({params})"


def documented_members(text: str) -> list[str]:
    """The backticked names in the first cell of each table row (`name(args)` or `name: T`)."""
    members = []
    for line in text.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            members += re.findall(r"`([^`]+)`", first_cell)
    return members


@pytest.mark.parametrize("hook", sorted(INTERFACES))
def test_each_documented_member_exists_with_its_parameters(hook: str) -> None:
    cls = INTERFACES[hook]
    members = documented_members(section(hook))
    assert members, f"no interface table under {hook}"
    annotations = {k for c in cls.__mro__ for k in getattr(c, "__annotations__", {})}
    for member in members:
        name = re.split(r"[(:]", member)[0].strip()
        assert hasattr(cls, name) or name in annotations, f"{cls.__name__} has no {name}"
        if "(" in member:
            documented = [p.strip() for p in member[member.index("(") + 1 : -1].split(",") if p]
            actual = [p for p in inspect.signature(getattr(cls, name)).parameters if p != "self"]
            assert documented == actual, f"{cls.__name__}.{name}: docs {documented}, code {actual}"


def entry_points() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return sorted(pyproject["project"]["entry-points"]["disentangle"])


def test_the_built_in_plugin_names_are_the_entry_points() -> None:
    plugins_md = (ROOT / "docs" / "plugins.md").read_text()
    sentence = re.search(r"the built-in plugins are\s+(.+?)(?:,\s+and `disentangle|\.)", plugins_md)
    assert sentence, "docs/plugins.md no longer names the built-in plugins"
    assert sorted(re.findall(r"`(\w+)`", sentence.group(1))) == entry_points()
    example = re.search(r"DISENTANGLE_PLUGINS=([\w,]+) disentangle", plugins_md)
    assert example and set(entry_points()) <= set(example.group(1).split(","))


def command_tree() -> typer.core.TyperGroup:
    add_plugin_commands(app)
    return typer.main.get_command(app)


def code_snippets(text: str) -> list[str]:
    """Lines of fenced blocks and inline code spans, with `\\` continuations joined."""
    text = text.replace("\\\n", " ")
    snippets = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
        snippets += block.splitlines()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    snippets += re.findall(r"`([^`\n]+)`", prose)
    return snippets


def shown_commands(text: str) -> list[tuple[list[str], list[str]]]:
    """(command words, flags) of each `disentangle …` invocation in a page's code."""
    shown = []
    for snippet in code_snippets(text):
        pattern = r"(?:^|\$ |-m |&& )disentangle ((?:[a-z][a-z-]* ?)+)(.*)"
        for match in re.finditer(pattern, snippet.strip()):
            line = re.split(r"\s#\s|\s&&\s|\s\|\s", match.group(0))[0]
            words = match.group(1).split()
            shown.append((words, re.findall(r"(--[a-z][a-z-]*)", line)))
    return shown


def command_problems(text: str) -> list[str]:
    """Each shown command that does not exist, or shows a flag its command does not have."""
    tree, problems = command_tree(), []
    for words, flags in shown_commands(text):
        command, path = tree, ["disentangle"]
        for word in words:
            sub = command.commands.get(word) if hasattr(command, "commands") else None
            if sub is None:
                break
            command, path = sub, [*path, word]
        if command is tree:
            problems.append(f"`disentangle {' '.join(words)}` is no command")
            continue
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        unknown = [f for f in flags if f not in known | {"--help"}]
        if unknown:
            problems.append(f"`{' '.join(path)}` has no {', '.join(unknown)}")
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_every_command_shown_exists_with_the_flags_shown(page: str) -> None:
    text = (ROOT / page).read_text()
    assert shown_commands(text) or page == "docs/plugins.md"
    assert command_problems(text) == [], page


def test_the_command_check_finds_a_wrong_flag_and_a_missing_command() -> None:
    text = "```\ndisentangle run R --seeds 1-2 --bogus\n```\nthen `disentangle nosuch RUN`"
    assert command_problems(text) == [
        "`disentangle run` has no --bogus",
        "`disentangle nosuch` is no command",
    ]
    assert command_problems("`disentangle data prepare mnist --root D`") == []


EXAMPLE = ROOT / "docs" / "example-plugin" / "disentangle_example" / "__init__.py"


def definitions(source: str) -> dict[str, ast.ClassDef | ast.FunctionDef]:
    tree = ast.parse(source)
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}


def is_ellipsis(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and getattr(statement.value, "value", None) is ...


def same_code(shown: ast.AST, real: ast.AST, where: str) -> None:
    """A definition in the tutorial is the example's: the same parameters and, unless the
    tutorial elides it with `...`, the same statements (comments and type hints aside)."""
    if isinstance(shown, ast.FunctionDef):
        assert isinstance(real, ast.FunctionDef), where
        assert [a.arg for a in shown.args.args] == [a.arg for a in real.args.args], where
        body = [s for s in shown.body if not is_ellipsis(s)]
        if body:
            real_body = [s for s in real.body if not ast.get_docstring(ast.Module([s], []))]
            assert ast.dump(ast.Module(body, [])) == ast.dump(ast.Module(real_body, [])), where
        return
    assert isinstance(real, ast.ClassDef), where
    real_members = {getattr(m, "name", None): m for m in real.body}
    for member in shown.body:
        if isinstance(member, ast.FunctionDef):
            assert member.name in real_members, f"{where}.{member.name}"
            same_code(member, real_members[member.name], f"{where}.{member.name}")
        elif isinstance(member, ast.AnnAssign):
            assert ast.dump(member) in {ast.dump(m) for m in real.body}, f"{where} field"


def test_the_tutorial_code_is_the_example_plugin_code() -> None:
    real = definitions(EXAMPLE.read_text())
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(), re.S)
    checked = set()
    for block in blocks:
        for name, shown in definitions(block).items():
            if name in real:
                same_code(shown, real[name], name)
                checked.add(name)
    expected = {
        "Bernoulli",
        "BernoulliParams",
        "TinyMlp",
        "Autoencoder",
        "ActiveUnitsParams",
        "ActiveUnits",
        "CyclicalBetaVAEParams",
        "CyclicalBetaVAE",
        "register_methods",
        "register_metrics",
        "register_codes",
        "register_backbones",
    }
    assert checked == expected


def test_the_architecture_page_places_every_module_of_the_core() -> None:
    """docs/architecture.md's drawing names each module of disentangle/ (a new or moved
    module must be placed in a layer)."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    core = ROOT / "disentangle"
    missing = [
        str(path.relative_to(core))
        for path in sorted(core.rglob("*.py"))
        if path.name != "__init__.py" and path.name not in page
    ]
    assert not missing, f"docs/architecture.md does not place: {missing}"
