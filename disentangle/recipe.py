"""Typed TOML recipes: the core's sections plus the union of every plugin's params.

The recipe model is built from the registries after plugins load, so a third-party code type
or backbone is as valid in a recipe as a built-in one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from disentangle.bounds import MAX_SEED, NAME_RULE, SAFE_NAME, Device, SafeName, at_most
from disentangle.build import check_compatible
from disentangle.errors import Problem, RecipeError
from disentangle.moved import DEFAULT_METHOD, code_params, method_entry, moved_problems
from disentangle.plugins import host, selection_note
from disentangle.registry import Choice, Registry, UnknownNameError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class CodeFields(Section):
    """Fields every latent code has, whatever its distribution and the method (a method may
    declare more: `Method.code_params`)."""

    name: Annotated[str | None, SafeName] = Field(
        None, description="label used in logs and file names (unique among the codes)"
    )


class BackboneFields(Section):
    latent_dim: int | None = Field(
        None, ge=1, description="if set, noise + code dims must add up to it"
    )


class DatasetFields(Section):
    value_range: tuple[float, float] | None = Field(
        None, description="range images are scaled to; default: the backbone's output range"
    )


class Train(Section):
    iterations: int = Field(5000, ge=1)
    batch_size: Annotated[int, at_most(1 << 16, "a larger batch would not fit in memory")] = Field(
        128, ge=2, description="the global batch (split among processes under torchrun)"
    )
    seed: int = Field(0, ge=0, le=MAX_SEED)
    device: Annotated[str, Device] = Field(
        "auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N, mps"
    )
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = Field(False, description="NHWC memory layout for convolutions")
    compile: bool = Field(False, description="torch.compile the method's networks")
    log_every: int = Field(50, ge=1, description="iterations between metrics.jsonl lines")
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(3, ge=1, description="how many recent checkpoints to keep")
    sample_every: int = Field(1000, ge=1, description="iterations between sample grids")
    tensorboard: bool = Field(
        True,
        description="also write TensorBoard event files to RUN/tensorboard/ (when the "
        "tensorboard package is installed)",
    )


_GRID = "a grid this large would not fit in memory"


class Images(Section):
    samples: Annotated[int, at_most(10_000, _GRID)] = Field(
        100, ge=1, description="images in a sample grid"
    )
    traversal_rows: Annotated[int, at_most(1_000, _GRID)] = Field(
        10, ge=1, description="rows (fixed noise and other codes)"
    )
    traversal_steps: Annotated[int, at_most(1_000, _GRID)] = Field(
        10, ge=2, description="columns for a continuous code"
    )
    traversal_range: tuple[float, float] = (-1.0, 1.0)

    @field_validator("traversal_range")
    @classmethod
    def _increasing(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("the low end must come first and be below the high end")
        return value


class Evaluate(Section):
    metrics: list[str] = Field(
        [], description="metrics computed when training ends, into eval.json (none: skip)"
    )
    fast: bool = Field(True, description="fewer samples per metric (disentangle eval --fast)")
    chance: bool = Field(True, description="also score noise: each metric's chance level")

    @field_validator("metrics")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        for name in names:
            try:
                host.metrics.get(name)
            except UnknownNameError as exc:
                raise ValueError(str(exc)) from None
        return names


def _nothing_registered(kind: str) -> Any:
    def fail(value: Any) -> Any:
        raise ValueError(
            f"no {kind} is registered: is a plugin missing? (disentangle plugins)"
            + selection_note()
        )

    return Annotated[Any, AfterValidator(fail)]


def _union(registry: Registry[Any], base: type[BaseModel] | None) -> Any:
    models = [e.spec_model(base) for e in registry.entries()]
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


def _method_union() -> Any:
    """The methods' params, each choice field validated by its registry's params."""
    models = []
    for entry in host.methods.entries():
        fields = {
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
        models.append(entry.spec_model(None, fields))
    if not models:
        return _nothing_registered(host.methods.kind)
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


def _code_base(method: str | None) -> type[BaseModel]:
    """The fields of each code table: the core's, and those the method declares
    (`Method.code_params`; every method's when `method` is None, for the schema; none for a
    method not registered, which the recipe's validation reports)."""
    if method is None:
        entries = host.methods.entries()
    else:
        entries = [host.methods.get(method)] if method in host.methods else []
    declared = [m for e in entries if (m := code_params(e)) is not None]
    if not declared:
        return CodeFields
    return create_model("CodeFields", __base__=(CodeFields, *dict.fromkeys(declared)))


def recipe_model(method: str | None = DEFAULT_METHOD) -> type[BaseModel]:
    """The Recipe model for the plugins loaded now, its code tables as `method` has them."""
    fields: dict[str, Any] = {
        "name": (
            Annotated[str, SafeName],
            Field("run", description="run name, the default output folder runs/NAME"),
        ),
        "description": (str, ""),
        "method": (
            _method_union(),
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
    return create_model("Recipe", __base__=Section, **fields)


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


def problems_of(err: ValidationError, data: Any) -> list[Problem]:
    """Pydantic's errors as recipe problems: TOML key paths, plain messages, bad values."""
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
            problems.append(Problem(where, "unknown key", value))
        else:
            problems.append(Problem(where, e["msg"].removeprefix("Value error, "), value))
    return problems


_PIECE = r"(?:[A-Za-z_][A-Za-z0-9_-]*|\d+)(?:\[\d+\])*"
_KEY = re.compile(rf"{_PIECE}(?:\.{_PIECE})*")


def parse_key(text: str, source: str) -> list[int | str]:
    """`codes[1].k` (or `codes.1.k`) -> ['codes', 1, 'k']; anything else is a RecipeError."""
    if not _KEY.fullmatch(text):
        problem = (
            "not a key path: expected keys and whole-number indices, "
            "e.g. train.seed, codes[1].k or codes.1.k"
        )
        raise RecipeError(source, [Problem(text, problem)])
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", text)]


def format_key(parts: list[int | str]) -> str:
    """['codes', 1, 'k'] -> 'codes[1].k'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def set_dotted(data: dict[str, Any], key: str, value: Any, source: str = "--set") -> None:
    """Set `a.b[1].c` in nested tables and arrays, creating tables as needed.

    An index may append one entry to an array (`codes[2]` of two codes adds a third); any
    other path that does not fit the data is a RecipeError naming it.
    """
    parts = parse_key(key, source)
    node: Any = data
    for depth, part in enumerate(parts):
        here = format_key(parts[:depth]) or "the recipe"
        last = depth == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                problem = f"{here} is {_kind(node)}, not an array: it has no index [{part}]"
                raise RecipeError(source, [Problem(key, problem)])
            if part > len(node):
                problem = f"{here} has {len(node)} entries; [{part}] is out of range"
                raise RecipeError(source, [Problem(key, problem)])
            if part == len(node):
                node.append({})
        elif not isinstance(node, dict):
            problem = f"{here} is {_kind(node)}, not a table: it has no key {part!r}"
            raise RecipeError(source, [Problem(key, problem)])
        if last:
            node[part] = value
        elif isinstance(node, dict) and part not in node:
            node[part] = [] if isinstance(parts[depth + 1], int) else {}
        node = node[part]


def _kind(node: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(node), "a number" if isinstance(node, int | float) else "a value")


def parse_override(text: str) -> tuple[str, Any]:
    """`train.seed=3` -> ("train.seed", 3); the value is read as TOML, else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError("--set", [Problem(text, "expected KEY=VALUE, e.g. train.seed=3")])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def recipe_schema() -> dict[str, Any]:
    """The JSON Schema of recipe files for the plugins loaded now: every component's params
    with their descriptions, defaults and bounds, tagged unions by `type`, and `[variants]`."""
    schema = recipe_model(None).model_json_schema(by_alias=True)
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


def read_toml(path: Path) -> dict[str, Any]:
    """A recipe file's tables; every way the file can be unreadable is a RecipeError."""
    if path.is_dir():
        raise RecipeError(str(path), [Problem("file", "is a folder, not a recipe file")])
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError(str(path), [Problem("file", "no such recipe file")]) from None
    except OSError as exc:
        raise RecipeError(str(path), [Problem("file", f"cannot be read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}): TOML recipes are UTF-8 files"
        raise RecipeError(str(path), [Problem("file", problem)]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(str(path), [Problem("TOML syntax", str(exc))]) from None


def validate_recipe(data: Any, source: str = "recipe") -> BaseModel:
    """Validate recipe data; every problem is collected into one RecipeError: the model's,
    keys that moved into [method], what the components cannot do together and what the method
    refuses (`Method.problems`)."""
    rest, problems = moved_problems(data)
    if isinstance(rest, dict) and isinstance(rest.get("method"), dict):
        rest["method"] = {"type": DEFAULT_METHOD, **rest["method"]}  # a table without a type
    entry = method_entry(rest)
    try:
        recipe = recipe_model("" if entry is None else entry.name).model_validate(rest)
    except ValidationError as err:
        raise RecipeError(source, problems + problems_of(err, rest)) from None
    problems += check_compatible(recipe)
    if problems:
        raise RecipeError(source, problems)
    return recipe


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> None:
    """Apply `key.path=value` strings (as given to --set) to recipe data."""
    for text in overrides:
        set_dotted(data, *parse_override(text), source="--set")


def split_variants(data: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Remove and check a recipe's `[variants]`: named tables of key paths and values."""
    variants = data.pop("variants", {})
    if not isinstance(variants, dict):
        problem = "must be a table of [variants.NAME] tables"
        raise RecipeError(source, [Problem("variants", problem, repr(variants))])
    problems = []
    for name, table in variants.items():
        if not SAFE_NAME.fullmatch(name):
            problems.append(Problem(f"variants.{name}", f"a variant's name {NAME_RULE}"))
        elif not isinstance(table, dict):
            problem = 'must be a table of key paths and values, e.g. "train.seed" = 3'
            problems.append(Problem(f"variants.{name}", problem, repr(table)))
    if problems:
        raise RecipeError(source, problems)
    return variants


def variants_of(path: str | Path) -> list[str]:
    """The names of a recipe file's `[variants.NAME]` tables."""
    return sorted(split_variants(read_toml(Path(path)), str(path)))


def load_recipe(
    path: str | Path, overrides: Iterable[str] = (), variant: str | None = None
) -> BaseModel:
    """Read a TOML recipe, apply a named variant and `key=value` overrides, and validate it.

    A variant is a `[variants.NAME]` table of dotted key paths and values (e.g.
    `"train.seed" = 3`); its run is named `NAME-VARIANT` unless the variant sets `name`.
    """
    path = Path(path)
    data = read_toml(path)
    variants = split_variants(data, str(path))
    data.setdefault("name", path.stem)
    if variant is not None:
        if variant not in variants:
            listed = ", ".join(sorted(variants)) or "none"
            raise RecipeError(
                str(path),
                [Problem("variants", f"no variant {variant!r}; the recipe has: {listed}")],
            )
        data["name"] = f"{data['name']}-{variant}"
        for key, value in variants[variant].items():
            set_dotted(data, key, value, source=f"{path} [variants.{variant}]")
    apply_overrides(data, overrides)
    return validate_recipe(data, str(path) if variant is None else f"{path} (variant {variant})")


def to_data(recipe: BaseModel) -> dict[str, Any]:
    """The resolved recipe as plain data (the form stored in run folders)."""
    return recipe.model_dump(mode="json", by_alias=True)
