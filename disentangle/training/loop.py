"""The training loop: a recipe in, a run folder out (checkpoints, metrics.jsonl, PNG grids)."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from disentangle.analysis.evaluate import evaluate
from disentangle.compiled import refuse_uncompilable
from disentangle.contract import check_step
from disentangle.device import resolve_device
from disentangle.errors import (
    CheckpointError,
    Problem,
    RecipeError,
    TrainingError,
    warn,
)
from disentangle.method import Method, MethodSetup, build_method
from disentangle.plugins import host
from disentangle.recipe import apply_overrides, load_recipe, to_data, validate_recipe
from disentangle.recipe.build import Components, build_components
from disentangle.recipe.sections import Recipe
from disentangle.run import Run
from disentangle.run.checkpoint import (
    checkpoint_path,
    prune_checkpoints,
    save_checkpoint,
    write_text_atomic,
)
from disentangle.run.figures import render, sample_latents, save_grid, traversal_latents
from disentangle.run.lock import lock_run
from disentangle.run.metrics_log import json_line, nonfinite_keys
from disentangle.run.safety import check_folder, claim_folder
from disentangle.run.triage import check_shapes, newest_intact, refuse_backwards
from disentangle.training import distributed
from disentangle.training.data import DeviceBatches
from disentangle.training.progress import TrainingProgress
from disentangle.training.tensorboard import Board
from disentangle.training.tensorboard import available as tensorboard_available
from disentangle.update import Updater


def train(
    recipe: Recipe | str | Path,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> Run:
    """Train a recipe (a validated model or a TOML path) into a new run folder, holding the
    folder's writer lock."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    run = Run(out if out is not None else Path("runs") / recipe.name)
    check_folder(run, overwrite)  # before the lock makes the folder: a file, a user's folder
    with lock_run(run.path, create=True):
        check_folder(run, overwrite)  # again, now that no other process can write into it
        trainer = Trainer(recipe, run)  # loads the data: a missing dataset leaves no folder
        if trainer.ranks.main:
            claim_folder(run)
            trainer.write_recipe()
        distributed.barrier(trainer.ranks)
        return _finish(trainer, progress)


def resume(
    run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (), *, progress: bool = False
) -> Run:
    """Continue a run from its newest intact checkpoint; `overrides` (e.g. train.iterations=N)
    apply, unless the restored state would undo them (then they are refused).

    Everything is read and checked, under the folder's writer lock, before any file of the run
    changes. A run already at its train.iterations has nothing to do: nothing is written.
    """
    run = Run(run_dir).require()
    with lock_run(run.path):
        if not run.checkpoints():
            data = run.recipe_data()
            apply_overrides(data, overrides)
            recipe = validate_recipe(data, f"{run.recipe_path} (with --set overrides)")
            warn(f"{run.path} stopped before its first checkpoint: starting it from the beginning")
            return train(recipe, run.path, overwrite=True, progress=progress)
        sidecar, state, meta, stored = newest_intact(run)
        data = meta["recipe"]
        apply_overrides(data, overrides)
        recipe = validate_recipe(data, f"{sidecar} (with --set overrides)")
        if recipe.train.seed != stored.train.seed:
            problem = "cannot change on resume: the checkpoint restores its random state"
            raise RecipeError("--set", [Problem("train.seed", problem)])
        refuse_backwards(recipe, meta["iteration"], sidecar)
        records = run.metrics()
        trainer = Trainer(recipe, run, state, meta["iteration"], overrides, sidecar)
        if recipe.train.iterations == trainer.iteration:  # checked in full, but nothing to train
            if trainer.ranks.main:
                print(
                    f"nothing to do: {run.path} is at iteration {trainer.iteration} already "
                    f"(train.iterations = {recipe.train.iterations}): its checkpoints, "
                    "recipe.json and metrics.jsonl are left as they are. To train on, give "
                    "--set train.iterations=N with N above it.",
                    file=sys.stderr,
                )
            distributed.stop(trainer.ranks)
            return run
        if trainer.ranks.main:
            trainer.write_recipe()
            trainer.truncate_metrics(records)
        distributed.barrier(trainer.ranks)
        return _finish(trainer, progress)


def _finish(trainer: Trainer, progress: bool) -> Run:
    """Train to the end, then compute the recipe's [evaluate] metrics into eval.json."""
    run = trainer.fit(progress)
    wanted = trainer.recipe.evaluate
    if trainer.ranks.main and wanted.metrics:
        if progress:
            fast = " (fast)" if wanted.fast else ""
            print(f"evaluating {', '.join(wanted.metrics)}{fast} …", file=sys.stderr)
        evaluate(run, wanted.metrics, fast=wanted.fast, chance=wanted.chance)
    return run


class Trainer:
    """Builds the models from a recipe, restores a checkpoint's state, and runs iterations."""

    def __init__(
        self,
        recipe: Recipe,
        run: Run,
        state: dict[str, Any] | None = None,
        iteration: int = 0,
        overrides: list[str] | tuple[str, ...] = (),
        source: Path | None = None,
    ) -> None:
        self.recipe, self.run, self.iteration = recipe, run, iteration
        #: the checkpoint this trainer resumed from: the last good one until it writes its own
        self.last_good = source
        t = recipe.train
        self.ranks = distributed.ranks_from_env()
        if t.batch_size % self.ranks.world:
            raise TrainingError(
                f"train.batch_size = {t.batch_size} (the global batch) must divide evenly "
                f"among {self.ranks.world} processes"
            )
        local = self.ranks.local_rank if self.ranks.world > 1 else None
        self.device = resolve_device(t.device, local)
        distributed.start(self.ranks, self.device)
        torch.manual_seed(t.seed)
        self.comps: Components = build_components(recipe)
        self.value_range = self.comps.value_range
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(t.seed + 1_000_003 * self.ranks.rank)
        self.updater = Updater.from_recipe(t, self.device, distributed.gradient_sync(self.ranks))
        setup = MethodSetup(recipe, self.comps, self.device, self.rng, self.updater)
        self.entry = host.methods.get(recipe.method.type)
        self.method: Method = build_method(setup)
        # after the method, so that what the recipe itself cannot do (a method's own refusal)
        # is said first, on every machine; torch.compile builds nothing before the first step
        refuse_uncompilable(self.updater.compile, self.device.type)
        if state is not None:
            self._restore(state, overrides, source)
        data = self.comps.dataset.load()
        self.batches = DeviceBatches(
            data.images,
            t.batch_size,
            t.seed,
            self.value_range,
            self.device,
            self.ranks,
            self.updater.channels_last,
            data.on_disk,
        )
        self.board = (
            Board(run, iteration, self.comps.code_names)
            if t.tensorboard and self.ranks.main and tensorboard_available()
            else None
        )

    def _state(self) -> dict[str, Any]:
        """Everything a resume needs; every rank's RNG states (a collective call)."""
        m = self.method
        rng = {
            "torch": torch.get_rng_state(),
            "sampler": distributed.gather(self.rng.get_state(), self.ranks, self.device),
        }
        if self.device.type == "cuda":
            rng["cuda"] = distributed.gather(
                torch.cuda.get_rng_state(self.device), self.ranks, self.device
            )
        if self.ranks.world > 1:
            for module in m.networks.values():
                distributed.broadcast_buffers(module)
        return {
            **{name: module.state_dict() for name, module in m.networks.items()},
            **{name: opt.state_dict() for name, opt in m.optimizers.items()},
            "rng": rng,
        }

    def _restore(
        self, state: dict[str, Any], overrides: list[str] | tuple[str, ...], source: Path | None
    ) -> None:
        """Load a checkpoint's state; the recipe's optimizer settings then apply (a resume may
        change them), while a recipe whose networks differ from the checkpoint's is refused."""
        m = self.method
        for part in (*m.networks, *m.optimizers):
            if part not in state:
                raise CheckpointError(f"{source}: the training state lacks {part!r}")
        for part, module in m.networks.items():
            check_shapes(part, module, state[part], overrides, source)
        try:
            for part, module in m.networks.items():
                module.load_state_dict(state[part])
            for part, opt in m.optimizers.items():
                opt.load_state_dict(state[part])
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise CheckpointError(f"{source}: the state does not fit its recipe ({exc})") from None
        self.updater.restored()
        m.restored()
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
            "memory_format": self.updater.layout(),
        }

    def _checkpoint(self) -> None:
        """Write a checkpoint, only from weights that are finite and give finite outputs."""
        problem = self._unhealthy()
        if problem is not None:
            kept = f"; the last good checkpoint is {self.last_good}" if self.last_good else ""
            raise TrainingError(
                f"non-finite model at iteration {self.iteration} ({problem}); training stopped "
                f"and this state was not saved{kept}. Try a lower learning rate or "
                'precision = "fp32".'
            )
        state = self._state()
        path = checkpoint_path(self.run.checkpoints_dir, self.iteration)
        if self.ranks.main:
            self.run.claim(path, path.with_suffix(".safetensors"))
            save_checkpoint(self.run.checkpoints_dir, self.iteration, state, self._meta())
            removed = prune_checkpoints(
                self.run.checkpoints_dir, self.recipe.train.keep_checkpoints
            )
            self.run.forget(*removed)
        self.last_good = path

    @torch.no_grad()
    def _unhealthy(self) -> str | None:
        """Why the model cannot be checkpointed (non-finite weights or outputs), or None.

        G and D/Q run in eval mode on a fixed latent batch, as `sample` and `eval` will run
        them: weights can be finite yet so large that every image is NaN.
        """
        m = self.method
        for name, module in m.networks.items():
            for key, value in module.state_dict().items():
                if value.is_floating_point() and not torch.isfinite(value).all():
                    return f"{name} {key} holds non-finite values"
        latents = sample_latents(self.comps, 8, self.recipe.train.seed).to(self.device)
        modes = {module: module.training for module in m.networks.values()}
        for module in modes:
            module.eval()
        try:
            images = m.decoder()(latents)
            outputs = {"the decoder's images": images, **m.outputs(images)}
        finally:
            for module, mode in modes.items():
                module.train(mode)
        for name, value in outputs.items():
            if not torch.isfinite(value).all():
                return f"{name} are not finite"
        return None

    def write_recipe(self) -> None:
        self.run.claim(self.run.recipe_path)
        write_text_atomic(self.run.recipe_path, json.dumps(to_data(self.recipe), indent=1))

    def truncate_metrics(self, records: list[dict[str, Any]]) -> None:
        """Keep the records up to the checkpoint resumed from (a killed run logged more)."""
        kept = [r for r in records if r["iteration"] <= self.iteration]
        self.run.claim(self.run.metrics_path)
        write_text_atomic(self.run.metrics_path, "".join(json_line(r) for r in kept))

    def _record(self, totals: torch.Tensor, count: int, seconds: float) -> dict[str, Any]:
        """The mean losses and L_I since the last record, over every rank (a collective call)."""
        values = distributed.average(totals / count, self.ranks.world).tolist()
        per_s = count / max(seconds, 1e-9)
        return {
            "iteration": self.iteration,
            **self.method.record(values),
            "iterations_per_s": per_s,
            "images_per_s": per_s * self.recipe.train.batch_size,
        }

    def _save_samples(self) -> None:
        images = self.recipe.images
        latents = sample_latents(self.comps, images.samples, self.recipe.train.seed)
        grid = render(self.method.decoder(), latents, self.value_range)
        nrow = max(1, round(math.sqrt(images.samples)))
        path = self.run.file("samples", f"iter-{self.iteration:07d}.png")
        self.run.claim(path)
        save_grid(grid, path, nrow)
        if self.board is not None:
            self.board.images("samples", grid, nrow, self.iteration)

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
            grid = render(self.method.decoder(), latents, self.value_range)
            path = self.run.file("traversals", f"{name}.png")
            self.run.claim(path)
            paths.append(save_grid(grid, path, cols))
            if self.board is not None:
                self.board.images(f"traversals/{name}", grid, cols, self.iteration)
        return paths

    def _log(self, record: dict[str, Any]) -> None:
        if not self.run.metrics_path.exists():
            self.run.claim(self.run.metrics_path)
        with self.run.metrics_path.open("a") as log:
            log.write(json_line(record))
        if self.board is not None:
            self.board.record(record)

    def fit(self, show_progress: bool) -> Run:
        t, main = self.recipe.train, self.ranks.main
        totals, count = torch.zeros(len(self.method.scalars), device=self.device), 0
        if main:
            self.run.record_training(self.updater.setup())
        if show_progress and main:
            print(f"training {self.recipe.name}: {self.updater.summary()}", file=sys.stderr)
        started = time.perf_counter()
        with TrainingProgress(t.iterations, self.iteration, show_progress and main) as bar:
            while self.iteration < t.iterations:
                numbers = self.method.step(self.batches.batch(self.iteration))
                if count == 0:
                    check_step(numbers, self.method, self.entry)
                totals += numbers
                count += 1
                self.iteration += 1
                done = self.iteration == t.iterations
                at_checkpoint = self.iteration % t.checkpoint_every == 0 or done
                if self.iteration % t.log_every == 0 or at_checkpoint:
                    record = self._record(totals, count, time.perf_counter() - started)
                    if main:
                        self._log(record)
                    bad = nonfinite_keys(record)
                    if bad:
                        good = self.last_good
                        kept = f"; the last good checkpoint is {good}" if good else ""
                        raise TrainingError(
                            f"non-finite loss at iteration {self.iteration} ({', '.join(bad)});"
                            f" training stopped{kept}. Try a lower learning rate or "
                            'precision = "fp32".'
                        )
                    bar.update(self.iteration, record)
                    totals.zero_()
                    count, started = 0, time.perf_counter()
                if main and (self.iteration % t.sample_every == 0 or done):
                    self._save_samples()
                if at_checkpoint:
                    self._checkpoint()
        models = list(self.method.networks.values())
        distributed.check_identical(models, self.ranks, self.device)
        if main:
            self.save_traversals()
        if self.board is not None:
            self.board.close()
        distributed.stop(self.ranks)
        return self.run
