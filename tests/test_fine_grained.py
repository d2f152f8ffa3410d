"""CUB-200-2011, Stanford Cars and Stanford Dogs in their real layouts (list files, the devkit's
.mat annotations, VOC XML boxes), written small by the tests; FineGAN's box crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from disentangle_data.fine_grained import box_crop
from PIL import Image
from scipy.io import savemat

from disentangle.errors import DatasetError
from disentangle.plugins import host

GREEN = (0, 220, 0)


def dataset(kind: str, root: Path, **params: object) -> object:
    entry = host.datasets.get(kind)
    return entry.factory(entry.spec_model()(type=kind, root=str(root), resolution=16, **params))


def picture(path: Path, box: tuple[int, int, int, int], size: tuple[int, int] = (200, 100)) -> None:
    """Black, with FineGAN's crop square of `box` (x, y, w, h) painted green."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[max(0, cy - r) : cy + r, max(0, cx - r) : cx + r] = GREEN
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=100)


def test_the_box_crop_is_finegans_square_resized_and_centred() -> None:
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[10:70, 40:100] = GREEN  # box (50, 20, 40, 40): side 60 around (70, 40)
    out = box_crop(Image.fromarray(pixels), (50, 20, 40, 40), 32)
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8
    assert out[1].float().mean() > 215 and out[0].float().mean() < 5
    clipped = box_crop(Image.fromarray(pixels), (0, 0, 40, 90), 32)  # clipped at the corner
    assert clipped.shape == (3, 32, 32)


def test_cub_reads_its_list_files(tmp_path: Path) -> None:
    base = tmp_path / "CUB_200_2011"
    boxes = {"1": (50, 20, 40, 40), "2": (60, 30, 30, 20)}
    files = {"1": "001.Albatross/a.jpg", "2": "002.Auklet/b.jpg"}
    for key, name in files.items():
        picture(base / "images" / name, boxes[key])
    (base / "images.txt").write_text("".join(f"{k} {v}\n" for k, v in files.items()))
    lines = "".join(f"{k} {' '.join(f'{v:.1f}' for v in b)}\n" for k, b in boxes.items())
    (base / "bounding_boxes.txt").write_text(lines)
    (base / "image_class_labels.txt").write_text("1 1\n2 2\n")
    data = dataset("cub", tmp_path).load()
    assert data.images.shape == (2, 3, 16, 16) and data.labels.tolist() == [0, 1]
    assert data.images[:, 1].float().mean() > 200  # every crop is the painted square


def test_cars_read_the_devkit_annotations(tmp_path: Path) -> None:
    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"]
    annotations = np.zeros((1, 2), dtype=[(f, "O") for f in fields])
    for i, (name, box, label) in enumerate(
        [("00001.jpg", (50, 20, 40, 40), 14), ("00002.jpg", (70, 30, 50, 30), 3)]
    ):
        picture(tmp_path / "cars_train" / name, box)
        x, y, w, h = box
        corners = [np.array([[v]], dtype=np.uint16) for v in (x, y, x + w, y + h)]
        annotations[0, i] = (*corners, np.array([[label]], dtype=np.uint8), np.array([name]))
    (tmp_path / "devkit").mkdir()
    savemat(tmp_path / "devkit" / "cars_train_annos.mat", {"annotations": annotations})
    data = dataset("cars", tmp_path).load()
    assert data.labels.tolist() == [13, 2]
    assert data.images[:, 1].float().mean() > 200


def test_dogs_read_the_voc_boxes(tmp_path: Path) -> None:
    for breed, stem, box in (
        ("n02085620-Chihuahua", "n02085620_1", (50, 20, 40, 40)),
        ("n02085782-Japanese_spaniel", "n02085782_2", (80, 10, 30, 60)),
    ):
        picture(tmp_path / "Images" / breed / f"{stem}.jpg", box)
        x, y, w, h = box
        note = tmp_path / "Annotation" / breed / stem
        note.parent.mkdir(parents=True)
        note.write_text(
            f"<annotation><object><name>{breed}</name><bndbox><xmin>{x}</xmin><ymin>{y}</ymin>"
            f"<xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object></annotation>"
        )
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
