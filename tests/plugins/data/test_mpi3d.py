"""MPI3D toy / realistic / real from tiny .npz files in the published format."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from disentangle_data import mpi3d
from disentangle_data.npz import npz_array
from disentangle_metrics.ground_truth import RenderedDataset, is_ground_truth
from support.layouts import MPI3D_TINY_GRID, grid_rows, marked_images, write_mpi3d
from typer.testing import CliRunner

from disentangle import Dataset
from disentangle.cli import app
from disentangle.errors import DatasetError
from disentangle.plugins import host

KINDS = ("toy", "realistic", "real")


@pytest.fixture(autouse=True)
def tiny_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny files' grid among those a file may hold (the real ones hold 1,036,800 images)."""
    monkeypatch.setattr(mpi3d, "GRIDS", (*mpi3d.GRIDS, MPI3D_TINY_GRID))


def dataset(type_: str, **params: Any) -> Dataset:
    spec = host.datasets.get(type_).spec_model()(type=type_, **params)
    return host.datasets.build(spec)


def test_registered_with_disentanglement_lib_s_factors(tmp_path: Path) -> None:
    for kind in KINDS:
        ds = dataset(f"mpi3d_{kind}", root=str(tmp_path / "nowhere"))
        assert ds.image_shape == (3, 64, 64)
        assert ds.factor_names == (
            "object_color",
            "object_shape",
            "object_size",
            "camera_height",
            "background_color",
            "first_dof",
            "second_dof",
        )
        assert ds.factor_sizes == (6, 6, 2, 3, 3, 40, 40)
        assert np.prod(ds.factor_sizes) == 1_036_800
    assert (4, 4, 2, 3, 3, 40, 40) in mpi3d.GRIDS  # disentanglement_lib's toy and realistic
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("compress", [False, True])
def test_npz_array_maps_a_stored_member_and_reads_a_deflated_one(
    tmp_path: Path, compress: bool
) -> None:
    path = tmp_path / "a.npz"
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (np.savez_compressed if compress else np.savez)(path, images=array, other=np.zeros(3))
    images, mapped = npz_array(path, "images")
    assert mapped is not compress and isinstance(images, np.memmap) is not compress
    np.testing.assert_array_equal(images, array)
    with pytest.raises(KeyError):
        npz_array(path, "missing")


@pytest.mark.parametrize("kind", KINDS)
def test_mpi3d_reads_the_npz_memory_mapped(tmp_path: Path, kind: str) -> None:
    write_mpi3d(tmp_path / f"mpi3d_{kind}.npz")
    ds = dataset(f"mpi3d_{kind}", root=str(tmp_path))
    data = ds.load()
    n = int(np.prod(MPI3D_TINY_GRID))
    assert data.images.shape == (n, 3, 64, 64) and data.images.dtype == torch.uint8
    assert data.on_disk
    expected = torch.from_numpy(marked_images(n, channels=3)).permute(0, 3, 1, 2)
    assert torch.equal(data.images, expected)
    assert data.factors.tolist() == grid_rows(MPI3D_TINY_GRID).tolist()
    assert data.factor_sizes == ds.factor_sizes == MPI3D_TINY_GRID
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ds.render(data.factors[order]), data.images[order])
    assert is_ground_truth(ds)
    truth = RenderedDataset(ds)
    assert truth.factor_sizes == (2, 2, 2, 3)  # the varying ones


def test_a_deflated_file_is_read_into_memory(tmp_path: Path) -> None:
    write_mpi3d(tmp_path / "mpi3d_toy.npz", compress=True)
    data = dataset("mpi3d_toy", root=str(tmp_path / "mpi3d_toy.npz")).load()
    assert not data.on_disk and len(data.images) == int(np.prod(MPI3D_TINY_GRID))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / "mpi3d_real.npz"

    def error() -> str:
        with pytest.raises(DatasetError) as info:
            dataset("mpi3d_real", root=str(tmp_path)).load()
        assert info.value.__cause__ is None
        return str(info.value)

    message = error()
    assert "MPI3D real not found" in message and str(path) in message
    assert f"disentangle data download mpi3d_real --root {tmp_path}" in message
    path.write_bytes(b"not a zip")
    assert "is not the MPI3D .npz" in error()
    np.savez(path, pictures=np.zeros((12, 64, 64, 3), np.uint8))
    assert "KeyError" in error()
    np.savez(path, images=np.zeros((11, 64, 64, 3), np.uint8))  # no grid holds 11
    message = error()
    assert "(11, 64, 64, 3)" in message and "1,036,800 (6×6×2×3×3×40×40)" in message
    np.savez(path, images=np.zeros((12, 64, 64, 3), np.float32))
    assert "float32" in error()
    write_mpi3d(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("extra.npy", b"")  # another member does not matter
    assert len(dataset("mpi3d_real", root=str(tmp_path)).load().images) == 24


def test_the_vae_recipe_trains_on_the_memory_mapped_file(tmp_path: Path) -> None:
    write_mpi3d(tmp_path / "mpi3d_real.npz")
    recipe = Path(__file__).resolve().parents[3] / "recipes" / "dsprites-vae.toml"
    sets = ["train.iterations=2", "train.batch_size=4", "images.samples=4"]
    sets += ["images.traversal_rows=2", "images.traversal_steps=3", f"dataset.root={tmp_path}"]
    args = ["run", str(recipe), "--variant", "mpi3d_real", "--out", str(tmp_path / "run")]
    args += ["--quiet", *(item for s in sets for item in ("--set", s))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "checkpoints").is_dir()
