"""Damaged dataset files, table-driven, one reader per row: each real-format reader (VOC XML
annotations, .mat files, CUB's list files, images, tar members) turns a file it cannot read into
one message that names the file and what is wrong, exit 1, no traceback. Each reader also has a
valid row (a positive control) that must exit 0.

The rows run `disentangle data prepare`, which loads a dataset as `data download` does after
its files are in place, and as `run` does."""

from __future__ import annotations

import io
import random
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
from support.layouts import write_cars, write_chairs_tar, write_cub, write_dogs
from typer.testing import CliRunner

from disentangle.cli import add_plugin_commands, app

runner = CliRunner()
add_plugin_commands(app)

DOG = "Annotation/n02085620-Chihuahua/n02085620_1"
DOG_IMAGE = "Images/n02085620-Chihuahua/n02085620_1.jpg"
CARS_MAT = "devkit/cars_train_annos.mat"
CUB = "CUB_200_2011"
CHAIRS_TAR = "rendered_chairs.tar"


def rewrite(name: str, text: str | bytes) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return damage


def edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))

    return damage


def cut(name: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        data = (root / name).read_bytes()
        (root / name).write_bytes(data[: int(len(data) * keep)])

    return damage


def garbage(name: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        size = (root / name).stat().st_size
        (root / name).write_bytes(random.Random(name).randbytes(size))

    return damage


def huge_png_header(name: str) -> Callable[[Path], None]:
    """A PNG whose header claims 60,000 × 60,000 pixels (a decompression bomb)."""

    def damage(root: Path) -> None:
        ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
        (root / name).write_bytes(png + struct.pack(">I", zlib.crc32(chunk)))

    return damage


def cars_without_annotations(root: Path) -> None:
    scipy.io.savemat(root / CARS_MAT, {"other": np.zeros(3)})


def cars_without_a_field(root: Path) -> None:
    record = np.zeros((1, 1), dtype=[("fname", "O")])
    record[0, 0] = (np.array(["00001.jpg"]),)
    scipy.io.savemat(root / CARS_MAT, {"annotations": record})


def chairs_tar_with_a_broken_render(root: Path) -> None:
    with tarfile.open(root / CHAIRS_TAR) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
    member, data = members[0]
    with tarfile.open(root / CHAIRS_TAR, "w") as tar:
        for m, content in members:
            if m is member:
                content = b"\x89PNG\r\n\x1a\n" + data[8:40]  # a PNG cut after its header
                m.size = len(content)
            tar.addfile(m, io.BytesIO(content))


@dataclass(frozen=True)
class Case:
    dataset: str
    write: Callable[[Path], None]
    damage: Callable[[Path], None] | None
    needles: tuple[str, ...]
    root: str = ""  # the --root below the case's folder (an archive's name, for chairs)


def case(id_: str, dataset: str, damage: Callable[[Path], None] | None, *needles: str) -> Any:
    write = {"dogs": write_dogs, "cars": write_cars, "cub": write_cub, "chairs": _chairs}
    root = CHAIRS_TAR if dataset == "chairs" else ""
    return pytest.param(Case(dataset, write[dataset], damage, needles, root), id=id_)


def _chairs(root: Path) -> None:
    write_chairs_tar(root / CHAIRS_TAR)


CASES = [
    case("dogs-ok", "dogs", None),
    case("dogs-xml-malformed", "dogs", rewrite(DOG, "<annotation><object>"), DOG, "XML"),
    case("dogs-xml-empty", "dogs", rewrite(DOG, ""), DOG, "XML"),
    case("dogs-xml-binary", "dogs", garbage(DOG), DOG, "XML"),
    case("dogs-box-no-xmin", "dogs", edit(DOG, "<xmin>50</xmin>", ""), DOG, "<xmin>", "missing"),
    case(
        "dogs-box-xmin-word",
        "dogs",
        edit(DOG, "<xmin>50</xmin>", "<xmin>left</xmin>"),
        DOG,
        "<xmin>",
        "'left'",
    ),
    case("dogs-box-xmax-nan", "dogs", edit(DOG, "<xmax>90</xmax>", "<xmax>nan</xmax>"), DOG),
    case(
        "dogs-box-empty",
        "dogs",
        edit(DOG, "<xmax>90</xmax>", "<xmax>50</xmax>"),
        DOG_IMAGE,
        "empty",
    ),
    case("dogs-image-garbage", "dogs", garbage(DOG_IMAGE), DOG_IMAGE, "not a readable image"),
    case("dogs-image-cut", "dogs", cut(DOG_IMAGE), DOG_IMAGE),
    case("dogs-image-bomb", "dogs", huge_png_header(DOG_IMAGE), DOG_IMAGE),
    case("cars-ok", "cars", None),
    case("cars-mat-garbage", "cars", garbage(CARS_MAT), CARS_MAT),
    case("cars-mat-cut", "cars", cut(CARS_MAT), CARS_MAT),
    case("cars-mat-empty", "cars", rewrite(CARS_MAT, b""), CARS_MAT),
    case("cars-mat-no-annotations", "cars", cars_without_annotations, CARS_MAT, "annotations"),
    case("cars-mat-no-box", "cars", cars_without_a_field, CARS_MAT, "bbox_x1"),
    case("cub-ok", "cub", None),
    case(
        "cub-box-missing",
        "cub",
        edit(f"{CUB}/bounding_boxes.txt", "2 60.0 30.0 30.0 20.0\n", ""),
        "bounding_boxes.txt",
        "image 2",
    ),
    case(
        "cub-box-word",
        "cub",
        edit(f"{CUB}/bounding_boxes.txt", "2 60.0", "2 sixty"),
        "bounding_boxes.txt",
        "'sixty'",
    ),
    case(
        "cub-class-word",
        "cub",
        rewrite(f"{CUB}/image_class_labels.txt", "1 1\n2 two\n"),
        "image_class_labels.txt",
        "image 2",
    ),
    case(
        "cub-images-two-names",
        "cub",
        edit(f"{CUB}/images.txt", "1 001.Albatross/a.jpg", "1 a.jpg b.jpg"),
        "images.txt",
    ),
    case("chairs-ok", "chairs", None),
    case("chairs-tar-cut", "chairs", cut(CHAIRS_TAR, 0.6), CHAIRS_TAR),
    case("chairs-tar-garbage", "chairs", garbage(CHAIRS_TAR), CHAIRS_TAR),
    case("chairs-tar-member-broken", "chairs", chairs_tar_with_a_broken_render, "renders"),
]


@pytest.mark.parametrize("c", CASES)
def test_damaged_dataset_files(c: Case, tmp_path: Path) -> None:
    c.write(tmp_path)
    if c.damage is not None:
        c.damage(tmp_path)
    root = tmp_path / c.root
    args = ["data", "prepare", c.dataset, "--root", str(root), "--set", "cache=false"]
    args += ["--set", "resolution=16"]
    result = runner.invoke(app, args)
    output = " ".join(result.output.replace("│", " ").split())
    expected = 0 if c.damage is None else 1
    assert result.exit_code == expected, output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    squashed = output.replace(" ", "")
    for needle in c.needles:
        assert needle in output or needle.replace(" ", "") in squashed, (needle, output)
