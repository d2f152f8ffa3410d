"""Datasets larger than memory: a prepared cache above `memory_map_mb` is memory-mapped, read by
index, and trains; the numbers are those of the in-memory path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from disentangle_data.cache import CACHE_FOLDER, mapped_images
from safetensors.torch import save_file
from support.layouts import write_png_folder
from test_image_folder import dataset

from disentangle.recipe import validate_recipe
from disentangle.run import load_run
from disentangle.training.data import DeviceBatches
from disentangle.training.loop import train

CPU = torch.device("cpu")
IMAGES = 24  # 24 × 28 × 28 bytes: 18 KiB, over a limit of 0.01 MiB


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text() if sys.platform == "linux" else ""


def test_images_over_the_limit_are_mapped_from_the_cache(tmp_path: Path) -> None:
    root = write_png_folder(tmp_path, IMAGES)
    params = {"resolution": 28, "channels": 1}
    whole = dataset(root, memory_map_mb=1.0, **params).load()  # builds the cache: in memory
    assert not whole.on_disk
    built = dataset(root, memory_map_mb=0.01, **params).load()  # over the limit
    again = dataset(root, memory_map_mb=0.01, **params).load()
    assert built.on_disk and again.on_disk
    assert torch.equal(built.images, whole.images) and torch.equal(again.images, whole.images)
    cache = next((root / CACHE_FOLDER).glob("*.safetensors"))
    if sys.platform == "linux":
        assert str(cache) in mapped_files()  # read from the file, not a copy in memory
    assert not dataset(root, memory_map_mb=0.01, cache=False, **params).load().on_disk


def test_a_fresh_build_over_the_limit_is_mapped_too(tmp_path: Path) -> None:
    root = write_png_folder(tmp_path, IMAGES)
    data = dataset(root, resolution=28, channels=1, memory_map_mb=0.01).load()
    assert data.on_disk and data.images.shape == (IMAGES, 1, 28, 28)


def test_mapped_images_read_the_safetensors_layout(tmp_path: Path) -> None:
    images = torch.arange(2 * 3 * 4 * 5, dtype=torch.int64).remainder(256).to(torch.uint8)
    tensors = {"labels": torch.arange(2), "images": images.view(2, 3, 4, 5)}
    save_file(tensors, tmp_path / "data.safetensors")
    assert torch.equal(mapped_images(tmp_path / "data.safetensors"), tensors["images"])
    save_file({"images": torch.zeros(2, 1, 2, 2)}, tmp_path / "floats.safetensors")
    with pytest.raises(ValueError, match="not uint8"):
        mapped_images(tmp_path / "floats.safetensors")


def test_batches_from_disk_are_the_in_memory_batches() -> None:
    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8)
    memory = DeviceBatches(images, 8, 3, (0.0, 1.0), CPU)
    disk = DeviceBatches(images, 8, 3, (0.0, 1.0), CPU, on_disk=True)
    for i in range(12):  # over two epochs
        assert torch.equal(memory.batch(i), disk.batch(i))


def test_a_recipe_trains_from_a_mapped_cache(tmp_path: Path) -> None:
    root = write_png_folder(tmp_path / "data", IMAGES)
    recipe = {
        "noise": {"type": "uniform", "dim": 2},
        "codes": [{"type": "uniform", "name": "c"}],
        "backbone": {"type": "mnist", "width": 0.125},
        "dataset": {
            "type": "image_folder",
            "root": str(root),
            "resolution": 28,
            "channels": 1,
            "memory_map_mb": 0.01,
        },
        "train": {"iterations": 3, "batch_size": 8, "device": "cpu", "tensorboard": False},
        "images": {"samples": 4, "traversal_rows": 2, "traversal_steps": 3},
    }
    run = train(validate_recipe(recipe), tmp_path / "run")
    assert [r["iteration"] for r in load_run(run.path).metrics()] == [3]
