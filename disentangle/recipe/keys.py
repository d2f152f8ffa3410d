"""Key paths of recipe data (`codes[1].k`) and `--set KEY=VALUE` overrides."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from disentangle.errors import Problem, RecipeError

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


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> None:
    """Apply `key.path=value` strings (as given to --set) to recipe data."""
    for text in overrides:
        set_dotted(data, *parse_override(text), source="--set")


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """' (did you mean 'cycle'?)' for the known key closest to a mistyped one, else ''."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def known_keys(model: type[BaseModel], loc: tuple[int | str, ...], data: Any) -> list[str]:
    """The keys the table at `loc[:-1]` allows (pydantic's location of an unknown key
    `loc[-1]`): the fields of the model there, a tagged union resolved by the table's `type`."""
    annotation: Any = model
    node = data
    for part in loc[:-1]:
        annotation = _resolve(annotation, node)
        if isinstance(node, dict) and part not in node and part == node.get("type"):
            continue  # a union member's tag in the location
        if isinstance(part, int):
            args = get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f for n, f in annotation.model_fields.items()}
            field = fields.get(str(part)) or annotation.model_fields.get(str(part))
            annotation = None if field is None else field.annotation
        else:
            return []
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    annotation = _resolve(annotation, node)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(f.alias or n for n, f in annotation.model_fields.items())
    return []


def _resolve(annotation: Any, node: Any) -> Any:
    """`annotation` without Annotated and None; of a union of tagged models, the one whose
    `type` the table names."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            tag = node.get("type") if isinstance(node, dict) else None
            for member in members:
                member = _resolve(member, node)
                field = getattr(member, "model_fields", {}).get("type")
                if field is not None and tag in get_args(field.annotation):
                    return member
            if len(members) != 1:
                return None
            annotation = members[0]
        else:
            return annotation
