"""Evaluate a trained run: every applicable metric on its encoder, into eval.json and PNGs."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from disentangle.analysis.codemap import FactorMatch, factor_matches
from disentangle.analysis.plots import logs_mi, mi_curves
from disentangle.components import Dataset, EvalContext, Metric
from disentangle.device import resolve_device
from disentangle.errors import DisentangleError, RecipeError
from disentangle.plugins import host
from disentangle.recipe import problems_of
from disentangle.recipe.metric_specs import MetricSpec, metric_specs, params_of
from disentangle.recipe.sections import Recipe
from disentangle.run import Run, Trained, load_run
from disentangle.run.checkpoint import write_text_atomic
from disentangle.run.figures import as_uint8, render, sample_latents, scale_images, traversal_sheet


def network_input(trained: Trained, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """The method's networks put on `device` in eval mode; uint8 images -> their input there
    (the data's value range)."""
    for module in trained.method.networks.values():
        in_place_activations(module.to(device).eval())
    value_range = trained.components.value_range
    return lambda images: scale_images(images.to(device), value_range)


def encoder(trained: Trained, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 images -> the method's representation (InfoGAN: Q's posterior per code,
    probabilities or means, concatenated)."""
    method, prepare = trained.method, network_input(trained, device)

    @torch.no_grad()
    def encode(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([method.encode(prepare(chunk)).cpu() for chunk in images.split(512)])

    return encode


#: layers whose output is a new tensor, read by nothing but the next layer of a Sequential
FRESH_OUTPUT = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)


def in_place_activations(model: nn.Module) -> nn.Module:
    """`model` with each ReLU / LeakyReLU that follows a FRESH_OUTPUT layer in a Sequential
    computing in place: the same numbers without a copy of the activations (about 15% faster
    encoding on a CPU). For inference only: autograd needs the copies."""
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            for before, layer in itertools.pairwise(module):
                if isinstance(layer, nn.ReLU | nn.LeakyReLU) and isinstance(before, FRESH_OUTPUT):
                    layer.inplace = True
    return model


def eval_dataset(recipe: Recipe, split: str | None) -> Dataset:
    """The run's dataset, on its test split when it has splits (or the split asked for)."""
    spec = recipe.dataset
    if "split" in type(spec).model_fields:
        data = {**spec.model_dump(by_alias=True), "split": split or "test"}
        try:
            spec = type(spec).model_validate(data)
        except ValidationError as err:
            raise RecipeError("--split", problems_of(err, data, type(spec))) from None
    elif split is not None:
        raise DisentangleError(f"dataset {spec.type!r} has no splits; leave out --split")
    return host.datasets.build(spec)


def evaluate(
    run: Run | str | Path,
    metrics: list[MetricSpec] | None = None,
    *,
    split: str | None = None,
    seed: int = 0,
    fast: bool = False,
    device: str = "cpu",
    chance: bool = False,
) -> dict[str, Any]:
    """Compute metrics (default: every registered one that applies) and write eval.json.

    Each of `metrics` is a name (`"mig"`), a name with params (`"mig:bins=30"`) or a mapping
    (`{"type": "mig", "bins": 30}`), validated by the metric's params model; eval.json's
    `protocol` records each metric's params.

    With `chance`, every metric also scores a representation of noise independent of the
    images (same width, same samples): the value that metric gives a model that learned
    nothing. On a ground-truth dataset, each code's best-matching factor is found and every
    code's traversal drawn in one labelled PNG (`eval/traversals.png`).
    """
    run = run if isinstance(run, Run) else load_run(run)
    trained = run.load()
    ctx = eval_context(trained, run.path / "eval", split=split, seed=seed, fast=fast, device=device)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    before = set(ctx.out_dir.iterdir())
    scores, chances, skipped, protocols = score(ctx, metrics, chance, run.path)
    if logs_mi(run):
        mi_curves([run], run.note(ctx.out_dir / "mi-curve.png"))
    matches = factor_matches(ctx)
    if matches:
        _traversal_sheet(run, trained, matches, run.note(ctx.out_dir / "traversals.png"))
    report = {
        "run": str(run.path),
        "iteration": trained.iteration,
        "dataset": dataset_label(trained.recipe, split),
        "seed": seed,
        "fast": fast,
        "metrics": scores,
        "chance": chances,
        "codes": {name: vars(match) for name, match in matches.items()},
        "skipped": skipped,
        **({"protocol": protocols} if protocols else {}),
    }
    for path in set(ctx.out_dir.iterdir()) - before:  # the metrics' own figures
        run.note(path)
    write_text_atomic(run.note(run.path / "eval.json"), json.dumps(report, indent=1))
    return report


def score(
    ctx: EvalContext, metrics: list[MetricSpec] | None, chance: bool, where: Path
) -> tuple[
    dict[str, dict[str, float]], dict[str, dict[str, float]], dict[str, str], dict[str, Any]
]:
    """Each metric's scores, its chance level (if `chance`), the reason each metric left out
    does not apply, and the metrics' protocols. Metrics named in `metrics` must apply (else
    an error naming `where`); without names, every registered metric that applies."""
    scores: dict[str, dict[str, float]] = {}
    chances: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    protocols: dict[str, dict[str, Any]] = {}
    for spec in metric_specs(metrics or host.metrics.names(), "metrics"):
        name = spec.type  # type: ignore[attr-defined]
        metric = host.metrics.build(spec)
        reason = metric.applies(ctx)
        if reason is None:
            scores[name] = metric(ctx)
            params = params_of(spec)
            protocol = {**metric.protocol(ctx), **({"params": params} if params else {})}
            if protocol:
                protocols[name] = protocol
            if chance and metric.scores_representation:
                chances[name] = _chance(metric, ctx)
        elif metrics:
            raise DisentangleError(f"metric {name!r} does not apply to {where}: {reason}")
        else:
            skipped[name] = reason
    return scores, chances, skipped, protocols


def eval_context(
    trained: Trained,
    out_dir: Path,
    *,
    split: str | None = None,
    seed: int = 0,
    fast: bool = False,
    device: str = "cpu",
) -> EvalContext:
    """What the metrics of one evaluation get: the encoder, the data, one shared cache."""
    dataset = eval_dataset(trained.recipe, split)
    comps = trained.components
    return EvalContext(
        encode=encoder(trained, resolve_device(device, where="--device")),
        dataset=dataset,
        load=functools.cache(dataset.load),
        code_columns=comps.layout.representation_columns(),
        codes=dict(zip(comps.code_names, comps.codes, strict=True)),
        out_dir=out_dir,
        seed=seed,
        fast=fast,
        cache={},
        generate=generator_images(trained),
    )


def generator_images(trained: Trained) -> Callable[[int, int], torch.Tensor]:
    """(n, seed) -> n images of the run's generator as uint8 pixels."""

    def generate(n: int, seed: int) -> torch.Tensor:
        comps = trained.components
        return as_uint8(
            render(trained.generator, sample_latents(comps, n, seed), comps.value_range)
        )

    return generate


def default_metric(name: str, **params: Any) -> Metric:
    """The registered metric `name`, built with its default params but those given."""
    entry = host.metrics.get(name)
    return entry.factory(entry.spec_model()(type=name, **params))


#: below this normalised MI a code is labelled as matching no factor
MATCH_FLOOR = 0.05


def _chance(metric: Metric, ctx: EvalContext) -> dict[str, float]:
    """The metric on uniform noise of the representation's width, independent of the images."""
    width = sum(c.stop - c.start for c in ctx.code_columns.values())
    noise = torch.Generator().manual_seed(ctx.seed)

    def encode(images: torch.Tensor) -> torch.Tensor:
        return torch.rand(len(images), width, generator=noise)

    with tempfile.TemporaryDirectory() as scratch:  # the metric's figures of noise are dropped
        noise_ctx = dataclasses.replace(
            ctx, encode=encode, out_dir=Path(scratch), cache=None, blind=True
        )
        return metric(noise_ctx)


def _traversal_sheet(
    run: Run, trained: Trained, matches: dict[str, FactorMatch], path: Path, rows: int = 3
) -> Path:
    """Every code's traversal, each labelled with the factor it matches best."""
    images = trained.recipe.images
    panels = []
    for i, name in enumerate(trained.components.code_names):
        grid, cols = run.traverse(
            i,
            rows=rows,
            steps=images.traversal_steps,
            span=tuple(images.traversal_range),
            trained=trained,
        )
        match = matches[name]
        factor = match.factor if match.nmi >= MATCH_FLOOR else "no factor"
        panels.append((f"{name}\n→ {factor} (NMI {match.nmi:.2f})", grid, cols))
    return traversal_sheet(panels, path)


def dataset_label(recipe: Recipe, split: str | None) -> str:
    spec = recipe.dataset
    if "split" in type(spec).model_fields:
        return f"{spec.type} ({split or 'test'} split)"
    return spec.type
