"""The plugins' side of the layering (docs/plugins.md): a plugin imports the toolkit's public
modules, never the command-line program (`disentangle.cli`), and another plugin only when it
declares it in `requires` (so it is loaded after it, or skipped when it is left out); and the
core's side (docs/architecture.md): no import cycle, not even one hidden in a function, and no
module over 400 lines; and tests/ laid out as the code is."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


#: what a plugin may import of the core besides its public face (`disentangle`):
#: docs/architecture.md lists them
DOCUMENTED = {
    "disentangle.errors",
    "disentangle.bounds",
    "disentangle.console",
    "disentangle.run.checkpoint",
    "disentangle.recipe.prepare",
}


#: entry-point name -> module of the built-in plugins, and the example's
ENTRY_POINTS = {
    **tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][
        "disentangle"
    ],
    "example": "disentangle_example",
}


def required_modules(package: Path) -> set[str]:
    """The modules of the plugins a package declares in `requires = [...]` (its __init__)."""
    for node in ast.parse((package / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "requires" for t in node.targets
        ):
            return {ENTRY_POINTS[name] for name in ast.literal_eval(node.value)}
    return set()


def forbidden(package: str, module: str, required: frozenset[str] = frozenset()) -> str | None:
    """Why `package` may not import `module` (None when it may); `required`: the modules of
    the plugins it declares in `requires`."""
    top = module.split(".")[0]
    if module == "disentangle.cli" or module.startswith("disentangle.cli."):
        return "the command-line program (use disentangle.console for a command's output)"
    if top.startswith("disentangle_") and top != package and top not in required:
        return "another plugin that it does not declare in `requires`"
    if top == "disentangle" and module != "disentangle" and module not in DOCUMENTED:
        return "a core module that is neither the public face nor documented for plugins"
    return None


def test_the_scan_sees_both_kinds_of_import() -> None:
    source = "from disentangle.cli import out\ndef f():\n    import disentangle_vae.beta_vae\n"
    found = [forbidden("disentangle_data", m) for m in imported(source)]
    assert found == [
        "the command-line program (use disentangle.console for a command's output)",
        "another plugin that it does not declare in `requires`",
    ]
    assert forbidden("disentangle_data", "disentangle_vae", frozenset({"disentangle_vae"})) is None
    assert forbidden("disentangle_data", "disentangle_data.idx") is None
    assert forbidden("disentangle_data", "disentangle.console") is None
    assert forbidden("disentangle_vae", "disentangle") is None
    assert forbidden("disentangle_vae", "disentangle.training.loop") == (
        "a core module that is neither the public face nor documented for plugins"
    )


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_a_plugin_imports_neither_the_cli_nor_a_plugin_it_does_not_require(
    package: Path,
) -> None:
    required = frozenset(required_modules(package))
    problems = [
        f"{path.relative_to(ROOT)} imports {module}: {why}"
        for path in sorted(package.rglob("*.py"))
        for module in imported(path.read_text())
        if (why := forbidden(package.name, module, required))
    ]
    assert not problems, "\n".join(problems)


CORE = ROOT / "disentangle"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def lazy_names(init: Path) -> dict[str, str]:
    """A package's lazily exported names (a `{"Name": "module"}` table in its __init__)."""
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(init.read_text())):
        if (
            isinstance(node, ast.Dict)
            and node.keys
            and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys)
        ):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found[key.value] = value.value
    return found


def core_graph() -> dict[str, set[str]]:
    """Each core module's imports of other core modules, function-level and type-checking
    imports included; a name a package exports lazily counts as its module's import."""
    modules = {module_name(p): p for p in CORE.rglob("*.py")}
    lazy = {m: lazy_names(p) for m, p in modules.items() if p.name == "__init__.py"}

    def resolve(package: str, name: str) -> str | None:
        if f"{package}.{name}" in modules:
            return f"{package}.{name}"
        target = lazy.get(package, {}).get(name)
        for candidate in (f"{package}.{target}", target):
            if candidate in modules:
                return candidate
        return package if package in modules else None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {t for a in node.names if (t := resolve(node.module, a.name))}
        graph[name] = targets - {name}
    return graph


def test_the_core_has_no_import_cycle() -> None:
    graph, state, path = core_graph(), {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_scan_finds_a_cycle_hidden_in_a_function() -> None:
    source = "def f():\n    from disentangle.a import x\n"
    assert imported(source) == ["disentangle.a"]


def test_no_core_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted(CORE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, f"split these modules: {long}"


def test_the_tests_mirror_the_code() -> None:
    """tests/ has a folder per room of the code (docs/architecture.md, "Tests"): the core, one
    per built-in plugin, the project; no test file outside them."""
    tests = ROOT / "tests"
    plugin_folders = {p.name for p in (tests / "plugins").iterdir() if p.is_dir()}
    assert plugin_folders == {p.name.removeprefix("disentangle_") for p in PLUGINS}
    for name in plugin_folders:
        assert list((tests / "plugins" / name).glob("test_*.py")), name
    assert not list(tests.glob("test_*.py")), "a test file directly under tests/"
    assert {p.parent.relative_to(tests).parts[0] for p in tests.rglob("test_*.py")} == {
        "core",
        "plugins",
        "project",
    }


def test_a_test_imports_tests_only_from_its_own_folder() -> None:
    """Each folder runs alone (`python -m pytest tests/plugins/vae`): pytest puts a test's own
    folder on the path, so a test module imported from another folder is found only when that
    folder happened to be collected first. Shared helpers belong in tests/support/."""
    tests = ROOT / "tests"
    for path in tests.rglob("test_*.py"):
        for name in imported(path.read_text()):
            if name.startswith("test_"):
                assert (path.parent / f"{name}.py").is_file(), f"{path}: imports {name}"
