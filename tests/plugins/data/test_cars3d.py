"""Cars3D from tiny per-car .mat files in the published format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch
from disentangle_metrics.ground_truth import is_ground_truth
from support.layouts import CARS3D_TINY, cars3d_level, grid_rows, write_cars3d

from disentangle import Dataset
from disentangle.errors import DatasetError
from disentangle.plugins import host


def dataset(**params: Any) -> Dataset:
    spec = host.datasets.get("cars3d").spec_model()(type="cars3d", **params)
    return host.datasets.build(spec)


def test_registered_with_disentanglement_lib_s_factors(tmp_path: Path) -> None:
    ds = dataset(root=str(tmp_path / "nowhere"))
    assert ds.image_shape == (3, 64, 64)
    assert ds.factor_names == ("elevation", "azimuth", "object_type")
    assert ds.factor_sizes == (4, 24, 183)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("folder", ["cars", "data/cars", "."])
def test_cars3d_reads_every_view_of_every_car(tmp_path: Path, folder: str) -> None:
    write_cars3d(tmp_path / folder)
    ds = dataset(root=str(tmp_path))
    data = ds.load()
    n = int(np.prod(CARS3D_TINY))
    assert data.images.shape == (n, 3, 64, 64) and data.images.dtype == torch.uint8
    assert data.factor_sizes == ds.factor_sizes == CARS3D_TINY
    rows = grid_rows(CARS3D_TINY)
    assert data.factors.tolist() == rows.tolist()
    # each view is its flat gray level, resized: the level of its (elevation, azimuth, car)
    expected = [cars3d_level(*row) for row in rows]
    assert data.images.flatten(1).amin(1).tolist() == expected
    assert data.images.flatten(1).amax(1).tolist() == expected
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ds.render(data.factors[order]), data.images[order])
    assert is_ground_truth(ds)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    def error() -> str:
        with pytest.raises(DatasetError) as info:
            dataset(root=str(tmp_path)).load()
        assert info.value.__cause__ is None
        return str(info.value)

    message = error()
    assert "Cars3D not found" in message
    assert f"disentangle data download cars3d --root {tmp_path}" in message
    write_cars3d(tmp_path / "cars")
    bad = tmp_path / "cars" / "car_009_mesh.mat"
    bad.write_bytes(b"not a mat file")
    assert f"{bad} is not a Cars3D car" in error()
    scipy.io.savemat(bad, {"pictures": np.zeros((2, 2), np.uint8)})
    assert "KeyError" in error()
    scipy.io.savemat(bad, {"im": np.zeros((128, 128, 3, 3), np.uint8)})
    assert "im uint8 (128, 128, 3, 3)" in error()
    scipy.io.savemat(bad, {"im": np.zeros((128, 128, 3, 4, 2), np.uint8)})
    assert "different view grids" in error()
