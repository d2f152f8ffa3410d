"""A run folder: its recipe, metrics, checkpoints and images, and the trained generator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from disentangle.build import Components, build_components
from disentangle.checkpoint import list_checkpoints, load_checkpoint, read_meta
from disentangle.errors import CheckpointError, RunDirError
from disentangle.figures import render, sample_latents, traversal_latents
from disentangle.recipe import validate_recipe


@dataclass
class Trained:
    """A generator rebuilt from a checkpoint, with what is needed to drive it."""

    generator: torch.nn.Module
    discriminator: torch.nn.Module
    components: Components
    recipe: Any
    iteration: int


class Run:
    """The files of one training run; `train()` returns one, `load_run()` opens one."""

    def __init__(self, path: str | Path, checkpoint: Path | None = None) -> None:
        self.path = Path(path)
        self.checkpoint = checkpoint  # the one `load()` uses; None: the latest

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def recipe_path(self) -> Path:
        return self.path / "recipe.json"

    def exists(self) -> bool:
        return self.recipe_path.is_file()

    def checkpoints(self) -> list[Path]:
        return list_checkpoints(self.checkpoints_dir)

    def latest_checkpoint(self) -> Path:
        found = self.checkpoints()
        if not found:
            raise CheckpointError(f"{self.checkpoints_dir}: the run has no checkpoint yet")
        return found[-1]

    def recipe(self) -> BaseModel:
        if not self.exists():
            raise RunDirError(f"{self.path}: not a run folder (no recipe.json)")
        return validate_recipe(json.loads(self.recipe_path.read_text()), str(self.recipe_path))

    def metrics(self) -> list[dict[str, Any]]:
        """Every line of metrics.jsonl."""
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line]

    def load(self, checkpoint: str | Path | None = None, device: str = "cpu") -> Trained:
        """Rebuild G and D/Q from a checkpoint (the latest by default)."""
        sidecar = Path(checkpoint or self.checkpoint or self.latest_checkpoint())
        state, meta = load_checkpoint(sidecar)
        recipe = validate_recipe(meta["recipe"], str(sidecar))
        comps = build_components(recipe)
        generator = comps.backbone.generator(comps.latent_dim)
        discriminator = comps.backbone.discriminator(comps.q_dim)
        try:
            generator.load_state_dict(state["generator"])
            discriminator.load_state_dict(state["discriminator"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{sidecar}: weights do not fit the recipe ({exc})") from None
        return Trained(
            generator.to(device).eval(),
            discriminator.to(device).eval(),
            comps,
            recipe,
            meta["iteration"],
        )

    def sample(self, n: int = 100, seed: int = 0, trained: Trained | None = None) -> torch.Tensor:
        """`n` generated images in [0, 1]."""
        t = trained or self.load()
        return render(t.generator, sample_latents(t.components, n, seed), t.components.value_range)

    def traverse(
        self,
        code: int,
        *,
        rows: int = 10,
        steps: int = 10,
        span: tuple[float, float] = (-1.0, 1.0),
        seed: int = 0,
        trained: Trained | None = None,
    ) -> tuple[torch.Tensor, int]:
        """One code's traversal grid in [0, 1] (row-major) and its number of columns."""
        t = trained or self.load()
        latents, cols = traversal_latents(t.components, code, rows, steps, span, seed)
        return render(t.generator, latents, t.components.value_range), cols


def load_run(path: str | Path) -> Run:
    """A run from its folder, or from one of its checkpoints (which `Run.load` then uses)."""
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        sidecar = path.with_suffix(".json")
        read_meta(sidecar)
        return Run(sidecar.parent.parent, sidecar)
    if not path.is_dir():
        raise RunDirError(f"{path}: no such run folder or checkpoint")
    return Run(path)
