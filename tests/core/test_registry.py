"""The generic registry: names, typed params, unknown-name errors, spec models and building."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel, ValidationError

from disentangle import Params
from disentangle.errors import DisentangleError
from disentangle.registry import Registry, UnknownNameError


class WidthParams(Params):
    width: int = 3


@dataclass
class Thing:
    width: int
    extra: str = ""


def make_thing(spec: WidthParams, extra: str = "") -> Thing:
    return Thing(spec.width, extra)


@pytest.fixture
def registry() -> Registry[Thing]:
    reg: Registry[Thing] = Registry("widget")
    for name in ("uniform", "categorical", "gaussian", "gumbel"):
        reg.register(name, make_thing, WidthParams, provider="tests", version="1.2")
    return reg


def test_register_and_get(registry: Registry[Thing]) -> None:
    entry = registry.get("gaussian")
    assert entry.name == "gaussian"
    assert entry.factory is make_thing
    assert entry.params is WidthParams
    assert (entry.provider, entry.version) == ("tests", "1.2")
    assert "gaussian" in registry
    assert "student_t" not in registry


def test_names_sorted_and_glob(registry: Registry[Thing]) -> None:
    assert registry.names() == sorted(["uniform", "categorical", "gaussian", "gumbel"])
    assert registry.names("g*") == ["gaussian", "gumbel"]
    assert registry.names("*al") == ["categorical"]
    assert registry.names("?umbel") == ["gumbel"]
    assert registry.names("nothing*") == []
    assert [e.name for e in registry.entries()] == registry.names()


def test_taken_name_raises(registry: Registry[Thing]) -> None:
    with pytest.raises(DisentangleError, match=r"already registered by tests.*override=True"):
        registry.register("uniform", make_thing, WidthParams)
    assert registry.get("uniform").provider == "tests"


def test_override_replaces(registry: Registry[Thing]) -> None:
    def other(spec: WidthParams) -> Thing:
        return Thing(-1)

    registry.register("uniform", other, WidthParams, override=True, provider="mine")
    entry = registry.get("uniform")
    assert entry.factory is other
    assert entry.provider == "mine"
    assert registry.names().count("uniform") == 1


def test_unregister(registry: Registry[Thing]) -> None:
    registry.unregister("gumbel")
    assert "gumbel" not in registry
    registry.unregister("gumbel")  # absent names are ignored


def test_unknown_name_message(registry: Registry[Thing]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("gausian")
    err = info.value
    assert isinstance(err, DisentangleError)
    assert isinstance(err, KeyError)
    message = str(err)
    assert message.startswith("unknown widget 'gausian'")
    assert "Did you mean 'gaussian'" in message
    assert "Available: " + ", ".join(registry.names()) in message
    assert err.kind == "widget"
    assert err.name == "gausian"
    assert err.suggestions[0] == "gaussian"
    assert err.available == registry.names()


def test_unknown_name_without_close_match(registry: Registry[Thing]) -> None:
    with pytest.raises(UnknownNameError) as info:
        registry.get("zzzzzz")
    assert "Did you mean" not in str(info.value)
    assert info.value.suggestions == []
    for name in registry.names():
        assert name in str(info.value)


def test_unknown_name_in_empty_registry() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown metric 'fid'\..*none"):
        Registry("metric").get("fid")


@pytest.mark.parametrize("params", [dict, BaseModel, int, "WidthParams", WidthParams()])
def test_params_must_subclass_params(registry: Registry[Thing], params: object) -> None:
    with pytest.raises(DisentangleError, match=r"must subclass disentangle\.Params"):
        registry.register("student_t", make_thing, params)  # type: ignore[arg-type]
    assert "student_t" not in registry


@pytest.mark.parametrize("name", ["two words", "1st", "with-dash", ""])
def test_name_must_be_identifier(registry: Registry[Thing], name: str) -> None:
    with pytest.raises(DisentangleError, match="identifier"):
        registry.register(name, make_thing, WidthParams)


def test_spec_model_adds_type_tag_and_forbids_extras(registry: Registry[Thing]) -> None:
    model = registry.get("gumbel").spec_model()
    spec = model(type="gumbel", width=5)
    assert isinstance(spec, WidthParams)
    assert (spec.type, spec.width) == ("gumbel", 5)
    assert model(type="gumbel").width == WidthParams().width
    with pytest.raises(ValidationError, match="type"):
        model(type="uniform")
    with pytest.raises(ValidationError, match="type"):
        model(width=5)
    with pytest.raises(ValidationError, match="extra"):
        model(type="gumbel", widht=5)


def test_spec_model_with_base_fields(registry: Registry[Thing]) -> None:
    class Labelled(BaseModel):
        label: str = "none"

    model = registry.get("gumbel").spec_model(Labelled)
    spec = model(type="gumbel", label="c1")
    assert (spec.label, spec.width) == ("c1", WidthParams().width)
    with pytest.raises(ValidationError, match="extra"):
        model(type="gumbel", labl="c1")


def test_build_calls_factory_with_spec_and_args(registry: Registry[Thing]) -> None:
    spec = registry.get("categorical").spec_model()(type="categorical", width=7)
    assert registry.build(spec) == Thing(7)
    assert registry.build(spec, "a") == Thing(7, "a")
    assert registry.build(spec, extra="b") == Thing(7, "b")


def test_build_unknown_type(registry: Registry[Thing]) -> None:
    spec = registry.get("categorical").spec_model()(type="categorical")
    registry.unregister("categorical")
    with pytest.raises(UnknownNameError, match="categorical"):
        registry.build(spec)


def test_loader_runs_once_on_first_lookup() -> None:
    calls: list[int] = []
    reg: Registry[Thing] = Registry("widget", loader=lambda: calls.append(1))
    assert calls == []
    reg.register("a", make_thing, WidthParams)
    assert calls == []  # registering does not load
    assert reg.names() == ["a"]
    assert "a" in reg
    reg.get("a")
    assert calls == [1]


def test_build_by_name_validates_the_params(registry: Registry[Thing]) -> None:
    assert registry.build("categorical", width=7) == Thing(7)
    assert registry.build("categorical", "a", width=7) == Thing(7, "a")
    with pytest.raises(
        DisentangleError, match=r"'categorical': widht: unknown key \(did you mean 'width'\?\)"
    ):
        registry.build("categorical", widht=7)
    with pytest.raises(UnknownNameError, match="Did you mean 'categorical'"):
        registry.build("categorica")


def test_build_with_params_lacking_the_type_says_how(registry: Registry[Thing]) -> None:
    with pytest.raises(DisentangleError, match=r"WidthParams has no `type`: .*build\('NAME'"):
        registry.build(WidthParams(width=3))  # type: ignore[arg-type]


def test_the_public_registries_build_components_by_name() -> None:
    import disentangle

    assert disentangle.codes.build("gaussian", dim=2).dim == 2
    assert type(disentangle.metrics.build("mig", bins=30)).__name__ == "MIG"
