"""Evaluation speed: seconds per metric, the default path against the reference path.

Both paths score the same trained run, seed and sample counts, in one process, one after the
other. The reference renders and encodes every sample each metric draws and fits its models
one at a time (the evaluation as it was before the shared cache); the default path, what
`disentangle eval` runs, encodes each distinct image once for all metrics (EvalContext.cache)
and fits independent models on every core. Printed per metric: seconds in each path, the
speed-up, and the largest difference between their numbers (the two must agree). Nothing is
written into the run folder; the results go to a JSON file.

Usage:
    python benchmarks/eval_speed.py RUN [--metrics mig,dci] [--seed S] [--fast]
        [--threads T] [--no-reference] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from disentangle_metrics import parallel
from machine import environment
from rich.console import Console
from rich.table import Table

from disentangle import EvalContext
from disentangle.analysis.evaluate import default_metric, eval_context
from disentangle.errors import DisentangleError
from disentangle.plugins import host
from disentangle.run import load_run

RESULTS = Path(__file__).resolve().parent / "results"
PATHS = ("reference", "default")


def counted(encode: Callable[[torch.Tensor], torch.Tensor], tally: list[int]) -> Callable:
    """`encode`, adding the number of images of each call to tally[0]."""

    def run(images: torch.Tensor) -> torch.Tensor:
        tally[0] += len(images)
        return encode(images)

    return run


def time_metrics(ctx: EvalContext, names: list[str], path: str) -> dict[str, Any]:
    """Seconds and scores of each metric on one path, and the images it encoded."""
    parallel.JOBS = 1 if path == "reference" else None
    tally = [0]
    ctx = dataclasses.replace(
        ctx, encode=counted(ctx.encode, tally), cache=None if path == "reference" else {}
    )
    seconds, scores = {}, {}
    for name in names:
        start = time.perf_counter()
        scores[name] = default_metric(name)(ctx)
        seconds[name] = time.perf_counter() - start
        print(f"  {path}: {name} {seconds[name]:.1f} s", flush=True)
    parallel.JOBS = None
    return {"seconds": seconds, "scores": scores, "images_encoded": tally[0]}


def largest_difference(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[key] - b[key]) for key in a)


def table(names: list[str], timings: dict[str, dict[str, Any]], title: str) -> Table:
    out = Table(title=title, title_justify="left")
    both = len(timings) == 2
    columns = ("metric", *(f"{path} s" for path in timings), *both * ("speed-up", "max |Δ|"))
    for column in columns:
        out.add_column(column, justify="left" if column == "metric" else "right")
    for name in [*names, "total"]:
        if name == "total":
            row = [sum(t["seconds"].values()) for t in timings.values()]
        else:
            row = [t["seconds"][name] for t in timings.values()]
        cells = [f"{s:.1f}" for s in row]
        if both:
            cells.append(f"{row[0] / row[1]:.1f}×")
            if name == "total":
                cells.append("")
            else:
                scores = [t["scores"][name] for t in timings.values()]
                cells.append(f"{largest_difference(*scores):.1e}")
        out.add_row(name, *cells)
    encoded = ", ".join(f"{path} {t['images_encoded']:,}" for path, t in timings.items())
    out.caption = f"images encoded: {encoded}"
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a trained run folder")
    parser.add_argument("--metrics", help="comma-separated metrics (default: all that apply)")
    parser.add_argument("--seed", type=int, default=0, help="the metrics' sampling seed")
    parser.add_argument("--fast", action="store_true", help="the metrics' fast sample counts")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--no-reference", action="store_true", help="time the default path only")
    parser.add_argument("--json", type=Path, help="where the results go")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    trained = load_run(args.run).load()
    with tempfile.TemporaryDirectory() as scratch:  # the metrics' figures are dropped
        ctx = eval_context(trained, Path(scratch), seed=args.seed, fast=args.fast)
        wanted = args.metrics.split(",") if args.metrics else host.metrics.names()
        names = [name for name in wanted if default_metric(name).applies(ctx) is None]
        paths = PATHS[1:] if args.no_reference else PATHS
        timings = {path: time_metrics(ctx, names, path) for path in paths}
    env = {
        **environment(),
        "run": str(args.run),
        "recipe": trained.recipe.name,
        "iteration": trained.iteration,
        "cores": parallel.cores(),
        "seed": args.seed,
        "fast": args.fast,
    }
    title = (
        f"{env['recipe']} (iteration {env['iteration']}), seed {args.seed}"
        f"{', fast' if args.fast else ''}; torch {env['torch']}, {env['threads']} threads, "
        f"{env['cores']} cores, {env['cpu']}"
    )
    Console(width=max(Console().width, 100)).print(table(names, timings, title))
    out = args.json or RESULTS / f"eval_speed-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**env, "paths": timings}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except DisentangleError as err:  # an unknown metric, a folder that is not a run
        sys.exit(f"error: {err}")
