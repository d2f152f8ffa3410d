"""Evaluate a trained run: every applicable metric on its encoder, into eval.json and PNGs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from disentangle.checkpoint import write_text_atomic
from disentangle.components import Dataset, EvalContext
from disentangle.errors import DisentangleError, RecipeError
from disentangle.plots import mi_curves
from disentangle.plugins import host
from disentangle.recipe import problems_of
from disentangle.run import Run, Trained, load_run
from disentangle.training.data import scale_images


def encoder(trained: Trained, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 images -> Q's posterior per code (probabilities or means), concatenated."""
    d = trained.discriminator.to(device).eval()
    codes = trained.components.codes
    splits = [c.q_dim for c in codes]

    @torch.no_grad()
    def encode(images: torch.Tensor) -> torch.Tensor:
        out = []
        for chunk in images.split(512):
            _, q = d(scale_images(chunk.to(device), trained.components.value_range))
            parts = torch.split(q.float(), splits, dim=1)
            out.append(
                torch.cat(
                    [c.representation(p) for c, p in zip(codes, parts, strict=True)], dim=1
                ).cpu()
            )
        return torch.cat(out)

    return encode


def eval_dataset(recipe: Any, split: str | None) -> Dataset:
    """The run's dataset, on its test split when it has splits (or the split asked for)."""
    spec = recipe.dataset
    if "split" in type(spec).model_fields:
        data = {**spec.model_dump(by_alias=True), "split": split or "test"}
        try:
            spec = type(spec).model_validate(data)
        except ValidationError as err:
            raise RecipeError("--split", problems_of(err, data)) from None
    elif split is not None:
        raise DisentangleError(f"dataset {spec.type!r} has no splits; leave out --split")
    return host.datasets.build(spec)


def evaluate(
    run: Run | str | Path,
    metrics: list[str] | None = None,
    *,
    split: str | None = None,
    seed: int = 0,
    fast: bool = False,
    device: str = "cpu",
) -> dict[str, Any]:
    """Compute metrics (default: every registered one that applies) and write eval.json."""
    run = run if isinstance(run, Run) else load_run(run)
    trained = run.load()
    dataset = eval_dataset(trained.recipe, split)
    comps = trained.components
    columns, start = {}, 0
    for name, code in zip(comps.code_names, comps.codes, strict=True):
        columns[name] = slice(start, start + code.dim)
        start += code.dim
    ctx = EvalContext(
        encode=encoder(trained, torch.device(device)),
        dataset=dataset,
        data=dataset.load(),
        code_columns=columns,
        codes=dict(zip(comps.code_names, comps.codes, strict=True)),
        out_dir=run.path / "eval",
        seed=seed,
        fast=fast,
    )
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    before = set(ctx.out_dir.iterdir())
    scores: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for name in metrics or host.metrics.names():
        entry = host.metrics.get(name)
        metric = entry.factory(entry.spec_model()(type=name))
        reason = metric.applies(ctx)
        if reason is None:
            scores[name] = metric(ctx)
        elif metrics:
            raise DisentangleError(f"metric {name!r} does not apply to {run.path}: {reason}")
        else:
            skipped[name] = reason
    if run.metrics():
        mi_curves([run], run.note(ctx.out_dir / "mi-curve.png"))
    report = {
        "run": str(run.path),
        "iteration": trained.iteration,
        "dataset": dataset_label(trained.recipe, split),
        "seed": seed,
        "fast": fast,
        "metrics": scores,
        "skipped": skipped,
    }
    for path in set(ctx.out_dir.iterdir()) - before:  # the metrics' own figures
        run.note(path)
    write_text_atomic(run.note(run.path / "eval.json"), json.dumps(report, indent=1))
    return report


def dataset_label(recipe: Any, split: str | None) -> str:
    spec = recipe.dataset
    if "split" in type(spec).model_fields:
        return f"{spec.type} ({split or 'test'} split)"
    return spec.type
