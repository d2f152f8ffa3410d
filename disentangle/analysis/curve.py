"""Metrics over a run's checkpoints: how its disentanglement develops as it trains.

Each kept checkpoint is evaluated with the same metrics, seed and sample counts, and the points
go into RUN/curve.json one by one (written atomically after each), so a stopped curve resumes
where it was: a checkpoint already scored with the same settings is not scored again.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from disentangle.analysis.evaluate import encoder, eval_context, generator_images, score
from disentangle.analysis.literature import Published
from disentangle.device import resolve_device
from disentangle.errors import DisentangleError
from disentangle.recipe.metric_specs import MetricSpec, metric_spec, metric_specs
from disentangle.run import Run
from disentangle.run.checkpoint import read_meta, write_text_atomic

CURVE = "curve.json"


def checkpoints_to_score(run: Run, every: int | None) -> list[tuple[int, Path]]:
    """(iteration, sidecar) of each kept checkpoint, or of those at multiples of `every`."""
    found = [(int(read_meta(p)["iteration"]), p) for p in run.checkpoints()]
    if not found:
        raise DisentangleError(f"{run.checkpoints_dir}: the run has no checkpoint yet")
    chosen = [(i, p) for i, p in found if every is None or i % every == 0]
    if not chosen:
        kept = ", ".join(str(i) for i, _ in found)
        raise DisentangleError(
            f"--every {every}: no kept checkpoint is at a multiple (kept: {kept})"
        )
    return chosen


def _kept_metrics(specs: list[BaseModel] | None) -> list[str | dict[str, Any]] | None:
    """The metrics as curve.json keeps them: a name where the params are the defaults."""
    if specs is None:
        return None
    kept = []
    for spec in sorted(specs, key=lambda s: s.type):  # type: ignore[attr-defined]
        dump = spec.model_dump(mode="json")
        default = metric_spec(dump["type"], "metrics").model_dump(mode="json")
        kept.append(dump["type"] if dump == default else dump)
    return kept


def metric_curve(
    run: Run,
    metrics: list[MetricSpec] | None = None,
    *,
    every: int | None = None,
    seed: int = 0,
    fast: bool = False,
    device: str = "cpu",
) -> dict[str, Any]:
    """Score each chosen checkpoint of `run` (see `checkpoints_to_score`) and write
    RUN/curve.json: the settings and one point per checkpoint, {iteration, metrics}."""
    chosen = metric_specs(metrics, "metrics") if metrics else None
    settings = {"metrics": _kept_metrics(chosen), "seed": seed, "fast": fast}
    path = run.path / CURVE
    done = _points(path) if _settings(path) == settings else {}
    todo = [(i, p) for i, p in checkpoints_to_score(run, every) if i not in done]
    where = resolve_device(device, where="--device")
    with tempfile.TemporaryDirectory() as scratch:  # the metrics' figures are not kept
        base = None
        for iteration, sidecar in todo:
            trained = run.load(sidecar)
            if base is None:  # one context: the dataset is read once for every checkpoint
                base = eval_context(trained, Path(scratch), seed=seed, fast=fast, device=device)
            ctx = dataclasses.replace(
                base,
                encode=encoder(trained, where),
                generate=generator_images(trained),
                cache={},
            )
            scores, _, _, _ = score(ctx, chosen, chance=False, where=sidecar)
            done[iteration] = scores
            _write(run, path, settings, done)
    return {**settings, "run": str(run.path), "points": _as_list(done)}


def _settings(path: Path) -> dict[str, Any] | None:
    data = _read(path)
    return None if data is None else {k: data.get(k) for k in ("metrics", "seed", "fast")}


def _points(path: Path) -> dict[int, dict[str, dict[str, float]]]:
    data = _read(path) or {}
    return {int(p["iteration"]): p["metrics"] for p in data.get("points", [])}


def _read(path: Path) -> dict[str, Any] | None:
    """A curve.json written before, or None (absent, or not one: it is then rewritten)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("points"), list) else None


def _as_list(done: dict[int, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    return [{"iteration": i, "metrics": done[i]} for i in sorted(done)]


def _write(
    run: Run, path: Path, settings: dict[str, Any], done: dict[int, dict[str, dict[str, float]]]
) -> None:
    data = {**settings, "run": str(run.path), "points": _as_list(done)}
    write_text_atomic(run.note(path), json.dumps(data, indent=1))


def curve_plot(curve: dict[str, Any], literature: list[Published], path: Path) -> Path:
    """One panel per score: its value at each scored checkpoint, and each published value of
    that score (dashed, labelled with its method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = curve["points"]
    keys = sorted({(m, s) for p in points for m, scores in p["metrics"].items() for s in scores})
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, (metric, name) in zip(axes.flat, keys, strict=False):
        xy = [
            (p["iteration"], p["metrics"][metric][name])
            for p in points
            if name in p["metrics"].get(metric, {})
        ]
        xs, ys = zip(*xy, strict=True)
        ax.plot(xs, ys, marker="o", label="this run")
        for record in literature:
            if (record.metric, record.score) == (metric, name):
                ax.axhline(record.value, linestyle="--", linewidth=1, color="grey")
                ax.annotate(
                    record.method, (xs[0], record.value), fontsize=7, va="bottom", color="grey"
                )
        ax.margins(y=0.15)  # room above the top line for its label
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("iteration")
    for ax in axes.flat[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
