"""Seconds to a result: a shipped recipe trained as `disentangle run` trains it, per precision.

Where train_speed.py times the step alone, this times the whole loop the user waits for: the
model built, the batches drawn, the step, the metrics log, the checkpoints and the sample grids
at the recipe's own intervals, over the recipe's iterations (or its first N). The evaluation at
the end is left out (its own benchmark: eval_speed.py). The images are random ones of the
dataset's shape (train_speed.py's `random_images`), so no download is needed and loading a
real dataset (a second for MNIST) is not counted. Each run writes into a temporary folder,
removed afterwards; nothing is written but the JSON.

Usage:
    python benchmarks/time_to_result.py [--runs mnist:5000,dsprites-vae:10000]
        [--variants fp32,bf16] [--threads T] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import train_speed
from machine import environment
from rich.console import Console
from rich.table import Table
from train_speed import RECIPES, RESULTS, VARIANTS, benchmark_data, comma_list, variant_recipe

from disentangle.plugins import host
from disentangle.training.loop import train

#: the issue's rows: the MNIST recipe's whole run and the dsprites-vae recipe's first 10,000
DEFAULT_RUNS = "mnist:5000,dsprites-vae:10000"


@dataclass
class Result:
    recipe: str
    variant: str
    iterations: int
    batch: int
    seconds: float
    iterations_per_s: float


def parse_run(text: str) -> tuple[str, int | None]:
    """`NAME` (the recipe's own iterations) or `NAME:ITERATIONS`."""
    name, _, count = text.partition(":")
    if not (RECIPES / f"{name}.toml").is_file():
        raise SystemExit(f"--runs: no recipe recipes/{name}.toml")
    if count and not (count.isdigit() and int(count) > 0):
        raise SystemExit(f"--runs: {text!r}: the iterations must be a positive integer")
    return name, int(count) if count else None


def time_run(name: str, iterations: int | None, variant: str) -> Result:
    data = benchmark_data(RECIPES / f"{name}.toml")
    data.pop("evaluate", None)
    if iterations is not None:
        data["train"]["iterations"] = iterations
    data["train"]["tensorboard"] = False
    recipe = variant_recipe(data, variant)
    with tempfile.TemporaryDirectory(prefix="disentangle-ttr-") as folder:
        began = time.perf_counter()
        train(recipe, Path(folder) / "run")
        seconds = time.perf_counter() - began
    count = recipe.train.iterations
    return Result(name, variant, count, recipe.train.batch_size, seconds, count / seconds)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", default=DEFAULT_RUNS, help=f"NAME[:ITERATIONS],… ({DEFAULT_RUNS})")
    p.add_argument("--variants", default="fp32,bf16", help="train_speed.py's variants")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    p.add_argument("--json", type=Path, help="default: benchmarks/results/time_to_result-DATE.json")
    args = p.parse_args(argv)
    unknown = [v for v in comma_list(args.variants) if v not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    runs = [parse_run(text) for text in comma_list(args.runs)]
    if args.threads:
        torch.set_num_threads(args.threads)
    results = [time_run(name, n, v) for name, n in runs for v in comma_list(args.variants)]
    env = environment()
    table = Table(title=f"seconds to a result, {env['cpu']}, {env['threads']} threads")
    for column in ("recipe", "variant", "iterations", "batch", "seconds", "it/s"):
        table.add_column(column, justify="left" if column in ("recipe", "variant") else "right")
    for r in results:
        table.add_row(
            r.recipe, r.variant, str(r.iterations), str(r.batch), f"{r.seconds:.0f}",
            f"{r.iterations_per_s:.2f}",
        )  # fmt: skip
    Console(width=100).print(table)
    out = args.json or RESULTS / f"time_to_result-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**env, "results": [asdict(r) for r in results]}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    host.add(train_speed, "train_speed")  # its random images
    main(sys.argv[1:])
