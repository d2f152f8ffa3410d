"""Published numbers that plugins keep as data, for reports to set beside measured ones.

A plugin implements the `published_results()` hook and returns `Published` records (or
mappings with their fields); the plugin that owns an experiment keeps its literature numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from disentangle.bounds import SAFE_NAME
from disentangle.errors import DisentangleError
from disentangle.plugins import host

NAME = f"^{SAFE_NAME.pattern}$"


class Published(BaseModel):
    """One number from the literature: which experiment, which score, and where it is printed."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    dataset: str = Field(pattern=NAME, description="the registered dataset it was measured on")
    method: str = Field(min_length=1, description="the model as its source names it")
    metric: str = Field(pattern=NAME, description="the registered metric")
    score: str = Field(pattern=NAME, description="the score of that metric")
    value: float
    source: str = Field(min_length=1, description="paper and table (or page) it is printed in")
    note: str = Field("", description="how it was measured, where that differs from ours")


def published(dataset: str | None = None) -> list[Published]:
    """Every plugin's published numbers, or those measured on `dataset`."""
    host.load()
    found: list[Published] = []
    for impl in reversed(host.manager.hook.published_results.get_hookimpls()):  # pluggy's order
        found += _validated(impl.plugin_name, impl.function)
    return [p for p in found if dataset is None or p.dataset == dataset]


def _validated(
    plugin: str, hook: Callable[[], Iterable[Published | Mapping[str, Any]]]
) -> list[Published]:
    """A plugin's records as `Published` (a record that already is one passes unchanged)."""
    try:
        records = list(hook())
    except Exception as exc:  # a broken plugin is named, not a traceback
        raise DisentangleError(
            f"plugin {plugin!r}: published_results() failed: {type(exc).__name__}: {exc}"
        ) from None
    out = []
    for i, record in enumerate(records):
        try:
            out.append(Published.model_validate(record))
        except ValidationError as err:
            wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise DisentangleError(
                f"plugin {plugin!r}: published result {i} is not valid ({wrong})"
            ) from None
    return out
