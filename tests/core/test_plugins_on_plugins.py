"""Plugins that build on plugins: `requires` (order, skipped with one warning naming the
missing plugin, cycles), hooks called through pluggy (wrapper=True, tryfirst, trylast), and
hook specifications a plugin adds for others (`hookspecs`)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

import pytest

import disentangle.plugins
from disentangle import Params, hookimpl, hookspec
from disentangle.errors import DisentangleError
from disentangle.plugins import ENV_VAR, GROUP, PluginHost


def widget(spec: Params) -> str:
    return "widget"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Install fake entry points (name → module object) beside the real ones."""
    monkeypatch.delenv(ENV_VAR, raising=False)

    def install(**modules: types.ModuleType) -> None:
        real = list(entry_points(group=GROUP))
        fakes = []
        for name, module in modules.items():
            monkeypatch.setitem(sys.modules, module.__name__, module)
            fakes.append(EntryPoint(name=name, value=module.__name__, group=GROUP))
        monkeypatch.setattr(disentangle.plugins, "entry_points", lambda **kw: [*fakes, *real])

    return install


def plugin(module_name: str, **attributes: object) -> types.ModuleType:
    module = types.ModuleType(module_name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def test_a_plugin_is_loaded_after_the_plugin_it_requires(installed) -> None:
    host, seen = PluginHost(), []

    @hookimpl
    def register_methods(register):
        seen.append("beta_vae" in host.methods)
        register("beta_vae_cyclic_test", widget, Params)

    # "aaa" sorts before "vae": only `requires` puts vae's hooks first
    installed(aaa=plugin("aaa_plugin_xyz", requires=["vae"], register_methods=register_methods))
    assert "beta_vae_cyclic_test" in host.methods
    assert seen == [True]
    names = [p.name for p in host.loaded]
    assert names.index("vae") < names.index("aaa")
    assert host.methods.get("beta_vae_cyclic_test").plugin == "aaa"


@pytest.mark.parametrize(
    ("env", "requires", "why"),
    [
        ("codes,ext", ["vae"], "requires plugin 'vae', which DISENTANGLE_PLUGINS leaves out"),
        (None, ["nosuch"], "requires plugin 'nosuch', which is not installed"),
    ],
)
def test_a_plugin_whose_requirement_is_missing_is_skipped_with_one_warning(
    installed, monkeypatch, capsys, env, requires, why
) -> None:
    @hookimpl
    def register_codes(register):
        register("ext_code_test", widget, Params)

    installed(ext=plugin("ext_plugin_xyz", requires=requires, register_codes=register_codes))
    if env is not None:
        monkeypatch.setenv(ENV_VAR, env)
    host = PluginHost()
    assert "ext_code_test" not in host.codes
    assert "categorical" in host.codes  # the rest keep working
    assert [(f.name, f.error) for f in host.failures] == [("ext", f"it {why}")]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "'ext'" in line]
    assert len(warnings) == 1 and why in warnings[0] and "skipped" in warnings[0]


def test_plugins_that_require_each_other_are_refused(installed, capsys) -> None:
    installed(
        one=plugin("one_plugin_xyz", requires=["two"]),
        two=plugin("two_plugin_xyz", requires=["one"]),
    )
    host = PluginHost()
    host.load()
    assert {f.name for f in host.failures} == {"one", "two"}
    assert "one → two → one" in capsys.readouterr().err
    assert not {"one", "two"} & {p.name for p in host.loaded}


def test_a_plugin_that_requires_a_failed_plugin_is_undone_too(installed) -> None:
    @hookimpl
    def broken_codes(register):
        register("base_code_test", widget, Params)
        raise RuntimeError("base exploded")

    @hookimpl
    def child_codes(register):
        register("child_code_test", widget, Params)

    installed(
        base=plugin("base_plugin_xyz", register_codes=broken_codes),
        child=plugin("child_plugin_xyz", requires=["base"], register_codes=child_codes),
    )
    host = PluginHost()
    assert not {"base_code_test", "child_code_test"} & set(host.codes.names())
    errors = {f.name: f.error for f in host.failures}
    assert errors == {
        "base": "RuntimeError: base exploded",
        "child": "it requires plugin 'base', which failed to load",
    }


def test_requires_must_be_a_list_of_names(installed) -> None:
    installed(bad=plugin("bad_requires_xyz", requires="vae"))
    host = PluginHost()
    host.load()
    assert [f.name for f in host.failures] == ["bad"]
    assert "must be a list of plugin (entry-point) names" in host.failures[0].error


class Observer:
    """Hooks that record what the registry held when pluggy called them."""

    def __init__(self, host: PluginHost) -> None:
        self.host, self.calls = host, []

    @hookimpl(tryfirst=True)
    def register_codes(self, register):
        self.calls.append(("tryfirst", sorted(self.host.codes.names())))


class Late:
    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    @hookimpl(trylast=True)
    def register_codes(self, register):
        self.observer.calls.append(("trylast", sorted(self.observer.host.codes.names())))


class Wrapper:
    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    @hookimpl(wrapper=True)
    def register_codes(self, register):
        self.observer.calls.append(("before", sorted(self.observer.host.codes.names())))
        result = yield
        register("wrapped_test", widget, Params)
        self.observer.calls.append(("after", sorted(self.observer.host.codes.names())))
        return result


def test_hooks_are_called_through_pluggy_with_wrappers_and_ordering(installed) -> None:
    host = PluginHost()
    observer = Observer(host)
    installed(
        first=plugin("first_xyz", register_codes=observer.register_codes),
        last=plugin("last_xyz", register_codes=Late(observer).register_codes),
        wrap=plugin("wrap_xyz", register_codes=Wrapper(observer).register_codes),
    )
    host.load()
    builtin = ["categorical", "gaussian", "uniform"]
    assert observer.calls == [
        ("before", []),
        ("tryfirst", []),
        ("trylast", builtin),
        ("after", [*builtin, "wrapped_test"]),
    ]
    assert host.codes.get("wrapped_test").plugin == "wrap"


class RegulariserSpecs:
    @hookspec
    def register_regularisers_test(self, register):
        """A hook the owner plugin defines for others."""


@hookimpl
def register_regularisers_test(register):
    register("cyclical")


def owner_and_user() -> dict[str, types.ModuleType]:
    return {
        "owner": plugin("owner_xyz", hookspecs=RegulariserSpecs),
        "user": plugin(
            "user_xyz", requires=["owner"], register_regularisers_test=register_regularisers_test
        ),
    }


def test_a_plugin_adds_hook_specs_that_other_plugins_implement(installed) -> None:
    installed(**owner_and_user())
    host = PluginHost()
    host.load()
    assert host.failures == []
    found: list[str] = []
    host.manager.hook.register_regularisers_test(register=found.append)
    assert found == ["cyclical"]


def test_an_implementation_of_a_missing_plugins_hook_is_skipped_not_misspelled(
    installed, monkeypatch
) -> None:
    installed(**owner_and_user())
    monkeypatch.setenv(ENV_VAR, "user")
    host = PluginHost()
    host.load()
    assert [(f.name, f.error) for f in host.failures] == [
        ("user", "it requires plugin 'owner', which DISENTANGLE_PLUGINS leaves out")
    ]


def test_add_refuses_a_plugin_whose_requirement_is_not_loaded(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "codes")
    host = PluginHost()
    with pytest.raises(DisentangleError, match="requires plugin 'owner', which is not loaded"):
        host.add(owner_and_user()["user"], name="user")


def test_a_wrapper_on_a_hook_called_one_plugin_at_a_time_is_refused() -> None:
    class WrapsCommands:
        @hookimpl(wrapper=True)
        def register_commands(self, cli):
            yield

    host = PluginHost()
    with pytest.raises(DisentangleError, match="register_commands hook is a wrapper"):
        host.add(WrapsCommands(), name="wraps")
    assert "wraps" not in {p.name for p in host.loaded}


def test_a_cycle_is_reported_once_per_plugin(installed) -> None:
    installed(
        one=plugin("one_plugin_xyz", requires=["two"]),
        two=plugin("two_plugin_xyz", requires=["one"]),
    )
    host = PluginHost()
    host.load()
    assert sorted(f.name for f in host.failures) == ["one", "two"]


def test_adding_a_name_that_is_taken_leaves_the_plugin_that_has_it(monkeypatch) -> None:
    class Codes:
        @hookimpl
        def register_codes(self, register):
            register("taken_test", widget, Params)

    monkeypatch.setenv(ENV_VAR, "none")
    host = PluginHost()
    host.add(Codes(), name="mine")
    with pytest.raises(ValueError, match="already registered"):
        host.add(Codes(), name="mine")
    assert host.manager.has_plugin("mine") and "taken_test" in host.codes


def test_hookspecs_without_any_spec_fail_that_plugin_only(installed) -> None:
    installed(empty=plugin("empty_specs_xyz", hookspecs=object()))
    host = PluginHost()
    host.load()
    assert [f.name for f in host.failures] == ["empty"]
    assert "categorical" in host.codes
