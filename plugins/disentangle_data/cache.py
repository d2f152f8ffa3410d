"""Preprocessed datasets saved once as safetensors under <root>/.disentangle-cache/."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from pydantic import Field
from rich.console import Console
from rich.progress import track
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from disentangle import Params

CACHE_FOLDER = ".disentangle-cache"
#: part of every cache file's name: bump it when any dataset's preprocessing changes
FORMAT_VERSION = 1

T = TypeVar("T")
Tensors = dict[str, torch.Tensor]


class CachedParams(Params):
    cache: bool = Field(
        True,
        description=f"keep the preprocessed tensors in <root>/{CACHE_FOLDER}/ so later runs "
        "load in seconds (delete that folder to rebuild)",
    )


def cache_file(folder: Path, dataset: str, split: str, key: str = "") -> Path:
    """The cache of `dataset`'s `split` preprocessed as `key` says, under `folder`."""
    name = "-".join(part for part in (dataset, split, key, f"v{FORMAT_VERSION}") if part)
    return folder / CACHE_FOLDER / f"{name}.safetensors"


def cached(path: Path | None, build: Callable[[], Tensors]) -> Tensors:
    """The tensors at `path` when it holds a valid cache, else `build()`'s, saved there."""
    tensors = _read(path) if path is not None else None
    if tensors is None:
        tensors = build()
        if path is not None:
            _write(path, tensors)
    return tensors


def progress(items: Sequence[T], description: str) -> Iterable[T]:
    """Iterate `items` under a transient Rich progress bar on stderr."""
    return track(items, description=description, console=Console(stderr=True), transient=True)


def _read(path: Path) -> Tensors | None:
    """The cached tensors, or None when the file is missing or corrupt (so it is rebuilt)."""
    try:
        tensors = load_file(path)
    except (OSError, SafetensorError):
        return None
    images = tensors.get("images")
    if images is None or images.dtype != torch.uint8 or images.dim() != 4:
        return None
    if any(len(t) != len(images) for t in tensors.values()):
        return None
    return tensors


def _write(path: Path, tensors: Tensors) -> None:
    """Save atomically (a temp file renamed over `path`); a folder that can't be written warns."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({name: t.contiguous() for name, t in tensors.items()}, temp)
        os.replace(temp, path)
    except (OSError, SafetensorError) as exc:
        with contextlib.suppress(OSError):  # never written, or no folder to hold it
            temp.unlink()
        warnings.warn(f"dataset cache not written to {path}: {exc}", stacklevel=3)
