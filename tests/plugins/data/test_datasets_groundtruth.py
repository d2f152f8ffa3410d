"""dSprites and 3D Shapes from tiny files in the official formats, looked up for the metrics."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from disentangle_metrics.ground_truth import RenderedDataset, is_ground_truth
from support.layouts import DSPRITES_SIZES, grid_rows, marked_images, write_dsprites, write_shapes3d

from disentangle import Dataset
from disentangle.errors import DatasetError
from disentangle.plugins import host

DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SHAPES3D_SIZES = (2, 1, 2, 3, 2, 2)


def dataset(type_: str, **params: Any) -> Dataset:
    spec = host.datasets.get(type_).spec_model()(type=type_, **params)
    return host.datasets.build(spec)


def no_traceback_chain(exc: BaseException) -> bool:
    """Whether the error shows alone: nothing chained, or the context suppressed."""
    return exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


@pytest.fixture
def dsprites_file(tmp_path: Path) -> Path:
    path = tmp_path / DSPRITES_FILE
    write_dsprites(path)
    return path


def test_both_are_registered_and_build_without_reading(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "nowhere")
    dsprites, shapes = dataset("dsprites", root=nowhere), dataset("shapes3d", root=nowhere)
    assert dsprites.image_shape == (1, 64, 64)
    assert dsprites.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert dsprites.factor_sizes == (3, 6, 40, 32, 32)
    assert shapes.image_shape == (3, 64, 64)
    assert shapes.factor_names == (
        "floor_hue",
        "wall_hue",
        "object_hue",
        "scale",
        "shape",
        "orientation",
    )
    assert shapes.factor_sizes == (10, 10, 10, 8, 4, 15)
    assert not (tmp_path / "nowhere").exists()


# --- dSprites ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["folder", "file"])
def test_dsprites_reads_the_npz(dsprites_file: Path, layout: str) -> None:
    root = dsprites_file.parent if layout == "folder" else dsprites_file
    ds = dataset("dsprites", root=str(root))
    data = ds.load()
    n = int(np.prod(DSPRITES_SIZES))
    assert data.images.shape == (n, 1, 64, 64) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], torch.from_numpy(marked_images(n)) * 255)
    assert data.factors.dtype == torch.int64
    assert data.factors.tolist() == grid_rows(DSPRITES_SIZES)[:, 1:].tolist()  # color dropped
    assert data.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert data.factor_sizes == ds.factor_sizes == DSPRITES_SIZES[1:]
    assert data.labels is None
    assert ds.load() is data  # read once


def test_dsprites_render_looks_images_up(dsprites_file: Path) -> None:
    ds = dataset("dsprites", root=str(dsprites_file))
    data = ds.load()
    order = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))
    assert torch.equal(ds.render(data.factors[order]), data.images[order])
    with pytest.raises(ValueError, match=r"factors must be \[n, 5\]"):
        ds.render(data.factors[:, :4])
    with pytest.raises(ValueError, match="out of range"):
        ds.render(torch.tensor([[0, 0, 0, 0, 2]]))


def test_dsprites_sample_factors_loads_and_is_seeded(dsprites_file: Path) -> None:
    ds = dataset("dsprites", root=str(dsprites_file))
    factors = ds.sample_factors(400, torch.Generator().manual_seed(1))
    assert factors.shape == (400, 5) and factors.dtype == torch.int64
    assert [len(column.unique()) for column in factors.T] == list(DSPRITES_SIZES[1:])
    assert torch.equal(factors, ds.sample_factors(400, torch.Generator().manual_seed(1)))
    assert ds.render(factors).shape == (400, 1, 64, 64)


def test_dsprites_is_ground_truth_for_the_metrics(tmp_path: Path) -> None:
    path = tmp_path / DSPRITES_FILE
    write_dsprites(path, (1, 3, 1, 2, 2, 1))  # constant scale and y: hidden from the metrics
    ds = dataset("dsprites", root=str(path))
    ds.load()
    assert is_ground_truth(ds)
    truth = RenderedDataset(ds)
    assert truth.factor_sizes == (3, 2, 2)
    factors = truth.sample_factors(50, np.random.default_rng(0))
    full = torch.zeros(50, 5, dtype=torch.int64)
    full[:, [0, 2, 3]] = torch.from_numpy(factors)
    assert torch.equal(truth.observations(factors), ds.render(full))


def test_dsprites_missing_names_the_file_and_source(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        dataset("dsprites", root=str(tmp_path)).load()
    message = str(info.value)
    assert str(tmp_path / DSPRITES_FILE) in message
    assert "github.com/deepmind/dsprites-dataset" in message
    assert no_traceback_chain(info.value)


def test_dsprites_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / DSPRITES_FILE

    def error() -> str:
        with pytest.raises(DatasetError) as info:
            dataset("dsprites", root=str(tmp_path)).load()
        assert no_traceback_chain(info.value)
        return str(info.value)

    path.write_bytes(b"not an npz" * 10)
    assert "is not the dSprites .npz" in error()
    with zipfile.ZipFile(path, "w") as broken:
        broken.writestr("imgs.npy", b"truncated")
    assert "is not the dSprites .npz" in error()
    np.savez_compressed(path, imgs=marked_images(4))
    assert "KeyError" in error()
    np.savez_compressed(path, imgs=marked_images(4)[:, :32], latents_classes=grid_rows((4, 1)))
    assert "imgs uint8 (4, 32, 64)" in error()
    np.savez_compressed(
        path, imgs=marked_images(2) * 3, latents_classes=grid_rows((1, 2, *[1] * 4))
    )
    assert "values other than 0 and 1" in error()
    classes = write_dsprites(path)
    shuffled = np.random.default_rng(0).permutation(len(classes))
    np.savez_compressed(path, imgs=marked_images(len(classes)), latents_classes=classes[shuffled])
    assert "grid order" in error()
    np.savez_compressed(path, imgs=marked_images(47), latents_classes=classes[:47])  # one missing
    assert "grid order" in error()


# --- 3D Shapes ---------------------------------------------------------------------------------


def test_shapes3d_reads_the_h5_file(tmp_path: Path) -> None:
    pytest.importorskip("h5py", reason="3D Shapes reads 3dshapes.h5 with h5py (pip install h5py)")
    classes = write_shapes3d(tmp_path / "3dshapes.h5", SHAPES3D_SIZES)
    for root in (tmp_path, tmp_path / "3dshapes.h5"):
        ds = dataset("shapes3d", root=str(root))
        data = ds.load()
        n = len(classes)
        assert data.images.shape == (n, 3, 64, 64) and data.images.dtype == torch.uint8
        assert data.images.is_contiguous()
        marks = torch.from_numpy(marked_images(n))
        for channel, level in enumerate((255, 128, 1)):  # RGB planes, channels first
            assert torch.equal(data.images[:, channel], marks * level)
        assert data.factors.tolist() == classes.tolist()
        assert data.factor_sizes == ds.factor_sizes == SHAPES3D_SIZES
        order = torch.randperm(n, generator=torch.Generator().manual_seed(2))
        assert torch.equal(ds.render(data.factors[order]), data.images[order])
        factors = ds.sample_factors(300, torch.Generator().manual_seed(3))
        assert [len(column.unique()) for column in factors.T] == list(SHAPES3D_SIZES)
        assert is_ground_truth(ds)


def test_shapes3d_malformed_files(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py", reason="3D Shapes reads 3dshapes.h5 with h5py")
    path = tmp_path / "3dshapes.h5"

    def error() -> str:
        with pytest.raises(DatasetError) as info:
            dataset("shapes3d", root=str(tmp_path)).load()
        assert no_traceback_chain(info.value)
        return str(info.value)

    message = error()
    assert str(path) in message and "github.com/deepmind/3d-shapes" in message
    path.write_bytes(b"not HDF5" * 100)
    assert "is not the 3D Shapes file" in error()
    with h5py.File(path, "w") as file:
        file.create_dataset("images", data=marked_images(4, channels=3))
    assert "KeyError" in error()
    with h5py.File(path, "w") as file:
        file.create_dataset("images", data=marked_images(4))
        file.create_dataset("labels", data=np.zeros((4, 6)))
    assert "images uint8 (4, 64, 64)" in error()
    classes = write_shapes3d(path, SHAPES3D_SIZES)
    with h5py.File(path, "r+") as file:
        file["labels"][0, 3] = 0.8  # between two scales
    assert "off the factor grids" in error()
    with h5py.File(path, "r+") as file:
        file["labels"][0, 3] = 0.75
        file["labels"][1, 5] = file["labels"][0, 5]  # a duplicate, so one combination missing
    assert "grid order" in error()
    assert len(classes) == int(np.prod(SHAPES3D_SIZES))


def test_shapes3d_without_h5py_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` now raises ImportError
    with pytest.raises(DatasetError, match="pip install h5py") as info:
        dataset("shapes3d", root=str(tmp_path)).load()
    assert no_traceback_chain(info.value)
