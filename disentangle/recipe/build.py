"""Components built from a validated recipe, and the checks that span several of them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from disentangle.components import Backbone, Dataset, LatentCode
from disentangle.contract import class_problems
from disentangle.errors import DisentangleError, Problem
from disentangle.layout import Layout
from disentangle.plugins import host
from disentangle.recipe.sections import Recipe


@dataclass
class Components:
    """Everything a run is made of, before any network is built."""

    noise: LatentCode
    codes: list[LatentCode]
    code_names: list[str]
    backbone: Backbone
    dataset: Dataset
    #: the range images are scaled to: the recipe's, else the backbone's output range
    value_range: tuple[float, float]

    @cached_property
    def layout(self) -> Layout:
        """Where the noise and each code sit in G's input, Q's output and the
        representation."""
        return Layout.of(self.noise, self.codes, self.code_names)

    @property
    def latent_dim(self) -> int:
        return self.layout.input_dim

    @property
    def q_dim(self) -> int:
        return self.layout.q_dim


def code_label(spec: Any, index: int) -> str:
    return spec.name or f"c{index + 1}_{spec.type}"


def _build(where: str, registry: Any, spec: BaseModel, problems: list[Problem]) -> Any:
    try:
        return registry.build(spec)
    except (DisentangleError, ValueError) as exc:
        problems.append(Problem(where, str(exc)))
        return None


def _build_all(recipe: Recipe) -> tuple[Components | None, list[Problem]]:
    problems: list[Problem] = []
    noise = _build("noise", host.codes, recipe.noise, problems)
    codes = [_build(f"codes[{i}]", host.codes, c, problems) for i, c in enumerate(recipe.codes)]
    backbone = _build("backbone", host.backbones, recipe.backbone, problems)
    dataset = _build("dataset", host.datasets, recipe.dataset, problems)
    if problems:
        return None, problems
    comps = Components(
        noise=noise,
        codes=codes,
        code_names=[code_label(c, i) for i, c in enumerate(recipe.codes)],
        backbone=backbone,
        dataset=dataset,
        value_range=tuple(recipe.dataset.value_range or backbone.output_range),
    )
    return comps, problems


def check_compatible(recipe: Recipe) -> list[Problem]:
    """Problems between components: shapes, value ranges, latent sizes."""
    comps, problems = _build_all(recipe)
    if comps is None:
        return problems
    seen: dict[str, int] = {}
    for i, name in enumerate(comps.code_names):
        if name in seen:
            problems.append(
                Problem(
                    f"codes[{i}].name",
                    f"codes[{seen[name]}] has the same name; code names must be unique "
                    "(they name the code's metrics and files)",
                    repr(name),
                )
            )
        seen.setdefault(name, i)
    for i, code in enumerate(comps.codes):
        if code.dim == 0:
            problems.append(
                Problem(
                    f"codes[{i}].dim",
                    "a code's dimension must be at least 1 (dim = 0 is for [noise] only: a "
                    "recipe without noise)",
                    "0",
                )
            )
    bb, ds = comps.backbone, comps.dataset
    value_range = comps.value_range
    if tuple(bb.image_shape) != tuple(ds.image_shape):
        problems.append(
            Problem(
                "backbone.type",
                f"backbone {recipe.backbone.type!r} makes {_shape(bb.image_shape)} images but "
                f"dataset {recipe.dataset.type!r} gives {_shape(ds.image_shape)}",
            )
        )
    if tuple(bb.output_range) != value_range:
        problems.append(
            Problem(
                "dataset.value_range",
                f"backbone {recipe.backbone.type!r} outputs values in {list(bb.output_range)}; "
                "the data must be scaled to the same range",
                repr(list(value_range)),
            )
        )
    method = host.methods.get(recipe.method.type)
    problems += class_problems(method)
    check = getattr(method.factory, "problems", None)
    if check is not None:
        problems += check(recipe, comps)
    want = recipe.backbone.latent_dim
    if want is not None and want != comps.latent_dim:
        problems.append(
            Problem(
                "backbone.latent_dim",
                f"noise ({comps.noise.dim}) + codes ({comps.latent_dim - comps.noise.dim}) = "
                f"{comps.latent_dim} generator inputs, but the backbone expects {want}",
                str(want),
            )
        )
    return problems


def build_components(recipe: Recipe) -> Components:
    comps, problems = _build_all(recipe)
    if comps is None:
        raise DisentangleError("; ".join(str(p) for p in problems))
    return comps


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)
