"""`image_folder`: any folder of images (with class subfolders as labels), centre-cropped and
resized, cached; read from PNG and JPEG files the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from disentangle.errors import DatasetError
from disentangle.plugins import host


def dataset(root: Path, **params: object) -> object:
    entry = host.datasets.get("image_folder")
    return entry.factory(entry.spec_model()(type="image_folder", root=str(root), **params))


def write(path: Path, width: int, height: int, colour: tuple[int, int, int]) -> None:
    """A wide or tall image: `colour` in the centre square, black bars either side."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    side = min(width, height)
    top, left = (height - side) // 2, (width - side) // 2
    pixels[top : top + side, left : left + side] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_a_flat_folder_crops_the_centre_and_has_no_labels(tmp_path: Path) -> None:
    write(tmp_path / "a.png", 60, 40, (200, 10, 10))
    write(tmp_path / "b.png", 30, 50, (10, 200, 10))
    data = dataset(tmp_path, resolution=16).load()
    assert data.images.shape == (2, 3, 16, 16) and data.labels is None
    assert data.images[0, 0].float().mean() > 190 and data.images[0, 1].float().mean() < 20
    assert data.images[1, 1].float().mean() > 190  # the bars were cropped away


def test_class_subfolders_are_the_labels_in_name_order(tmp_path: Path) -> None:
    for name, count in (("dogs", 2), ("cats", 3)):
        for i in range(count):
            write(tmp_path / name / f"{i}.jpg", 40, 40, (90, 90, 90))
    data = dataset(tmp_path, resolution=8, channels=1).load()
    assert data.images.shape == (5, 1, 8, 8)
    assert data.labels.tolist() == [0, 0, 0, 1, 1]  # cats, then dogs


def test_the_prepared_cache_is_read_back(tmp_path: Path) -> None:
    write(tmp_path / "a.png", 20, 20, (1, 2, 3))
    first = dataset(tmp_path, resolution=8).load()
    assert list((tmp_path / ".disentangle-cache").glob("image_folder-*.safetensors"))
    (tmp_path / "a.png").unlink()  # the cache alone now holds it
    assert torch.equal(dataset(tmp_path, resolution=8).load().images, first.images)


def test_an_empty_or_missing_folder_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="ROOT/<class>/"):
        dataset(tmp_path, cache=False).load()
    with pytest.raises(DatasetError, match="no such folder"):
        dataset(tmp_path / "nope").load()
