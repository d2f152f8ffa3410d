"""The paper's file datasets (SVHN, CelebA, 3D Chairs, 3D Faces) from tiny files in real formats."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch
from disentangle_data.torch7 import Torch7Error, read_tensor
from PIL import Image
from support.layouts import (
    FACE_FOLDERS,
    chair_level,
    face_level,
    save_torch7,
    torch7_bytes,
    write_chairs_folder,
    write_chairs_tar,
    write_face_batches,
    write_faces_jpegs,
    write_svhn,
)

from disentangle import Dataset
from disentangle.errors import DatasetError
from disentangle.plugins import host

CACHE = ".disentangle-cache"


def dataset(type_: str, **params: Any) -> Dataset:
    spec = host.datasets.get(type_).spec_model()(type=type_, **params)
    return host.datasets.build(spec)


def no_traceback_chain(exc: BaseException) -> bool:
    """Whether the error shows alone: nothing chained, or the context suppressed."""
    return exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


def cache_files(folder: Path) -> list[Path]:
    return sorted((folder / CACHE).glob("*.safetensors"))


def test_all_four_are_registered_and_build_without_reading(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "nowhere")
    shapes = {
        "svhn": (3, 32, 32),
        "celeba": (3, 32, 32),
        "chairs": (1, 64, 64),
        "faces": (1, 32, 32),
    }
    for name, shape in shapes.items():
        assert dataset(name, root=nowhere).image_shape == shape
    assert dataset("celeba", root=nowhere, resolution=64).image_shape == (3, 64, 64)
    assert dataset("chairs", root=nowhere, resolution=32).image_shape == (1, 32, 32)
    assert dataset("faces", root=nowhere, resolution=48).image_shape == (1, 48, 48)
    assert not (tmp_path / "nowhere").exists()


# --- SVHN --------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test", "extra"])
def test_svhn_reads_the_mat_file(tmp_path: Path, split: str) -> None:
    x, _ = write_svhn(tmp_path, split, 12)
    data = dataset("svhn", root=str(tmp_path), split=split).load()
    assert data.images.shape == (12, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.images[5, 2, 7, 3] == x[7, 3, 2, 5]  # [N, C, H, W] from MATLAB's [H, W, C, N]
    assert torch.equal(data.images, torch.from_numpy(x).permute(3, 2, 0, 1))
    assert data.labels.dtype == torch.int64
    assert data.labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]


def test_svhn_cache_is_reused_and_a_corrupt_one_rebuilt(tmp_path: Path) -> None:
    write_svhn(tmp_path, "train", 6)
    first = dataset("svhn", root=str(tmp_path)).load()
    (cache,) = cache_files(tmp_path)
    assert cache.name.startswith("svhn-train-")
    assert list((tmp_path / CACHE).iterdir()) == [cache]  # no temp file left
    (tmp_path / "train_32x32.mat").unlink()
    again = dataset("svhn", root=str(tmp_path)).load()
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    cache.write_bytes(cache.read_bytes()[:-100])  # truncated
    write_svhn(tmp_path, "train", 6)
    rebuilt = dataset("svhn", root=str(tmp_path)).load()
    assert torch.equal(rebuilt.images, first.images)
    (tmp_path / "train_32x32.mat").unlink()
    assert torch.equal(dataset("svhn", root=str(tmp_path)).load().images, first.images)


def test_svhn_cache_that_cannot_be_written_only_warns(tmp_path: Path) -> None:
    write_svhn(tmp_path, "train", 4)
    (tmp_path / CACHE).write_text("a file where the cache folder goes")
    with pytest.warns(UserWarning, match="dataset cache not written"):
        assert len(dataset("svhn", root=str(tmp_path)).load().images) == 4


def test_svhn_without_cache_writes_none(tmp_path: Path) -> None:
    write_svhn(tmp_path, "test", 3)
    assert len(dataset("svhn", root=str(tmp_path), split="test", cache=False).load().images) == 3
    assert not (tmp_path / CACHE).exists()


def test_svhn_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        dataset("svhn", root=str(tmp_path), split="test").load()
    message = str(info.value)
    assert str(tmp_path / "test_32x32.mat") in message
    assert "<root>/train_32x32.mat" in message and "download = true" in message
    assert "http://ufldl.stanford.edu/housenumbers/" in message
    assert no_traceback_chain(info.value)
    (tmp_path / "test_32x32.mat").write_bytes(b"not a MATLAB file" * 20)
    with pytest.raises(DatasetError, match=r"not a valid SVHN \.mat file") as info:
        dataset("svhn", root=str(tmp_path), split="test").load()
    assert no_traceback_chain(info.value)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((28, 28, 3, 2), np.uint8)})
    with pytest.raises(DatasetError, match=r"X uint8 \[32, 32, 3, N\]"):
        dataset("svhn", root=str(tmp_path), split="test").load()


# --- CelebA ------------------------------------------------------------------------------------


def test_celeba_torchvision_layout_crops_the_centre(tmp_path: Path) -> None:
    write_faces_jpegs(tmp_path / "celeba" / "img_align_celeba", 4)
    data = dataset("celeba", root=str(tmp_path)).load()
    assert data.images.shape == (4, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.labels is None and data.factors is None
    border = torch.cat([data.images[:, :, 0], data.images[:, :, -1]], dim=2).float()
    assert (border[:, 1] > 200).all() and (border[:, 0] < 60).all()  # green edge, no red
    assert (data.images[:, 1, 15:17, 15:17] < 80).all()  # the mark is still in the middle
    bigger = dataset("celeba", root=str(tmp_path), resolution=64, crop=178).load()
    assert bigger.images.shape == (4, 3, 64, 64)
    assert (bigger.images[:, 0, 32, 0] > 200).all()  # a 178 crop keeps the red sides


def test_celeba_splits_follow_the_partition_list(tmp_path: Path) -> None:
    folder = tmp_path / "celeba" / "img_align_celeba"
    write_faces_jpegs(folder, 5)
    rows = ["000001.jpg 0", "000002.jpg 0", "000003.jpg 1", "000004.jpg 2", "000005.jpg 0"]
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")
    sizes = {
        split: len(dataset("celeba", root=str(tmp_path), split=split).load().images)
        for split in ("all", "train", "valid", "test")
    }
    assert sizes == {"all": 5, "train": 3, "valid": 1, "test": 1}
    for split, shade in (("valid", 120), ("test", 160)):  # 000003 and 000004
        image = dataset("celeba", root=str(tmp_path), split=split).load().images[0]
        assert abs(int(image[2, 16, 16]) - shade) < 15


def test_celeba_plain_folder_and_cache(tmp_path: Path) -> None:
    write_faces_jpegs(tmp_path / "aligned", 3)
    root = tmp_path / "aligned"
    data = dataset("celeba", root=str(root)).load()
    assert data.images.shape == (3, 3, 32, 32)
    (cache,) = cache_files(root)
    assert cache.name == "celeba-all-c140-r32-v1.safetensors"
    for path in root.glob("*.jpg"):
        path.unlink()
    assert torch.equal(dataset("celeba", root=str(root)).load().images, data.images)
    write_faces_jpegs(tmp_path / "other", 2)
    with pytest.raises(DatasetError, match=r"list_eval_partition\.txt") as info:
        dataset("celeba", root=str(tmp_path / "other"), split="train").load()
    assert 'split = "all"' in str(info.value)


def test_celeba_missing_names_the_layouts(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        dataset("celeba", root=str(tmp_path)).load()
    message = str(info.value)
    assert str(tmp_path / "celeba" / "img_align_celeba") + "/*.jpg" in message
    assert str(tmp_path / "img_align_celeba") + "/*.jpg" in message
    assert "mmlab.ie.cuhk.edu.hk" in message and "torchvision.datasets.CelebA" in message
    assert no_traceback_chain(info.value)
    folder = tmp_path / "celeba" / "img_align_celeba"
    write_faces_jpegs(folder, 2)
    (folder / "000002.jpg").write_bytes(b"truncated")
    with pytest.raises(DatasetError, match=r"000002\.jpg: not a readable image"):
        dataset("celeba", root=str(tmp_path)).load()


# --- 3D Chairs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["parent", "folder", "archive", "archive_inside"])
def test_chairs_layouts_crop_to_the_chair(tmp_path: Path, layout: str) -> None:
    if layout in ("parent", "folder"):
        write_chairs_folder(tmp_path)
    else:
        write_chairs_tar(tmp_path / "rendered_chairs.tar")
    root = {
        "parent": tmp_path,
        "folder": tmp_path / "rendered_chairs",
        "archive": tmp_path / "rendered_chairs.tar",
        "archive_inside": tmp_path,
    }[layout]
    data = dataset("chairs", root=str(root)).load()
    assert data.images.shape == (12, 1, 64, 64) and data.images.dtype == torch.uint8
    assert data.factor_names == ("chair", "elevation", "azimuth")
    assert data.factor_sizes == (2, 2, 3)
    assert data.factors.dtype == torch.int64
    assert data.factors.tolist() == [[c, e, a] for c in (0, 1) for e in (0, 1) for a in (0, 1, 2)]
    for image, (c, e, a) in zip(data.images, data.factors.tolist(), strict=True):
        light = 255 - chair_level(c, e, a)  # inverted: the chair is light on black
        assert abs(int(image[0, 32, 32]) - light) <= 1
        box = image[0] > light // 2
        columns, rows = box.any(0).nonzero().flatten(), box.any(1).nonzero().flatten()
        assert columns[-1] - columns[0] + 1 >= 56  # the box fills the width, bar the margin
        assert 40 <= rows[-1] - rows[0] + 1 <= 48  # and keeps its 4:3 aspect
        assert image[0, 32, :2].amax() < 10 and image[0, :5].amax() < 10  # a dark margin
    plain = dataset("chairs", root=str(root), invert=False, resolution=32).load()
    assert plain.images.shape == (12, 1, 32, 32)
    assert (plain.images[:, 0, 0, 0] == 255).all()


def test_chairs_cache_survives_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "rendered_chairs.tar"
    write_chairs_tar(archive)
    data = dataset("chairs", root=str(archive)).load()
    (cache,) = cache_files(tmp_path)
    assert cache.name == "chairs-all-r64-inverted-v1.safetensors"
    archive.unlink()
    again = dataset("chairs", root=str(archive)).load()
    assert torch.equal(again.images, data.images) and torch.equal(again.factors, data.factors)
    assert again.factor_sizes == (2, 2, 3)
    cache.write_bytes(b"\x08" + bytes(40))  # corrupt, and the archive is gone: it's rebuilt
    with pytest.raises(DatasetError, match=r"rendered_chairs\.tar"):
        dataset("chairs", root=str(archive)).load()


def test_chairs_missing_or_broken(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        dataset("chairs", root=str(tmp_path)).load()
    message = str(info.value)
    assert f"{tmp_path}/rendered_chairs/<chair>/renders/image_NNN_p" in message
    assert str(tmp_path / "rendered_chairs.tar") in message
    assert "Aubry" in message and "seeing3Dchairs" in message
    assert no_traceback_chain(info.value)
    (tmp_path / "rendered_chairs.tar").write_bytes(b"not a tar archive" * 100)
    with pytest.raises(DatasetError, match="not a valid tar archive") as info:
        dataset("chairs", root=str(tmp_path)).load()
    assert no_traceback_chain(info.value)


# --- 3D Faces ----------------------------------------------------------------------------------


def test_torch7_reader_round_trips() -> None:
    values = torch.arange(30, dtype=torch.float64)
    assert torch.equal(read_tensor(torch7_bytes(values, (5, 6), (6, 1))), values.view(5, 6))
    storage = torch.arange(40, dtype=torch.uint8)
    strided = read_tensor(torch7_bytes(storage, (3, 4), (1, 5), offset=7, versioned=False))
    assert torch.equal(strided, storage[7:].as_strided((3, 4), (1, 5)))
    assert strided.is_contiguous()
    floats = torch.rand(2, 1, 3, 3)
    assert torch.equal(
        read_tensor(torch7_bytes(floats.flatten(), (2, 1, 3, 3), (9, 9, 3, 1))), floats
    )
    good = torch7_bytes(storage, (40,), (1,))
    for broken, problem in (
        (good[:-1], "truncated"),
        (torch7_bytes(storage, (41,), (1,)), "overrun"),
        (good.replace(b"torch.ByteTensor", b"torch.ByteTensoX"), "expected one of"),
        (struct.pack("<i", 3) + good[4:], "expected a Torch object"),
    ):
        with pytest.raises(Torch7Error, match=problem):
            read_tensor(broken)


@pytest.mark.parametrize("split", ["train", "test"])
def test_faces_torch7_batches(tmp_path: Path, split: str) -> None:
    write_face_batches(tmp_path, {"train": "FT_training", "test": "FT_test"}[split])
    data = dataset("faces", root=str(tmp_path), split=split).load()
    assert data.images.shape == (4 * 2 * 3, 1, 32, 32) and data.images.dtype == torch.uint8
    expected = [face_level(v, b, i) for v in range(4) for b in (0, 1) for i in range(3)]
    assert data.images[:, 0, 16, 16].tolist() == expected
    assert (data.images == data.images[:, :, :1, :1]).all()  # flat images stay flat
    assert data.factor_names == ("variation",) and data.factor_sizes == (4,)
    assert data.factors.dtype == torch.int64
    assert data.factors[:, 0].tolist() == [v for v in range(4) for _ in range(6)]
    lighting = dataset("faces", root=str(tmp_path), split=split, variation="lighting").load()
    assert lighting.images[:, 0, 0, 0].tolist() == expected[12:18]
    assert lighting.factors[:, 0].tolist() == [2] * 6


def test_faces_cache_and_batch_order(tmp_path: Path) -> None:
    write_face_batches(tmp_path, "FT_training", images=1)
    folder = tmp_path / "th_AZ_VARIED" / "FT_training"
    save_torch7(folder / "batch10", torch.full((150, 150), 200, dtype=torch.uint8))
    data = dataset("faces", root=str(tmp_path), variation="azimuth", resolution=16).load()
    assert data.images[:, 0, 8, 8].tolist() == [face_level(0, 0, 0), face_level(0, 1, 0), 200]
    (cache,) = cache_files(tmp_path)
    assert cache.name == "faces-train-azimuth-r16-v1.safetensors"
    shutil.rmtree(tmp_path / "th_AZ_VARIED")
    again = dataset("faces", root=str(tmp_path), variation="azimuth", resolution=16).load()
    assert torch.equal(again.images, data.images) and torch.equal(again.factors, data.factors)


def test_faces_png_folders_and_plain_folder(tmp_path: Path) -> None:
    for v, folder in enumerate(FACE_FOLDERS):
        (tmp_path / folder / "FT_test").mkdir(parents=True)
        for i in range(2):
            image = Image.new("L", (150, 150), face_level(v, 0, i))
            image.save(tmp_path / folder / "FT_test" / f"face_{i:02d}.png")
    data = dataset("faces", root=str(tmp_path), split="test").load()
    assert data.images[:, 0, 3, 3].tolist() == [
        face_level(v, 0, i) for v in range(4) for i in (0, 1)
    ]
    assert data.factors[:, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    plain = tmp_path / "th_EL_VARIED" / "FT_test"
    data = dataset("faces", root=str(plain)).load()
    assert data.images.shape == (2, 1, 32, 32) and data.factors is None
    with pytest.raises(DatasetError, match='use variation = "all"'):
        dataset("faces", root=str(plain), variation="shape", cache=False).load()


def test_faces_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        dataset("faces", root=str(tmp_path)).load()
    message = str(info.value)
    assert f"{tmp_path}/{{th_AZ_VARIED|th_EL_VARIED|th_LIGHT_AZ_VARIED|th_SHAPE_VARIED}}" in message
    assert "{FT_training|FT_test}/batch<N>[.t7]" in message
    assert "dc-ign" in message and "Basel Face Model" in message
    assert no_traceback_chain(info.value)
    write_face_batches(tmp_path, "FT_training", images=1)
    with pytest.raises(DatasetError, match="no batch file or image") as info:
        dataset("faces", root=str(tmp_path), split="test").load()
    assert str(tmp_path / "th_AZ_VARIED" / "FT_test") in str(info.value)
    (tmp_path / "th_EL_VARIED" / "FT_training" / "batch1").write_bytes(b"\x04\x00")
    with pytest.raises(DatasetError, match="not a Torch7 tensor file: truncated") as info:
        dataset("faces", root=str(tmp_path)).load()
    assert no_traceback_chain(info.value)
    save_torch7(tmp_path / "th_EL_VARIED" / "FT_training" / "batch1", torch.zeros(2, 3, 8, 8))
    with pytest.raises(DatasetError, match=r"shape \(2, 3, 8, 8\)"):
        dataset("faces", root=str(tmp_path)).load()
