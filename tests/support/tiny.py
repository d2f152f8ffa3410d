"""The tiny recipes, datasets and train sections the tests share, and a whole-then-resumed run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from disentangle.recipe import validate_recipe
from disentangle.run import load_run
from disentangle.run.checkpoint import load_checkpoint
from disentangle.training.loop import resume, train

#: a recipe that trains in well under a second (the `tiny_recipe` fixture hands out copies)
TINY_RECIPE: dict[str, Any] = {
    "name": "tiny",
    "noise": {"type": "uniform", "dim": 4},
    "codes": [
        {"type": "categorical", "name": "shape", "k": 3},
        {"type": "uniform", "name": "x", "lambda": 0.1},
    ],
    "backbone": {"type": "mnist", "width": 0.125},
    "dataset": {
        "type": "procedural",
        "resolution": 28,
        "scales": 2,
        "orientations": 2,
        "positions_x": 4,
        "positions_y": 4,
    },
    "train": {
        "iterations": 6,
        "batch_size": 8,
        "log_every": 2,
        "checkpoint_every": 2,
        "sample_every": 3,
    },
    "images": {"samples": 4, "traversal_rows": 2, "traversal_steps": 3},
}


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


TINY_TOML = """
name = "tiny"
[noise]
type = "uniform"
dim = 4
[[codes]]
type = "categorical"
name = "shape"
k = 3
[[codes]]
type = "uniform"
name = "x"
lambda = 0.1
[backbone]
type = "mnist"
width = 0.125
[dataset]
type = "procedural"
resolution = 28
scales = 2
orientations = 2
positions_x = 4
positions_y = 4
[train]
iterations = 6
batch_size = 8
log_every = 2
checkpoint_every = 2
sample_every = 3
[images]
samples = 4
traversal_rows = 2
traversal_steps = 3
"""


def tiny_grid(resolution: int = 28) -> dict[str, Any]:
    """A procedural dataset of 2 × 2 × 2 × 2 × 2 = 32 images."""
    return {
        "type": "procedural",
        "resolution": resolution,
        "shapes": 2,
        "scales": 2,
        "orientations": 2,
        "positions_x": 2,
        "positions_y": 2,
    }


def checkpointed(iterations: int, batch_size: int) -> dict[str, Any]:
    """A [train] section on the CPU: a log line every iteration, a checkpoint every second
    one, no sample grid before the end, no TensorBoard."""
    return {
        "iterations": iterations,
        "batch_size": batch_size,
        "device": "cpu",
        "log_every": 1,
        "checkpoint_every": 2,
        "sample_every": 1000,
        "tensorboard": False,
    }


#: an [images] section of small grids
SMALL_IMAGES: dict[str, Any] = {"samples": 4, "traversal_rows": 2, "traversal_steps": 3}


def whole_and_resumed(
    data: dict[str, Any], folder: Path, cut: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The final checkpoint states of `data` trained whole and trained to `cut` then resumed."""
    whole = train(validate_recipe(data), folder / "whole")
    short = copy.deepcopy(data)
    short["train"]["iterations"] = cut
    train(validate_recipe(short), folder / "cut")
    resume(folder / "cut", [f"train.iterations={data['train']['iterations']}"])
    states = [
        load_checkpoint(load_run(path).latest_checkpoint())[0]
        for path in (whole.path, folder / "cut")
    ]
    return states[0], states[1]
