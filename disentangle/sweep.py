"""Several seeds of one recipe, each in a sibling run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from disentangle.errors import DisentangleError
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
