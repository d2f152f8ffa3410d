"""Recipe files: TOML read with every failure as a RecipeError, `extends` (a recipe on top of
another), named variants, and `load_recipe` (a file, a variant and overrides, validated)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from disentangle.bounds import NAME_RULE, SAFE_NAME
from disentangle.errors import Problem, RecipeError
from disentangle.recipe.keys import apply_overrides, set_dotted
from disentangle.recipe.model import validate_recipe
from disentangle.recipe.sections import Recipe


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


def read_recipe(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe file's tables on top of those of the recipe it `extends` (a path relative to
    it): a table is merged key by key, unless its `type` differs (then it replaces the base's,
    as an array does); `name` is the file's own, or its stem. A cycle is an error."""
    data = read_toml(path)
    data.setdefault("name", path.stem)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        problem = "must be the path of a recipe file, relative to this one"
        raise RecipeError(str(path), [Problem("extends", problem, repr(base))])
    here, target = path.resolve(), (path.parent / base).resolve()
    if target in (*chain, here):
        cycle = " → ".join(p.name for p in (*chain, here, target))
        raise RecipeError(str(path), [Problem("extends", f"recipes extend each other: {cycle}")])
    return merged(read_recipe(target, (*chain, here)), data)


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base` (see read_recipe)."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            same = below.get("type") == value.get("type") or "type" not in value
            out[key] = merged(below, value) if same else value
        else:
            out[key] = value
    return out


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
    return sorted(split_variants(read_recipe(Path(path)), str(path)))


def load_recipe(
    path: str | Path, overrides: Iterable[str] = (), variant: str | None = None
) -> Recipe:
    """Read a TOML recipe, apply a named variant and `key=value` overrides, and validate it.

    A variant is a `[variants.NAME]` table of dotted key paths and values (e.g.
    `"train.seed" = 3`); its run is named `NAME-VARIANT` unless the variant sets `name`.
    """
    path = Path(path)
    data = read_recipe(path)
    variants = split_variants(data, str(path))
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
