"""The recipe model for the plugins loaded now, and validation: pydantic's problems as TOML key
paths, keys that moved into [method], and the checks that span components and the method."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union

from pydantic import AfterValidator, BaseModel, Field, ValidationError, create_model

from disentangle.bounds import SafeName
from disentangle.errors import Problem, RecipeError
from disentangle.plugins import host, selection_note
from disentangle.recipe.build import check_compatible
from disentangle.recipe.keys import did_you_mean, known_keys
from disentangle.recipe.moved import DEFAULT_METHOD, code_params, method_entry, moved_problems
from disentangle.recipe.sections import (
    BackboneFields,
    CodeFields,
    DatasetFields,
    Evaluate,
    Images,
    Recipe,
    Train,
)
from disentangle.registry import Choice, Entry, Registry, UnknownNameError

M = TypeVar("M", bound=BaseModel)


def _nothing_registered(kind: str) -> Any:
    def fail(value: Any) -> Any:
        raise ValueError(
            f"no {kind} is registered: is a plugin missing? (disentangle plugins)"
            + selection_note()
        )

    return Annotated[Any, AfterValidator(fail)]


def _union(
    registry: Registry[Any],
    base: type[BaseModel] | None,
    fields: Callable[[Entry[Any]], dict[str, Any]] | None = None,
) -> Any:
    """A discriminated union (by `type`) of the registry's params models, each with `base`'s
    fields and `fields(entry)` in place of its own of the same names."""
    models = [e.spec_model(base, fields(e) if fields else None) for e in registry.entries()]
    if not models:
        return _nothing_registered(registry.kind)
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


def choices(params: type[BaseModel]) -> dict[str, Choice]:
    """The params' fields whose value is a component of another registry, by field name."""
    return {
        name: marker
        for name, field in params.model_fields.items()
        for marker in field.metadata
        if isinstance(marker, Choice)
    }


def _choice_fields(entry: Entry[Any]) -> dict[str, Any]:
    """A method's choice fields, each validated by its registry's params."""
    return {
        name: (
            _union(host.registries[choice.registry], None),
            Field(
                entry.params.model_fields[name].default,
                validate_default=True,
                description=entry.params.model_fields[name].description,
            ),
        )
        for name, choice in choices(entry.params).items()
    }


def _code_base(method: str | None) -> type[BaseModel]:
    """The fields of each code table: the core's, and those the registered `method` declares
    (`Method.code_params`); every method's when `method` is None (the schema, or a recipe whose
    method is not known, whose validation then reports that)."""
    entries = host.methods.entries() if method is None else [host.methods.get(method)]
    declared = [m for e in entries if (m := code_params(e)) is not None]
    if not declared:
        return CodeFields
    return create_model("CodeFields", __base__=(CodeFields, *dict.fromkeys(declared)))


def recipe_model(method: str | None) -> type[Recipe]:
    """The Recipe model for the plugins loaded now, its code tables as the registered `method`
    has them (as any method may, for None)."""
    fields: dict[str, Any] = {
        "name": (
            Annotated[str, SafeName],
            Field("run", description="run name, the default output folder runs/NAME"),
        ),
        "description": (str, ""),
        "method": (
            _union(host.methods, None, _choice_fields),
            Field({"type": DEFAULT_METHOD}, validate_default=True),
        ),
        "noise": (_union(host.codes, None), ...),
        "codes": (list[_union(host.codes, _code_base(method))], []),  # type: ignore[misc]
        "backbone": (_union(host.backbones, BackboneFields), ...),
        "dataset": (_union(host.datasets, DatasetFields), ...),
        "train": (Train, Train()),
        "images": (Images, Images()),
        "evaluate": (Evaluate, Evaluate()),
    }
    return create_model("Recipe", __base__=Recipe, **fields)


# which registry a top-level key's `type` names, for unknown-name suggestions
_REGISTRY_OF = {
    "method": "methods",
    "noise": "codes",
    "codes": "codes",
    "backbone": "backbones",
    "dataset": "datasets",
}


def _registry_at(where: str) -> Registry[Any]:
    """The registry whose names the table at a key path takes (`method.estimator` too)."""
    parts = re.sub(r"\[\d+\]", "", where).removesuffix(".type").split(".")
    if parts[0] == "method" and len(parts) > 1:
        for entry in host.methods.entries():
            choice = choices(entry.params).get(parts[1])
            if choice is not None:
                return host.registries[choice.registry]
    return host.registries[_REGISTRY_OF[parts[0]]]


def key_path(loc: tuple[int | str, ...], data: Any) -> str:
    """A pydantic location as a TOML key path: ('codes', 1, 'k') -> 'codes[1].k'.

    Union members show up in locations as their tag (the table's `type`); they are skipped.
    """
    out, node = "", data
    for part in loc:
        if isinstance(node, dict) and part not in node and part == node.get("type"):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return out or "recipe"


def problems_of(
    err: ValidationError, data: Any, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Pydantic's errors as recipe problems: TOML key paths, plain messages, bad values; an
    unknown key with the one meant, when `model` (the model that raised) is given."""
    problems = []
    for e in err.errors():
        where = key_path(e["loc"], data)
        tagged = e["type"] == "union_tag_invalid"
        if tagged or (e["type"] == "literal_error" and e["loc"][-1] == "type"):
            tag = e["ctx"]["tag"] if tagged else e["input"]
            registry = _registry_at(where)
            message = str(UnknownNameError(registry.kind, str(tag), registry.names()))
            problems.append(Problem(where if where.endswith(".type") else f"{where}.type", message))
            continue
        if e["type"] == "union_tag_not_found":
            names = ", ".join(_registry_at(where).names())
            problems.append(Problem(f"{where}.type", f"missing; one of: {names}"))
            continue
        value = None if e["type"] == "missing" else repr(e["input"])
        if e["type"] == "extra_forbidden":
            known = known_keys(model, e["loc"], data) if model is not None else []
            problems.append(
                Problem(where, f"unknown key{did_you_mean(str(e['loc'][-1]), known)}", value)
            )
        else:
            problems.append(Problem(where, e["msg"].removeprefix("Value error, "), value))
    return problems


def validate_strictly(model: type[M], data: Any) -> M:
    """`data` validated by `model` with pydantic's strict types: a string is never read as a
    number or a boolean, nor a float as an integer (an integer where a float belongs is fine).
    Validated as JSON, so that tables still become tuples, paths and enums."""
    return model.model_validate_json(json.dumps(data, default=str), strict=True)


def validate_recipe(data: Any, source: str = "recipe") -> Recipe:
    """Validate recipe data; every problem is collected into one RecipeError: the model's,
    keys that moved into [method], what the components cannot do together and what the method
    refuses (`Method.problems`)."""
    rest, problems = moved_problems(data)
    if isinstance(rest, dict) and isinstance(rest.get("method"), dict):
        rest["method"] = {"type": DEFAULT_METHOD, **rest["method"]}  # a table without a type
    entry = method_entry(rest)
    model = recipe_model(None if entry is None else entry.name)
    try:
        recipe = validate_strictly(model, rest)
    except ValidationError as err:
        raise RecipeError(source, problems + problems_of(err, rest, model)) from None
    problems += check_compatible(recipe)
    if problems:
        raise RecipeError(source, problems)
    return recipe


def to_data(recipe: Recipe) -> dict[str, Any]:
    """The resolved recipe as plain data (the form stored in run folders)."""
    return recipe.model_dump(mode="json", by_alias=True)


def recipe_schema() -> dict[str, Any]:
    """The JSON Schema of recipe files for the plugins loaded now: every component's params
    with their descriptions, defaults and bounds, tagged unions by `type`, and `[variants]`."""
    schema = recipe_model(None).model_json_schema(by_alias=True)
    schema["properties"]["extends"] = {
        "description": "the recipe this one is on top of: a path relative to this file",
        "type": "string",
    }
    # what a recipe must hold, it may hold through the recipe it extends
    schema["if"], schema["else"] = {"required": ["extends"]}, {"required": schema.pop("required")}
    schema["properties"]["variants"] = {
        "description": "named variants: [variants.NAME] tables of key paths and values",
        "type": "object",
        "additionalProperties": {"type": "object"},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "disentangle recipe",
    }


def component_schemas() -> dict[str, dict[str, Any]]:
    """Each registered component's params schema, by registry and name, with its plugin."""
    return {
        kind: {
            name: {
                "plugin": registry.get(name).provider,
                "params": registry.get(name).spec_model().model_json_schema(by_alias=True),
            }
            for name in registry.names()
        }
        for kind, registry in host.registries.items()
    }
