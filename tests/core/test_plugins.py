"""Plugin loading: first-party entry points, broken plugins, DISENTANGLE_PLUGINS, add()."""

from __future__ import annotations

import os
import sys
import types
from importlib.metadata import EntryPoint, entry_points, version

import pluggy
import pytest

import disentangle.plugins
from disentangle import Params, hookimpl
from disentangle.errors import DisentangleError
from disentangle.plugins import ENV_VAR, GROUP, PluginHost

PROVIDER = "disentangle-toolkit"
FIRST_PARTY = {"codes", "infogan", "dcgan", "data", "metrics", "vae"}
#: the backbones of the dcgan plugin alone (the vae plugin adds dlib_conv)
DCGAN_BACKBONES = ["celeba", "chairs", "dsprites", "faces", "finegan", "mnist", "svhn"]
EXPECTED = {
    "methods": [
        "annealed_vae",
        "beta_tcvae",
        "beta_vae",
        "dip_vae",
        "factor_vae",
        "infogan",
        "infogan_cr",
    ],
    "codes": ["categorical", "gaussian", "uniform"],
    "backbones": ["celeba", "chairs", "dlib_conv", "dsprites", "faces", "finegan", "mnist", "svhn"],
    "estimators": ["infonce", "nwj", "variational"],
    "datasets": [
        "cars",
        "cars3d",
        "celeba",
        "chairs",
        "cub",
        "dogs",
        "dsprites",
        "faces",
        "fashion_mnist",
        "image_folder",
        "mnist",
        "mpi3d_real",
        "mpi3d_realistic",
        "mpi3d_toy",
        "procedural",
        "scream_dsprites",
        "shapes3d",
        "smallnorb",
        "svhn",
    ],
    "metrics": [
        "accuracy",
        "beta_vae",
        "dci",
        "dci_hist",
        "downstream_task_boosted_trees",
        "downstream_task_logistic_regression",
        "factor_vae",
        "fairness",
        "fid",
        "inception_score",
        "irs",
        "kid",
        "mig",
        "modularity",
        "sap",
        "unsupervised",
    ],
}


@pytest.fixture(autouse=True)
def _no_plugin_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with all installed plugins allowed."""
    monkeypatch.delenv(ENV_VAR, raising=False)


def all_entries(host: PluginHost) -> dict[str, list[str]]:
    return {kind: registry.names() for kind, registry in host.registries.items()}


def test_first_party_entry_points_are_installed() -> None:
    assert {ep.name for ep in entry_points(group=GROUP)} >= FIRST_PARTY


def test_first_party_plugins_load_lazily_and_register() -> None:
    host = PluginHost()
    assert host.loaded == []  # nothing is imported until a registry is used
    assert all_entries(host) == EXPECTED
    assert {p.name for p in host.loaded} == FIRST_PARTY
    assert host.failures == []
    for plugin in host.loaded:
        assert (plugin.provider, plugin.version) == (PROVIDER, version(PROVIDER))
    for registry in host.registries.values():
        for entry in registry.entries():
            assert entry.provider == PROVIDER, entry.name
            assert entry.version == version(PROVIDER), entry.name


def test_load_is_idempotent() -> None:
    host = PluginHost()
    host.load()
    host.load()  # a second load would re-register every name and raise
    assert len(host.loaded) == len(FIRST_PARTY)
    assert all_entries(host) == EXPECTED


def test_broken_entry_point_is_reported_and_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = list(entry_points(group=GROUP))
    broken = EntryPoint(name="broken", value="no_such_module_xyz", group=GROUP)

    def fake_entry_points(**kwargs: str) -> list[EntryPoint]:
        assert kwargs == {"group": GROUP}
        return [*real, broken]

    monkeypatch.setattr(disentangle.plugins, "entry_points", fake_entry_points)
    host = PluginHost()
    host.load()

    assert [f.name for f in host.failures] == ["broken"]
    failure = host.failures[0]
    assert failure.provider == "no_such_module_xyz"  # no distribution: the module stands in
    assert failure.error.startswith("ModuleNotFoundError")
    assert "no_such_module_xyz" in failure.error
    err = capsys.readouterr().err
    assert "'broken'" in err
    assert "failed to load" in err
    assert failure.error in err
    assert {p.name for p in host.loaded} == FIRST_PARTY
    assert all_entries(host) == EXPECTED


def test_entry_point_whose_hook_raises_is_rolled_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = types.ModuleType("half_done_plugin_xyz")

    @hookimpl
    def register_codes(register):
        register("half_done", make_widget, Params)
        raise RuntimeError("hook exploded")

    module.register_codes = register_codes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    real = list(entry_points(group=GROUP))
    half = EntryPoint(name="half", value=module.__name__, group=GROUP)
    monkeypatch.setattr(disentangle.plugins, "entry_points", lambda **kw: [half, *real])
    host = PluginHost()
    host.load()

    assert [(f.name, f.error) for f in host.failures] == [("half", "RuntimeError: hook exploded")]
    assert "hook exploded" in capsys.readouterr().err
    assert "half_done" not in host.codes  # what the failed plugin registered is undone
    assert "half" not in {p.name for p in host.loaded}
    assert all_entries(host) == EXPECTED


def test_env_var_selects_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "infogan")
    host = PluginHost()
    assert [p.name for p in host.loaded] == []
    assert host.codes.names() == []  # the codes are the `codes` plugin's
    assert host.estimators.names() == EXPECTED["estimators"]
    assert host.backbones.names() == []
    assert host.datasets.names() == []
    assert [p.name for p in host.loaded] == ["infogan"]


def test_env_var_list_with_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, " dcgan , data ")
    host = PluginHost()
    assert host.codes.names() == []
    assert host.backbones.names() == [b for b in EXPECTED["backbones"] if b != "dlib_conv"]
    assert host.datasets.names() == EXPECTED["datasets"]
    assert {p.name for p in host.loaded} == {"dcgan", "data"}


def test_env_var_names_that_match_no_plugin_are_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_VAR, "dcgan,nosuchplugin,disentangle_infogan")
    host = PluginHost()
    assert host.backbones.names() == DCGAN_BACKBONES
    assert sorted(host.unknown) == ["disentangle_infogan", "nosuchplugin"]
    assert "Did you mean 'infogan'" in host.unknown["disentangle_infogan"]
    assert "nosuchplugin" in capsys.readouterr().err
    assert set(host.installed) >= FIRST_PARTY


def test_components_know_the_plugin_that_registered_them() -> None:
    host = PluginHost()
    assert host.codes.get("categorical").plugin == "codes"
    assert host.backbones.get("mnist").plugin == "dcgan"


@pytest.mark.parametrize("value", ["", "none", " none "])
def test_env_var_disables_autoloading(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    host = PluginHost()
    assert all_entries(host) == {kind: [] for kind in EXPECTED}
    assert host.loaded == []
    assert host.failures == []


def make_widget(spec: Params) -> str:
    return "widget"


class InProcess:
    """A plugin object, as a notebook or a test would write one."""

    @hookimpl
    def register_codes(self, register):
        register("bernoulli_test", make_widget, Params)

    @hookimpl
    def register_metrics(self, register):
        register("count_test", make_widget, Params)


def test_add_in_process_plugin() -> None:
    host = PluginHost()
    host.add(InProcess(), name="inproc", provider="my-lab", version="0.3")
    for registry, name in ((host.codes, "bernoulli_test"), (host.metrics, "count_test")):
        entry = registry.get(name)
        assert (entry.provider, entry.version) == ("my-lab", "0.3")
        assert entry.factory is make_widget
    # the installed plugins are loaded too, and their hooks did not run a second time
    assert host.codes.names() == sorted([*EXPECTED["codes"], "bernoulli_test"])
    assert host.codes.get("categorical").provider == PROVIDER
    assert host.backbones.names() == EXPECTED["backbones"]


def test_add_credits_its_name_without_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "none")
    host = PluginHost()
    host.add(InProcess(), name="inproc")
    assert host.codes.names() == ["bernoulli_test"]
    assert host.codes.get("bernoulli_test").provider == "inproc"


def test_add_clashing_name_raises() -> None:
    class Clash:
        @hookimpl
        def register_codes(self, register):
            register("categorical", make_widget, Params)

    host = PluginHost()
    with pytest.raises(
        DisentangleError, match="'categorical' is already registered by " + PROVIDER
    ):
        host.add(Clash(), name="clash")
    assert host.codes.get("categorical").provider == PROVIDER


def test_failed_add_registers_nothing() -> None:
    class Partial:
        @hookimpl
        def register_metrics(self, register):
            register("first_test", make_widget, Params)
            register("first_test", make_widget, Params)  # taken: the plugin fails

    host = PluginHost()
    with pytest.raises(DisentangleError, match="'first_test' is already registered"):
        host.add(Partial(), name="partial")
    assert host.metrics.names() == EXPECTED["metrics"]
    assert "partial" not in {p.name for p in host.loaded}
    host.add(InProcess(), name="partial")  # the name is free again
    assert host.metrics.names() == sorted([*EXPECTED["metrics"], "count_test"])


def test_failed_add_restores_what_it_overrode() -> None:
    class OverrideThenFail:
        @hookimpl
        def register_codes(self, register):
            register("categorical", make_widget, Params, override=True)
            register("uniform", make_widget, Params)  # taken: the plugin fails

    host = PluginHost()
    with pytest.raises(DisentangleError, match="'uniform' is already registered"):
        host.add(OverrideThenFail(), name="override_then_fail")
    assert host.codes.names() == EXPECTED["codes"]
    assert host.codes.get("categorical").provider == PROVIDER


def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def register_codez(self, register):
            register("never", make_widget, Params)

    host = PluginHost()
    with pytest.raises(pluggy.PluginValidationError, match="register_codez"):
        host.add(Typo(), name="typo")
    assert "never" not in host.codes


def test_hook_with_wrong_argument_fails_loudly() -> None:
    class WrongArg:
        @hookimpl
        def register_codes(self, reg):
            reg("never", make_widget, Params)

    host = PluginHost()
    with pytest.raises(pluggy.PluginValidationError, match="reg"):
        host.add(WrongArg(), name="wrong_arg")
    assert "never" not in host.codes


def test_global_host_is_a_plugin_host() -> None:
    assert isinstance(disentangle.plugins.host, PluginHost)
    assert set(EXPECTED["codes"]) <= set(disentangle.plugins.host.codes.names())


class WithCommands:
    @hookimpl
    def register_commands(self, cli):
        @cli.command("hello")
        def hello(name: str = "world") -> None:
            print(f"hello {name}")


class BrokenCommands:
    @hookimpl
    def register_commands(self, cli):
        raise RuntimeError("no commands today")


def test_plugins_add_commands_and_a_broken_hook_is_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer
    from typer.testing import CliRunner

    from disentangle.cli import add_plugin_commands

    monkeypatch.setenv(ENV_VAR, "none")
    plugins = PluginHost()
    plugins.add(BrokenCommands(), name="broken")
    plugins.add(WithCommands(), name="greeter")
    cli = typer.Typer()

    @cli.command("version")
    def version_() -> None:  # a second command, so typer keeps command names
        print("0")

    add_plugin_commands(cli, plugins)
    assert "plugin 'broken' failed to add its commands" in capsys.readouterr().err
    result = CliRunner().invoke(cli, ["hello", "--name", "lab"])
    assert result.exit_code == 0 and result.output == "hello lab\n"


def test_the_core_imports_no_plugin() -> None:
    """Plugin features reach the core through hooks only (datasette's and llm's rule): with
    plugin loading off, importing every core module imports no first-party plugin."""
    import pathlib
    import subprocess

    core = pathlib.Path(disentangle.plugins.__file__).parent
    modules = sorted(
        "disentangle." + ".".join(p.relative_to(core).with_suffix("").parts)
        for p in core.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('disentangle_data', 'disentangle_dcgan', 'disentangle_infogan', 'disentangle_metrics')))"
    )
    env = {**os.environ, ENV_VAR: "none"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert len(modules) > 20 and result.stdout.strip() == "[]"
