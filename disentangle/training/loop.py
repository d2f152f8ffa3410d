"""The training loop: a recipe in, a run folder out (checkpoints, metrics.jsonl, PNG grids)."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from disentangle.build import Components, build_components
from disentangle.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
    write_text_atomic,
)
from disentangle.errors import RunDirError, TrainingError
from disentangle.figures import render, sample_latents, save_grid, traversal_latents
from disentangle.plugins import host
from disentangle.recipe import apply_overrides, load_recipe, to_data, validate_recipe
from disentangle.run import Run
from disentangle.training import distributed
from disentangle.training.data import DeviceBatches
from disentangle.training.progress import TrainingProgress
from disentangle.training.step import InfoGANStep, Models


def resolve_device(name: str, ranks: distributed.Ranks) -> torch.device:
    """The recipe's device; under torchrun each process takes the GPU of its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and ranks.world > 1:
        name = f"cuda:{ranks.local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"train.device = {name!r} but CUDA is not available here")
    return device


def train(
    recipe: BaseModel | str | Path,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> Run:
    """Train a recipe (a validated model or a TOML path) into a new run folder."""
    if not isinstance(recipe, BaseModel):
        recipe = load_recipe(recipe)
    run = Run(out if out is not None else Path("runs") / recipe.name)
    if (run.exists() or run.checkpoints()) and not overwrite:
        raise RunDirError(
            f"{run.path} already holds a run; pass --resume {run.path} to continue it, "
            "--overwrite to replace it, or choose another --out"
        )
    trainer = Trainer(recipe, run)  # loads the data: a missing dataset leaves no folder behind
    if trainer.ranks.main:
        _clear(run)
        write_text_atomic(run.recipe_path, json.dumps(to_data(recipe), indent=1))
    distributed.barrier(trainer.ranks)
    return trainer.fit(progress)


def resume(
    run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (), *, progress: bool = False
) -> Run:
    """Continue a run from its last checkpoint; `overrides` (e.g. train.iterations=N) apply."""
    run = Run(run_dir)
    sidecar = run.latest_checkpoint()
    state, meta = load_checkpoint(sidecar)
    data = meta["recipe"]
    apply_overrides(data, overrides)
    recipe = validate_recipe(data, f"{sidecar} (with --set overrides)")
    trainer = Trainer(recipe, run, state, meta["iteration"])
    if trainer.ranks.main:
        write_text_atomic(run.recipe_path, json.dumps(to_data(recipe), indent=1))
        trainer.truncate_metrics()
    distributed.barrier(trainer.ranks)
    return trainer.fit(progress)


def _clear(run: Run) -> None:
    """Remove a previous run's files (only the ones training writes) and make the folder."""
    for folder in ("checkpoints", "samples", "traversals", "figures"):
        shutil.rmtree(run.path / folder, ignore_errors=True)
    run.metrics_path.unlink(missing_ok=True)
    run.path.mkdir(parents=True, exist_ok=True)


class Trainer:
    """Builds the models from a recipe, restores a checkpoint's state, and runs iterations."""

    def __init__(
        self, recipe: Any, run: Run, state: dict[str, Any] | None = None, iteration: int = 0
    ) -> None:
        self.recipe, self.run, self.iteration = recipe, run, iteration
        t = recipe.train
        self.ranks = distributed.ranks_from_env()
        if t.batch_size % self.ranks.world:
            raise TrainingError(
                f"train.batch_size = {t.batch_size} (the global batch) must divide evenly "
                f"among {self.ranks.world} processes"
            )
        self.device = resolve_device(t.device, self.ranks)
        distributed.start(self.ranks, self.device)
        torch.manual_seed(t.seed)
        self.comps: Components = build_components(recipe)
        self.value_range = self.comps.value_range
        g = self.comps.backbone.generator(self.comps.latent_dim).to(self.device)
        d = self.comps.backbone.discriminator(self.comps.q_dim).to(self.device)
        est = self.comps.estimator(recipe).to(self.device)
        if t.channels_last:
            g.to(memory_format=torch.channels_last)
            d.to(memory_format=torch.channels_last)
        if t.compile:
            for module in (g, d.trunk, d.d_head, d.q_head):
                module.compile()
        o = recipe.optim
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
        self.models = Models(
            g,
            d,
            est,
            torch.optim.Adam(
                [*d.parameters(), *est.parameters()], lr=o.lr_d, betas=(o.beta1, o.beta2), **fused
            ),
            torch.optim.Adam(g.parameters(), lr=o.lr_g, betas=(o.beta1, o.beta2), **fused),
        )
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(t.seed + 1_000_003 * self.ranks.rank)
        if state is not None:
            self._restore(state)
        data = self.comps.dataset.load()
        self.batches = DeviceBatches(
            data.images,
            t.batch_size,
            t.seed,
            self.value_range,
            self.device,
            self.ranks,
            t.channels_last,
        )
        self.step = InfoGANStep(
            self.comps,
            self.models,
            self.rng,
            self.device,
            t.precision == "bf16",
            distributed.gradient_sync(self.ranks),
        )

    def _state(self) -> dict[str, Any]:
        """Everything a resume needs; every rank's RNG states (a collective call)."""
        m = self.models
        rng = {
            "torch": torch.get_rng_state(),
            "sampler": distributed.gather(self.rng.get_state(), self.ranks, self.device),
        }
        if self.device.type == "cuda":
            rng["cuda"] = distributed.gather(
                torch.cuda.get_rng_state(self.device), self.ranks, self.device
            )
        if self.ranks.world > 1:
            distributed.broadcast_buffers(m.generator)
            distributed.broadcast_buffers(m.discriminator)
        return {
            "generator": m.generator.state_dict(),
            "discriminator": m.discriminator.state_dict(),
            "estimator": m.estimator.state_dict(),
            "opt_d": m.opt_d.state_dict(),
            "opt_g": m.opt_g.state_dict(),
            "rng": rng,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        m = self.models
        m.generator.load_state_dict(state["generator"])
        m.discriminator.load_state_dict(state["discriminator"])
        m.estimator.load_state_dict(state["estimator"])
        m.opt_d.load_state_dict(state["opt_d"])
        m.opt_g.load_state_dict(state["opt_g"])
        rng = state["rng"]
        if rng["sampler"].shape[0] != self.ranks.world:
            raise TrainingError(
                f"the checkpoint was written by {rng['sampler'].shape[0]} process(es); resume it "
                f"with as many (not {self.ranks.world})"
            )
        torch.set_rng_state(rng["torch"])
        self.rng.set_state(rng["sampler"][self.ranks.rank].clone())
        if "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"][self.ranks.rank].clone(), self.device)

    def _meta(self) -> dict[str, Any]:
        return {
            "recipe": to_data(self.recipe),
            "plugins": [vars(p) for p in host.loaded],
            "torch": torch.__version__,
            "device": str(self.device),
            "processes": self.ranks.world,
        }

    def _checkpoint(self) -> Path:
        state = self._state()
        path = checkpoint_path(self.run.checkpoints_dir, self.iteration)
        if self.ranks.main:
            save_checkpoint(
                self.run.checkpoints_dir,
                self.iteration,
                state,
                self._meta(),
                self.recipe.train.keep_checkpoints,
            )
        return path

    def truncate_metrics(self) -> None:
        """Drop lines a killed run logged after the checkpoint it resumes from."""
        kept = [r for r in self.run.metrics() if r["iteration"] <= self.iteration]
        write_text_atomic(self.run.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def _record(self, totals: torch.Tensor, count: int, seconds: float) -> dict[str, Any]:
        """The mean losses and L_I since the last record, over every rank (a collective call)."""
        values = distributed.average(totals / count, self.ranks.world).tolist()
        names = self.comps.code_names
        per_s = count / max(seconds, 1e-9)
        return {
            "iteration": self.iteration,
            "loss_d": values[0],
            "loss_g": values[1],
            "mi": dict(zip(names, values[2:], strict=True)),
            "entropy": dict(zip(names, self.models.estimator.entropies(), strict=True)),
            "iterations_per_s": per_s,
            "images_per_s": per_s * self.recipe.train.batch_size,
        }

    def _save_samples(self) -> None:
        images = self.recipe.images
        latents = sample_latents(self.comps, images.samples, self.recipe.train.seed)
        grid = render(self.models.generator, latents, self.value_range)
        nrow = max(1, round(math.sqrt(images.samples)))
        save_grid(grid, self.run.path / "samples" / f"iter-{self.iteration:07d}.png", nrow)

    def save_traversals(self) -> list[Path]:
        """One PNG per code: the code varies left → right, rows fix noise and other codes."""
        im, paths = self.recipe.images, []
        for i, name in enumerate(self.comps.code_names):
            latents, cols = traversal_latents(
                self.comps,
                i,
                im.traversal_rows,
                im.traversal_steps,
                im.traversal_range,
                self.recipe.train.seed,
            )
            grid = render(self.models.generator, latents, self.value_range)
            paths.append(save_grid(grid, self.run.path / "traversals" / f"{name}.png", cols))
        return paths

    def _log(self, record: dict[str, Any]) -> None:
        with self.run.metrics_path.open("a") as log:
            log.write(json.dumps(record) + "\n")

    def fit(self, show_progress: bool) -> Run:
        t, main = self.recipe.train, self.ranks.main
        totals = torch.zeros(2 + len(self.comps.codes), device=self.device)
        count, last_good = 0, None
        started = time.perf_counter()
        with TrainingProgress(t.iterations, self.iteration, show_progress and main) as bar:
            while self.iteration < t.iterations:
                totals += self.step(self.batches.batch(self.iteration))
                count += 1
                self.iteration += 1
                done = self.iteration == t.iterations
                at_checkpoint = self.iteration % t.checkpoint_every == 0 or done
                if self.iteration % t.log_every == 0 or at_checkpoint:
                    record = self._record(totals, count, time.perf_counter() - started)
                    if main:
                        self._log(record)
                    if not math.isfinite(
                        record["loss_d"] + record["loss_g"] + sum(record["mi"].values())
                    ):
                        kept = f"; the last good checkpoint is {last_good}" if last_good else ""
                        raise TrainingError(
                            f"non-finite loss at iteration {self.iteration} (D {record['loss_d']},"
                            f" G {record['loss_g']}); training stopped{kept}. Try a lower "
                            'learning rate or precision = "fp32".'
                        )
                    bar.update(self.iteration, record)
                    totals.zero_()
                    count, started = 0, time.perf_counter()
                if main and (self.iteration % t.sample_every == 0 or done):
                    self._save_samples()
                if at_checkpoint:
                    last_good = self._checkpoint()
        models = [self.models.generator, self.models.discriminator]
        distributed.check_identical(models, self.ranks, self.device)
        if main:
            self.save_traversals()
        distributed.stop(self.ranks)
        return self.run
