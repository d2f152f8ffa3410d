"""CUB-200-2011, Stanford Cars and Stanford Dogs in their real layouts (list files, the devkit's
.mat annotations, VOC XML boxes), written small by the tests; FineGAN's box crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from disentangle_data.fine_grained import box_crop
from PIL import Image
from support.layouts import GREEN, write_cars, write_cub, write_dogs

from disentangle.errors import DatasetError
from disentangle.plugins import host


def dataset(kind: str, root: Path, **params: object) -> object:
    entry = host.datasets.get(kind)
    return entry.factory(entry.spec_model()(type=kind, root=str(root), resolution=16, **params))


def test_the_box_crop_is_finegans_square_resized_and_centred() -> None:
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[10:70, 40:100] = GREEN  # box (50, 20, 40, 40): side 60 around (70, 40)
    out = box_crop(Image.fromarray(pixels), (50, 20, 40, 40), 32)
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8
    assert out[1].float().mean() > 215 and out[0].float().mean() < 5
    clipped = box_crop(Image.fromarray(pixels), (0, 0, 40, 90), 32)  # clipped at the corner
    assert clipped.shape == (3, 32, 32)


def test_cub_reads_its_list_files(tmp_path: Path) -> None:
    write_cub(tmp_path)
    data = dataset("cub", tmp_path).load()
    assert data.images.shape == (2, 3, 16, 16) and data.labels.tolist() == [0, 1]
    assert data.images[:, 1].float().mean() > 200  # every crop is the painted square


def test_cars_read_the_devkit_annotations(tmp_path: Path) -> None:
    write_cars(tmp_path)
    data = dataset("cars", tmp_path).load()
    assert data.labels.tolist() == [13, 2]
    assert data.images[:, 1].float().mean() > 200


def test_dogs_read_the_voc_boxes(tmp_path: Path) -> None:
    write_dogs(tmp_path)
    data = dataset("dogs", tmp_path).load()
    assert data.labels.tolist() == [0, 1]
    assert data.images[:, 1].float().mean() > 200


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("cub", "CUB_200_2011/ with images.txt"),
        ("cars", "cars_train_annos.mat"),
        ("dogs", "Images/<wnid>-<breed>"),
    ],
)
def test_a_missing_layout_is_named(kind: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=expected.replace("(", r"\(")):
        dataset(kind, tmp_path, cache=False).load()
