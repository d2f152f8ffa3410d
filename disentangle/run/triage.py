"""Checkpoint triage for a resume: the newest checkpoint that loads whole, and whether its
state fits the recipe's networks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from disentangle.errors import CheckpointError, DisentangleError, Problem, RecipeError, warn
from disentangle.recipe import validate_recipe
from disentangle.recipe.sections import Recipe
from disentangle.run import Run
from disentangle.run.checkpoint import load_checkpoint


def newest_intact(run: Run) -> tuple[Path, dict[str, Any], dict[str, Any], Any]:
    """The newest checkpoint that loads whole, saying which newer ones were skipped and why."""
    skipped = []
    for sidecar in reversed(run.checkpoints()):
        try:
            state, meta = load_checkpoint(sidecar)
            stored = validate_recipe(copy.deepcopy(meta["recipe"]), str(sidecar))
            check_state(state, sidecar)
        except DisentangleError as exc:
            skipped.append(str(exc).replace("\n", " "))
            continue
        for reason in skipped:
            warn(f"skipped a damaged checkpoint: {reason}")
        if skipped:
            warn(f"resuming from {sidecar.name} instead")
        return sidecar, state, meta, stored
    raise CheckpointError(
        f"{run.checkpoints_dir}: no intact checkpoint to resume from:\n" + "\n".join(skipped)
    )


def check_state(state: Any, sidecar: Path) -> None:
    """The training state is a table of parts with the random states (the method's parts are
    checked when they load)."""
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise CheckpointError(f"{sidecar}: the training state is not a table of parts")
    if not isinstance(state.get("rng"), dict):
        raise CheckpointError(f"{sidecar}: the training state lacks 'rng'")
    rng = state["rng"]
    if not all(isinstance(rng.get(k), torch.Tensor) for k in ("torch", "sampler")):
        raise CheckpointError(f"{sidecar}: the training state lacks its random states")


def check_shapes(
    part: str,
    module: torch.nn.Module,
    saved: dict[str, Any],
    overrides: list[str] | tuple[str, ...],
    source: Path | None,
) -> None:
    """Refuse, before loading, a checkpoint whose tensors do not fit the recipe's networks."""
    for key, value in module.state_dict().items():
        got = saved.get(key)
        if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(value.shape):
            continue
        found = f"{list(got.shape)}" if isinstance(got, torch.Tensor) else "nothing"
        where = f"{part}.{key}: the checkpoint has {found}, the recipe needs {list(value.shape)}"
        if overrides:
            raise RecipeError(
                "--set",
                [
                    Problem(
                        " ".join(overrides),
                        f"changes the networks ({where}); such an override cannot be applied "
                        "on resume: start a new run instead",
                    )
                ],
            )
        raise CheckpointError(f"{source}: the weights do not fit the recipe ({where})")


def refuse_backwards(recipe: Recipe, iteration: int, sidecar: Path) -> None:
    """A resume cannot go backwards: fewer iterations than the checkpoint's are refused."""
    wanted = recipe.train.iterations
    if wanted < iteration:
        problem = (
            f"{wanted} is below the iteration of the checkpoint resumed from ({iteration}, "
            f"{sidecar.name}): a resume cannot go backwards; give at least {iteration}, or "
            "train a new run"
        )
        raise RecipeError("--set", [Problem("train.iterations", problem, str(wanted))])
