"""Typed TOML recipes: the core's sections plus the union of every plugin's params.

The recipe model is built from the registries after plugins load, so a third-party code type
or backbone is as valid in a recipe as a built-in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import tomllib
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from disentangle.errors import Problem, RecipeError
from disentangle.plugins import host
from disentangle.registry import Registry, UnknownNameError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CodeFields(Section):
    """Fields every inferred latent code has, whatever its distribution."""

    name: str | None = Field(None, description="label used in logs and figures")
    lambda_: float = Field(1.0, alias="lambda", ge=0, description="weight of this code's L_I")


class BackboneFields(Section):
    latent_dim: int | None = Field(
        None, ge=1, description="if set, noise + code dims must add up to it"
    )


class DatasetFields(Section):
    value_range: tuple[float, float] | None = Field(
        None, description="range images are scaled to; default: the backbone's output range"
    )


class Optim(Section):
    lr_d: float = Field(2e-4, gt=0, description="Adam lr of D, its trunk and Q's head")
    lr_g: float = Field(1e-3, gt=0, description="Adam lr of G")
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)


class Train(Section):
    iterations: int = Field(5000, ge=1)
    batch_size: int = Field(128, ge=2)
    seed: int = 0
    device: str = Field("auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N")
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = Field(False, description="NHWC memory layout for convolutions")
    compile: bool = Field(False, description="torch.compile G, D's trunk and heads")
    log_every: int = Field(50, ge=1, description="iterations between metrics.jsonl lines")
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(3, ge=1, description="how many recent checkpoints to keep")
    sample_every: int = Field(1000, ge=1, description="iterations between sample grids")


class Images(Section):
    samples: int = Field(100, ge=1, description="images in a sample grid")
    traversal_rows: int = Field(10, ge=1, description="rows (fixed noise and other codes)")
    traversal_steps: int = Field(10, ge=2, description="columns for a continuous code")
    traversal_range: tuple[float, float] = (-1.0, 1.0)


def _nothing_registered(kind: str) -> Any:
    def fail(value: Any) -> Any:
        raise ValueError(f"no {kind} is registered: is a plugin missing? (disentangle plugins)")

    return Annotated[Any, AfterValidator(fail)]


def _union(registry: Registry[Any], base: type[BaseModel] | None) -> Any:
    models = [e.spec_model(base) for e in registry.entries()]
    if not models:
        return _nothing_registered(registry.kind)
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


def recipe_model() -> type[BaseModel]:
    """The Recipe model for the plugins loaded now."""
    fields: dict[str, Any] = {
        "name": (str, Field("run", description="run name, the default output folder")),
        "description": (str, ""),
        "noise": (_union(host.codes, None), ...),
        "codes": (list[_union(host.codes, CodeFields)], []),  # type: ignore[misc]
        "backbone": (_union(host.backbones, BackboneFields), ...),
        "dataset": (_union(host.datasets, DatasetFields), ...),
        "estimator": (
            _union(host.estimators, None),
            Field({"type": "variational"}, validate_default=True),
        ),
        "optim": (Optim, Optim()),
        "train": (Train, Train()),
        "images": (Images, Images()),
    }
    return create_model("Recipe", __base__=Section, **fields)


# which registry a top-level key's `type` names, for unknown-name suggestions
_REGISTRY_OF = {
    "noise": "codes",
    "codes": "codes",
    "backbone": "backbones",
    "dataset": "datasets",
    "estimator": "estimators",
}


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
    return out


def problems_of(err: ValidationError, data: Any) -> list[Problem]:
    """Pydantic's errors as recipe problems: TOML key paths, plain messages, bad values."""
    problems = []
    for e in err.errors():
        where = key_path(e["loc"], data)
        tagged = e["type"] == "union_tag_invalid"
        if tagged or (e["type"] == "literal_error" and e["loc"][-1] == "type"):
            tag = e["ctx"]["tag"] if tagged else e["input"]
            registry = host.registries[_REGISTRY_OF[str(e["loc"][0])]]
            message = str(UnknownNameError(registry.kind, str(tag), registry.names()))
            problems.append(Problem(where if where.endswith(".type") else f"{where}.type", message))
            continue
        if e["type"] == "union_tag_not_found":
            names = ", ".join(host.registries[_REGISTRY_OF[str(e["loc"][0])]].names())
            problems.append(Problem(f"{where}.type", f"missing; one of: {names}"))
            continue
        value = None if e["type"] == "missing" else repr(e["input"])
        if e["type"] == "extra_forbidden":
            problems.append(Problem(where, "unknown key", value))
        else:
            problems.append(Problem(where, e["msg"].removeprefix("Value error, "), value))
    return problems


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b[1].c` in nested dicts/lists, creating tables as needed."""
    node: Any = data
    parts = _split_key(dotted)
    for part, following in pairwise(parts):
        if isinstance(part, int):
            node = node[part]
        else:
            node = node.setdefault(part, [] if isinstance(following, int) else {})
    node[parts[-1]] = value


def _split_key(dotted: str) -> list[int | str]:
    parts: list[int | str] = []
    for piece in dotted.split("."):
        name, *indices = piece.replace("]", "").split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    return parts


def parse_override(text: str) -> tuple[str, Any]:
    """`optim.lr_g=5e-4` -> ('optim.lr_g', 0.0005); the value is read as TOML, else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError("--set", [Problem(text, "expected KEY=VALUE, e.g. optim.lr_g=5e-4")])
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RecipeError(str(path), [Problem("file", "no such recipe file")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(str(path), [Problem("TOML syntax", str(exc))]) from None


def validate_recipe(data: dict[str, Any], source: str = "recipe") -> BaseModel:
    """Validate a recipe dict; every problem is collected into one RecipeError."""
    try:
        recipe = recipe_model().model_validate(data)
    except ValidationError as err:
        raise RecipeError(source, problems_of(err, data)) from None
    from disentangle.build import check_compatible

    problems = check_compatible(recipe)
    if problems:
        raise RecipeError(source, problems)
    return recipe


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> None:
    """Apply `key.path=value` strings (as given to --set) to recipe data."""
    for text in overrides:
        _set(data, *parse_override(text), source="--set")


def _set(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    try:
        set_dotted(data, key, value)
    except (IndexError, KeyError, TypeError, ValueError):
        raise RecipeError(source, [Problem(key, "no such key path in the recipe")]) from None


def variants_of(path: str | Path) -> list[str]:
    """The names of a recipe file's `[variants.NAME]` tables."""
    return sorted(read_toml(Path(path)).get("variants", {}))


def load_recipe(
    path: str | Path, overrides: Iterable[str] = (), variant: str | None = None
) -> BaseModel:
    """Read a TOML recipe, apply a named variant and `key=value` overrides, and validate it.

    A variant is a `[variants.NAME]` table of dotted key paths and values (e.g.
    `"optim.lr_d" = 4e-4`); its run is named `NAME-VARIANT` unless the variant sets `name`.
    """
    path = Path(path)
    data = read_toml(path)
    variants = data.pop("variants", {})
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
            _set(data, key, value, source=f"{path} [variants.{variant}]")
    apply_overrides(data, overrides)
    return validate_recipe(data, str(path) if variant is None else f"{path} (variant {variant})")


def to_data(recipe: BaseModel) -> dict[str, Any]:
    """The resolved recipe as plain data (the form stored in run folders)."""
    return recipe.model_dump(mode="json", by_alias=True)
