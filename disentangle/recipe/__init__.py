"""Recipes: the TOML files that compose a run, validated into a typed `Recipe`.

Modules, from the bottom up: `sections` (the core's sections and the `Recipe` type), `keys`
(key paths and `--set` overrides), `moved` (keys that moved into [method]), `build` (the
components a recipe names, and the checks across them and the method), `model` (the recipe
model for the plugins loaded now, and `validate_recipe`), `files` (TOML files, variants,
`load_recipe`). Their public names are importable from here; they load on first use, so that
importing one module does not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "Recipe": "sections",
    "Section": "sections",
    "CodeFields": "sections",
    "BackboneFields": "sections",
    "DatasetFields": "sections",
    "Train": "sections",
    "Images": "sections",
    "Evaluate": "sections",
    "parse_key": "keys",
    "format_key": "keys",
    "set_dotted": "keys",
    "parse_override": "keys",
    "apply_overrides": "keys",
    "recipe_model": "model",
    "validate_recipe": "model",
    "validate_strictly": "model",
    "problems_of": "model",
    "key_path": "model",
    "to_data": "model",
    "recipe_schema": "model",
    "component_schemas": "model",
    "read_toml": "files",
    "read_recipe": "files",
    "split_variants": "files",
    "variants_of": "files",
    "load_recipe": "files",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(f"disentangle.recipe.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'disentangle.recipe' has no attribute {name!r}")
