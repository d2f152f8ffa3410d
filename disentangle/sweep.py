"""Sweeps: seeds and a grid of recipe values, each point in a sibling run folder, one after
another or at once; and the table of a sweep's runs, grouped by the values that differ."""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from disentangle.errors import DisentangleError
from disentangle.recipe import apply_overrides, parse_key, to_data, validate_recipe
from disentangle.recipe.sections import Recipe
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


def parse_grid(texts: list[str]) -> list[tuple[str, list[str]]]:
    """`method.lr_g=1e-3,5e-4` -> ('method.lr_g', ['1e-3', '5e-4']), one per --grid."""
    axes = []
    for text in texts:
        key, sep, values = text.partition("=")
        items = [v.strip() for v in values.split(",")]
        if not sep or not all(items):
            example = "e.g. method.lr_g=1e-3,5e-4"
            raise DisentangleError(f"--grid {text!r}: expected KEY=V1,V2, {example}")
        parse_key(key.strip(), "--grid")
        if len(set(items)) != len(items):
            raise DisentangleError(f"--grid {text!r}: a value is given twice")
        axes.append((key.strip(), items))
    keys = [k for k, _ in axes]
    if len(set(keys)) != len(keys):
        raise DisentangleError("--grid: a key is swept twice; give each key one --grid")
    return axes


def grid_points(axes: list[tuple[str, list[str]]]) -> list[list[str]]:
    """Every combination of the axes' values, as `key=value` overrides."""
    return [
        [f"{key}={value}" for (key, _), value in zip(axes, values, strict=True)]
        for values in itertools.product(*(v for _, v in axes))
    ]


def point_label(overrides: list[str]) -> str:
    """A folder-safe label: `codes[1].lambda=0.1` -> `codes.1.lambda_0.1`."""
    parts = []
    for text in overrides:
        key, _, value = text.partition("=")
        parts.append(f"{key.replace('[', '.').replace(']', '')}_{value}")
    return re.sub(r"[^A-Za-z0-9._-]", "-", "-".join(parts))


#: the longest grid point name: a run name is at most 64 characters, and "-seedN" may follow
MAX_POINT_NAME = 49


def point_name(base: str, overrides: list[str]) -> str:
    """`NAME-LABEL`, or NAME and a hash of the label when that would be too long."""
    label = point_label(overrides)
    name = f"{base}-{label}"
    if len(name) <= MAX_POINT_NAME:
        return name
    digest = hashlib.sha1(label.encode()).hexdigest()[:10]
    return f"{base[: MAX_POINT_NAME - 11]}-{digest}"


def grid_recipes(data: dict[str, Any], axes: list[tuple[str, list[str]]]) -> list[Any]:
    """The validated recipe of every grid point, named after its values."""
    recipes, base = [], to_data(validate_recipe(data))  # the defaults filled in, once
    for overrides in grid_points(axes):
        point = copy.deepcopy(base)
        apply_overrides(point, overrides)
        point["name"] = point_name(data["name"], overrides)
        recipes.append(validate_recipe(point, f"--grid {' '.join(overrides)}"))
    return recipes


def seed_recipe(recipe: Recipe, seed: int) -> Recipe:
    """The recipe with `train.seed` set and the run named after the seed."""
    train = recipe.train.model_copy(update={"seed": seed})
    return recipe.model_copy(update={"train": train, "name": f"{recipe.name}-seed{seed}"})


def seed_folder(recipe: Recipe, seed: int, out: Path | None) -> Path:
    return Path(f"{out}-seed{seed}") if out else Path("runs") / f"{recipe.name}-seed{seed}"


def seeds_plan(recipe: Recipe, seeds: list[int], out: Path | None) -> list[tuple[Recipe, Path]]:
    """Each seed's recipe and folder: `OUT-seedN` (or runs/NAME-seedN)."""
    return [(seed_recipe(recipe, seed), seed_folder(recipe, seed, out)) for seed in seeds]


def grid_plan(
    recipes: list[Any], seeds: list[int] | None, out: Path | None
) -> list[tuple[Any, Path]]:
    """Each grid point's (and seed's) recipe and folder: OUT/NAME-POINT[-seedN] (or runs/…)."""
    parent = out or Path("runs")
    if seeds is None:
        return [(recipe, parent / recipe.name) for recipe in recipes]
    return [
        (seed_recipe(recipe, s), parent / f"{recipe.name}-seed{s}")
        for recipe in recipes
        for s in seeds
    ]


def run_plan(
    plan: list[tuple[Any, Path]], *, overwrite: bool, progress: bool, jobs: int
) -> list[Run]:
    """Train each (recipe, folder); with `jobs` > 1, that many at once in separate processes.

    Concurrent runs share the GPU, or take the GPUs in turn when there are several; on a CPU
    they split its cores.
    """
    from disentangle.training.loop import train

    if jobs == 1:
        return [train(r, f, overwrite=overwrite, progress=progress) for r, f in plan]
    device = plan[0][0].train.device
    gpus = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = []
        for i, (recipe, folder) in enumerate(plan):
            data = to_data(recipe)
            if gpus > 1:
                data["train"]["device"] = f"cuda:{i % gpus}"
            futures.append(pool.submit(_train, data, str(folder), overwrite, threads))
        return [Run(future.result()) for future in futures]


def _train(data: dict[str, Any], folder: str, overwrite: bool, threads: int) -> str:
    """One seed's run in a worker process."""
    from disentangle.training.loop import train

    torch.set_num_threads(threads)
    return str(train(validate_recipe(data), folder, overwrite=overwrite).path)
