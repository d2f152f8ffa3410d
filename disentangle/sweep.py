"""Several seeds of one recipe, each in a sibling run folder, one after another or at once."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from disentangle.errors import DisentangleError
from disentangle.recipe import to_data, validate_recipe
from disentangle.run import Run


def parse_seeds(text: str) -> list[int]:
    """`1-5` -> [1, 2, 3, 4, 5]; `0,3,7` -> [0, 3, 7]; ranges and lists combine."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, sep, high = part.strip().partition("-")
            seeds += list(range(int(low), int(high) + 1)) if sep else [int(low)]
    except ValueError:
        raise DisentangleError(f"--seeds {text!r}: expected e.g. 1-5 or 0,3,7") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise DisentangleError(f"--seeds {text!r}: give distinct seeds, e.g. 1-5")
    return seeds


def seed_recipe(recipe: Any, seed: int) -> Any:
    """The recipe with `train.seed` set and the run named after the seed."""
    train = recipe.train.model_copy(update={"seed": seed})
    return recipe.model_copy(update={"train": train, "name": f"{recipe.name}-seed{seed}"})


def seed_folder(recipe: Any, seed: int, out: Path | None) -> Path:
    return Path(f"{out}-seed{seed}") if out else Path("runs") / f"{recipe.name}-seed{seed}"


def final_mi(run: Run) -> dict[str, float]:
    """L_I per code at the last logged iteration."""
    records = run.metrics()
    return records[-1]["mi"] if records else {}


def run_seeds(
    recipe: Any,
    seeds: list[int],
    out: Path | None,
    *,
    overwrite: bool = False,
    progress: bool = False,
    jobs: int = 1,
) -> list[tuple[int, Run]]:
    """Train every seed; with `jobs` > 1, that many at once in separate processes.

    Concurrent runs share the GPU, or take the GPUs in turn when there are several; on a CPU
    they split its cores.
    """
    from disentangle.training.loop import train

    plan = [(seed, seed_recipe(recipe, seed), seed_folder(recipe, seed, out)) for seed in seeds]
    if jobs == 1:
        return [(s, train(r, f, overwrite=overwrite, progress=progress)) for s, r, f in plan]
    gpus = torch.cuda.device_count() if recipe.train.device in ("auto", "cuda") else 0
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = []
        for i, (_, seeded, folder) in enumerate(plan):
            data = to_data(seeded)
            if gpus > 1:
                data["train"]["device"] = f"cuda:{i % gpus}"
            futures.append(pool.submit(_train, data, str(folder), overwrite, threads))
        paths = [future.result() for future in futures]
    return [(seed, Run(path)) for (seed, _, _), path in zip(plan, paths, strict=True)]


def _train(data: dict[str, Any], folder: str, overwrite: bool, threads: int) -> str:
    """One seed's run in a worker process."""
    from disentangle.training.loop import train

    torch.set_num_threads(threads)
    return str(train(validate_recipe(data), folder, overwrite=overwrite).path)
