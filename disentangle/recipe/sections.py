"""The recipe's core sections, and the validated recipe as a type checker sees it.

The model that validates a recipe is built from the registries once plugins have loaded
(disentangle/recipe/model.py); it subclasses `Recipe`, narrowing the component tables to the
registered components' params. The sections every method shares are typed here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from disentangle.bounds import MAX_SEED, Device, SafeName, at_most
from disentangle.errors import RecipeError
from disentangle.recipe.metric_specs import metric_specs


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
    channels_last: bool | Literal["auto"] = Field(
        "auto",
        description="NHWC memory layout for convolutions; auto: on for bf16 networks with "
        "convolutions (measured faster there: docs/benchmarks.md), off otherwise",
    )
    compile: bool = Field(
        False, description="torch.compile the parts of the step each method marks (its losses)"
    )
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
    metrics: list[str | dict[str, Any]] = Field(
        [],
        description="metrics computed when training ends, into eval.json (none: skip): a "
        'name, or a table with its type and params, e.g. {type = "mig", bins = 30}',
    )
    fast: bool = Field(True, description="fewer samples per metric (disentangle eval --fast)")
    chance: bool = Field(True, description="also score noise: each metric's chance level")

    @field_validator("metrics")
    @classmethod
    def _registered(cls, items: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        try:
            metric_specs(list(items), "metrics")
        except RecipeError as exc:
            raise ValueError("; ".join(str(p) for p in exc.problems)) from None
        return items


class Recipe(Section):
    """A validated recipe. The component tables (`method`, `noise`, `codes`, `backbone`,
    `dataset`) hold the params of whichever registered component each names, known at run
    time; the sections every method shares are typed."""

    name: str = "run"
    description: str = ""
    method: Any
    noise: Any
    codes: list[Any] = []
    backbone: Any
    dataset: Any
    train: Train = Train()
    images: Images = Images()
    evaluate: Evaluate = Evaluate()
