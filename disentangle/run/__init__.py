"""A run folder: its recipe, metrics, checkpoints and images, and the trained method."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from disentangle.errors import CheckpointError, RunDirError
from disentangle.method import Method, MethodSetup, build_method
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import Components, build_components
from disentangle.recipe.moved import upgrade_stored
from disentangle.recipe.sections import Recipe
from disentangle.run.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    read_meta,
    write_text_atomic,
)
from disentangle.run.figures import render, sample_latents, traversal_latents
from disentangle.run.metrics_log import read_records
from disentangle.update import Updater

#: the file that lists what the toolkit wrote into a run folder
MANIFEST = "manifest.json"


@dataclass
class Trained:
    """A method's networks rebuilt from a checkpoint (in eval mode), with what is needed to
    drive them."""

    method: Method
    components: Components
    recipe: Recipe
    iteration: int

    @property
    def generator(self) -> torch.nn.Module:
        """The decoder: latent vectors -> images (G for a GAN)."""
        return self.method.decoder()


class Run:
    """The files of one training run; `train()` returns one, `load_run()` opens one.

    `manifest.json` lists every file the toolkit wrote into the folder (each is listed before it
    is written), so replacing a run removes those files and nothing else.
    """

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

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def exists(self) -> bool:
        """Whether the folder holds a run (this version's, or an older one's without manifest)."""
        return self.manifest_path.is_file() or self.recipe_path.is_file()

    def file(self, *parts: str) -> Path:
        """A path inside the run folder; a name that would lead outside it is refused."""
        path = self.path.joinpath(*parts)
        if not path.resolve().is_relative_to(self.path.resolve()):
            raise RunDirError(
                f"{path}: outside the run folder {self.path}; names must not be paths"
            )
        return path

    def _manifest(self) -> dict[str, Any]:
        """The manifest's document: {"format", "files", and "training" once a run started}."""
        if not self.manifest_path.is_file():
            return {"files": []}
        try:
            doc = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{self.manifest_path}: corrupt manifest ({exc})") from None
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise RunDirError(f"{self.manifest_path}: not a manifest (no list of files)")
        return doc

    def written(self) -> list[str]:
        """The files the manifest lists, relative to the run folder."""
        return self._manifest()["files"]

    def training(self) -> dict[str, str]:
        """How the run trained the last time it started or resumed (device, precision, memory
        format and why, compile), as the manifest records it; empty for an older run."""
        return self._manifest().get("training", {})

    def record_training(self, facts: dict[str, str]) -> None:
        """Record in the manifest how the run trains (`Updater.setup`), when it (re)starts."""
        self._rewrite_manifest(training=facts)

    def claim(self, *paths: Path) -> None:
        """List files in the manifest before they are written."""
        self._rewrite_manifest(add={self._relative(p) for p in paths})

    def note(self, path: Path) -> Path:
        """Claim a file a command is about to write, when it lies in this run's folder."""
        inside = path.resolve().is_relative_to(self.path.resolve())
        if inside and self.manifest_path.is_file():
            self.claim(path)
        return path

    def forget(self, *paths: Path) -> None:
        """Drop files the toolkit removed from the manifest."""
        self._rewrite_manifest(drop={self._relative(p) for p in paths})

    def _relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.path.resolve()).as_posix()

    def _rewrite_manifest(
        self,
        add: Iterable[str] = (),
        drop: Iterable[str] = (),
        training: dict[str, str] | None = None,
    ) -> None:
        """The manifest read once and written with files added or dropped and, given, the
        training facts (kept otherwise)."""
        old = self._manifest()
        kept = old.get("training", {}) if training is None else training
        self.path.mkdir(parents=True, exist_ok=True)
        files = set(old["files"]).union(add).difference(drop)
        doc: dict[str, Any] = {"format": 1, "files": sorted(files)}
        if kept:
            doc["training"] = kept
        write_text_atomic(self.manifest_path, json.dumps(doc, indent=1))

    def remove_written(self) -> None:
        """Remove every file the manifest lists (and their temp files), then the manifest.

        Folders the removal leaves empty go too; anything else in the folder stays.
        """
        folders = set()
        for name in self.written():
            path = self.file(*name.split("/"))
            for victim in (path, path.with_name(f".{path.name}.tmp")):
                if victim.is_file() or victim.is_symlink():
                    victim.unlink()
            folders.update(p for p in path.parents if p.is_relative_to(self.path))
        folders.discard(self.path)
        self.manifest_path.unlink(missing_ok=True)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def require(self) -> Run:
        """This run, or a RunDirError when its folder is missing or holds no run."""
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: no such run folder")
        if not (self.exists() or self.checkpoints()):
            raise RunDirError(
                f"{self.path}: not a run folder (no {MANIFEST}, recipe.json or checkpoints)"
            )
        return self

    def checkpoints(self) -> list[Path]:
        return list_checkpoints(self.checkpoints_dir)

    def latest_checkpoint(self) -> Path:
        found = self.checkpoints()
        if not found:
            raise CheckpointError(f"{self.checkpoints_dir}: the run has no checkpoint yet")
        return found[-1]

    def recipe_data(self) -> dict[str, Any]:
        """recipe.json as data (not yet validated; keys it holds from before they moved into
        [method] are where the method now reads them)."""
        if not self.exists():
            raise RunDirError(f"{self.path}: not a run folder (no {MANIFEST} or recipe.json)")
        try:
            data = json.loads(self.recipe_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunDirError(f"{self.recipe_path}: missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{self.recipe_path}: not a JSON recipe ({exc})") from None
        if not isinstance(data, dict):
            raise RunDirError(f"{self.recipe_path}: not a JSON recipe (a {type(data).__name__})")
        return upgrade_stored(data)  # a run written before keys moved into [method]

    def recipe(self) -> Recipe:
        return validate_recipe(self.recipe_data(), str(self.recipe_path))

    def metrics(self) -> list[dict[str, Any]]:
        """Every record of metrics.jsonl; a torn last line (a killed write) is dropped, warned."""
        return read_records(self.metrics_path)

    def final_mi(self) -> dict[str, float]:
        """L_I per code at the last logged iteration (none for a method that logs none)."""
        records = self.metrics()
        return records[-1].get("mi", {}) if records else {}

    def load(self, checkpoint: str | Path | None = None, device: str = "cpu") -> Trained:
        """Rebuild the method's networks from a checkpoint (the latest by default)."""
        sidecar = Path(checkpoint or self.checkpoint or self.latest_checkpoint())
        state, meta = load_checkpoint(sidecar)
        recipe = validate_recipe(meta["recipe"], str(sidecar))
        comps = build_components(recipe)
        where = torch.device(device)
        updater = Updater.for_evaluation(recipe.train, where)  # plain modules, as trained
        setup = MethodSetup(recipe, comps, where, torch.Generator(where), updater)
        method: Method = build_method(setup)
        try:
            for part, module in method.networks.items():
                module.load_state_dict(state[part])
                module.eval()
        except (RuntimeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise CheckpointError(f"{sidecar}: weights do not fit the recipe ({exc})") from None
        return Trained(method, comps, recipe, meta["iteration"])

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
    return Run(path).require()
