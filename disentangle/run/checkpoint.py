"""Checkpoints: every tensor in one safetensors file, everything else in a JSON sidecar.

Both files are written atomically (temp file + rename), the tensors first: a checkpoint exists
once its sidecar does. Nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from disentangle.errors import CheckpointError
from disentangle.recipe.moved import upgrade_stored

FORMAT = 1
_TENSOR, _INT_KEYS = "__tensor__", "__int_keys__"


def split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested structure into `tensors`, leaving a JSON-able skeleton."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
        return {_TENSOR: prefix}
    if isinstance(obj, dict):
        out = {str(k): split_tensors(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        if obj and all(isinstance(k, int) for k in obj):
            return {_INT_KEYS: out}
        return out
    if isinstance(obj, list | tuple):
        return [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def join_tensors(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of split_tensors."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            return tensors[skeleton[_TENSOR]]
        if set(skeleton) == {_INT_KEYS}:
            return {int(k): join_tensors(v, tensors) for k, v in skeleton[_INT_KEYS].items()}
        return {k: join_tensors(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [join_tensors(v, tensors) for v in skeleton]
    return skeleton


def _atomic_write(
    path: Path, write: Callable[[Path], object], temp: Path | None = None, sync: bool = True
) -> None:
    """Write `path` whole: `write(temp)`, flushed to disk with `sync`, then renamed over `path`
    (`temp` defaults to `.NAME.tmp` beside it). A failed write (a full disk) removes the temp
    file; safetensors' own error is raised as the OSError it stands for, naming `path`."""
    temp = temp or path.with_name(f".{path.name}.tmp")
    try:
        write(temp)
        if sync:
            with open(temp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(temp, path)
    except (OSError, SafetensorError) as exc:
        with contextlib.suppress(OSError):  # never written, or no folder to hold it
            temp.unlink()
        if isinstance(exc, OSError):
            raise
        raise OSError(errno.EIO, str(exc), str(path)) from exc


def save_tensors_atomic(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write a safetensors file whole through a temp file beside `path`, named by the process
    so two writers do not share one. A failure raises an OSError for the caller to handle."""
    contiguous = {name: t.contiguous() for name, t in tensors.items()}
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _atomic_write(path, lambda tmp: save_file(contiguous, tmp), temp, sync=False)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a text file whole: readers see the old file or the new one, never a part."""
    _atomic_write(path, lambda tmp: tmp.write_text(text))


def checkpoint_path(folder: Path, iteration: int) -> Path:
    return folder / f"ckpt-{iteration:07d}.json"


def save_checkpoint(
    folder: Path, iteration: int, state: dict[str, Any], meta: dict[str, Any]
) -> Path:
    """Write state (nested dicts of tensors and plain values) and meta; returns the sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = split_tensors(state, "state", tensors)
    sidecar = checkpoint_path(folder, iteration)
    weights = sidecar.with_suffix(".safetensors")
    _atomic_write(weights, lambda tmp: save_file(tensors, str(tmp)))
    doc = {
        "format": FORMAT,
        "iteration": iteration,
        "weights": weights.name,
        "weights_bytes": weights.stat().st_size,
        **meta,
        "state": skeleton,
    }
    write_text_atomic(sidecar, json.dumps(doc, indent=1, allow_nan=False))
    return sidecar


def prune_checkpoints(folder: Path, keep: int) -> list[Path]:
    """Remove all but the last `keep` checkpoints; the files removed."""
    removed = []
    for old in list_checkpoints(folder)[:-keep]:
        for path in (old.with_suffix(".safetensors"), old):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints (sidecars) in a folder, oldest first."""
    return sorted(folder.glob("ckpt-*.json")) if folder.is_dir() else []


class Sidecar(BaseModel):
    """The keys every sidecar has; the rest (recipe, plugins, …) is the writer's meta."""

    format: Literal[1]
    iteration: int = Field(ge=0)
    weights: str = Field(pattern=r"^ckpt-\d+\.safetensors$")
    weights_bytes: int = Field(ge=0)
    recipe: dict[str, Any]
    state: Any


def read_meta(sidecar: Path) -> dict[str, Any]:
    """The JSON sidecar alone (recipe, iteration, plugins), without loading tensors."""
    try:
        doc = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{sidecar}: no such checkpoint") from None
    except IsADirectoryError:
        raise CheckpointError(f"{sidecar}: a folder, not a checkpoint sidecar") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{sidecar}: corrupt checkpoint sidecar ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar}: not a disentangle checkpoint (format {FORMAT})")
    try:
        Sidecar.model_validate(doc)
    except ValidationError as err:
        wrong = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].lower()}" for e in err.errors()
        )
        raise CheckpointError(f"{sidecar}: a damaged checkpoint sidecar ({wrong})") from None
    return doc


def load_checkpoint(sidecar: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, meta) of a checkpoint; a truncated or corrupt file raises CheckpointError."""
    doc = read_meta(sidecar)
    weights = sidecar.with_name(doc["weights"])
    if not weights.is_file():
        raise CheckpointError(f"{weights}: the checkpoint's tensor file is missing")
    if weights.stat().st_size != doc["weights_bytes"]:
        raise CheckpointError(
            f"{weights}: truncated ({weights.stat().st_size} of {doc['weights_bytes']} bytes)"
        )
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt safetensors file ({exc})") from None
    try:
        state = join_tensors(doc.pop("state"), tensors)
    except KeyError as exc:
        raise CheckpointError(f"{weights}: tensor {exc} is missing") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{sidecar}: a damaged state skeleton ({exc})") from None
    doc["recipe"] = upgrade_stored(doc.get("recipe"))  # written before keys moved into [method]
    return state, doc
