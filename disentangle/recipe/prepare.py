"""A dataset on its own, outside a recipe: its params validated as a recipe's `[dataset]`
would be, then loaded (for `disentangle data` and the download command)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from disentangle.components import ImageData
from disentangle.errors import RecipeError
from disentangle.plugins import host
from disentangle.recipe import DatasetFields, apply_overrides, problems_of, validate_strictly


def prepare_dataset(name: str, root: str | None, overrides: list[str]) -> ImageData:
    """Validate a dataset's params (`root` plus `key=value` strings) and load it once."""
    data: dict[str, Any] = {"type": name} if root is None else {"type": name, "root": root}
    apply_overrides(data, overrides)
    model = host.datasets.get(name).spec_model(DatasetFields)
    try:
        spec = validate_strictly(model, data)
    except ValidationError as err:
        raise RecipeError(f"dataset {name!r}", problems_of(err, data, model)) from None
    return host.datasets.build(spec).load()
