"""Preprocessed datasets saved once as safetensors under <root>/.disentangle-cache/.

A cache whose images exceed the recipe's `memory_map_mb` is not loaded: its images are
memory-mapped from the file (the safetensors layout is an 8-byte header length, a JSON header,
then each tensor's raw bytes), so training reads the batches it draws by index and the
operating system pages them in and out; the small tensors (labels, factors) load as usual.
"""

from __future__ import annotations

import json
import math
import struct
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from pydantic import Field
from rich.console import Console
from rich.progress import track
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from disentangle import Params
from disentangle.run.checkpoint import save_tensors_atomic

CACHE_FOLDER = ".disentangle-cache"
#: part of every cache file's name: bump it when any dataset's preprocessing changes
FORMAT_VERSION = 1

T = TypeVar("T")
Tensors = dict[str, torch.Tensor]


class Prepared(dict[str, torch.Tensor]):
    """A dataset's prepared tensors; `mapped` when the images are memory-mapped from the
    cache file rather than held in memory."""

    mapped: bool = False


class CachedParams(Params):
    cache: bool = Field(
        True,
        description=f"keep the preprocessed tensors in <root>/{CACHE_FOLDER}/ so later runs "
        "load in seconds (delete that folder to rebuild)",
    )
    memory_map_mb: float = Field(
        4096.0,
        ge=0,
        description="read a cache whose images exceed this many MiB memory-mapped, by index, "
        "instead of loading them whole (needs cache = true)",
    )

    @property
    def map_above(self) -> float:
        """The images' size in bytes above which the cache is memory-mapped."""
        return self.memory_map_mb * 2**20 if self.cache else math.inf


def cache_file(folder: Path, dataset: str, split: str, key: str = "") -> Path:
    """The cache of `dataset`'s `split` preprocessed as `key` says, under `folder`."""
    name = "-".join(part for part in (dataset, split, key, f"v{FORMAT_VERSION}") if part)
    return folder / CACHE_FOLDER / f"{name}.safetensors"


def cached(
    path: Path | None, build: Callable[[], Tensors], map_above: float = math.inf
) -> Prepared:
    """The tensors at `path` when it holds a valid cache, else `build()`'s, saved there; the
    images memory-mapped from the file when they take more than `map_above` bytes."""
    tensors = _read(path, map_above) if path is not None else None
    if tensors is None:
        built = build()
        if path is not None:
            _write(path, built)
            if built["images"].nbytes > map_above:
                tensors = _read(path, map_above)  # the built copy is dropped on return
        if tensors is None:
            tensors = Prepared(built)
    return tensors


def progress(items: Sequence[T], description: str) -> Iterable[T]:
    """Iterate `items` under a transient Rich progress bar on stderr."""
    return track(items, description=description, console=Console(stderr=True), transient=True)


def mapped_images(path: Path) -> torch.Tensor:
    """The uint8 `images` tensor of a safetensors file, memory-mapped read-only (no copy)."""
    with path.open("rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        entry = json.loads(file.read(length))["images"]
    if entry["dtype"] != "U8":
        raise ValueError(f"images are {entry['dtype']}, not uint8")
    begin, end = entry["data_offsets"]
    shape = tuple(entry["shape"])
    if end - begin != math.prod(shape):
        raise ValueError("the images' byte range does not match their shape")
    array = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length + begin, shape=shape)
    with warnings.catch_warnings():  # read-only on purpose: nothing writes to the data
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(array)


def _read(path: Path, map_above: float) -> Prepared | None:
    """The cached tensors, or None when the file is missing or corrupt (so it is rebuilt)."""
    try:
        with safe_open(path, framework="pt") as file:
            names = list(file.keys())
            size = math.prod(file.get_slice("images").get_shape()) if "images" in names else 0
            mapped = size > map_above
            if mapped:  # the small tensors read here, the images mapped below
                tensors = Prepared({n: file.get_tensor(n) for n in names if n != "images"})
        if mapped:
            tensors["images"] = mapped_images(path)
            tensors.mapped = True
        else:
            tensors = Prepared(load_file(path))
    except (OSError, SafetensorError, ValueError, KeyError, json.JSONDecodeError, struct.error):
        return None
    images = tensors.get("images")
    if images is None or images.dtype != torch.uint8 or images.dim() != 4:
        return None
    if any(len(t) != len(images) for t in tensors.values()):
        return None
    return tensors


def _write(path: Path, tensors: Tensors) -> None:
    """Save atomically (a temp file renamed over `path`); a folder that can't be written warns."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_tensors_atomic(tensors, path)
    except OSError as exc:
        warnings.warn(f"dataset cache not written to {path}: {exc}", stacklevel=3)
