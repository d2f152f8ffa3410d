"""SmallNORB from tiny files in NYU's binary matrix format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from disentangle_data.smallnorb import read_matrix
from disentangle_metrics.ground_truth import is_ground_truth
from support.layouts import (
    SMALLNORB_HALVES,
    SMALLNORB_TINY,
    grid_rows,
    norb_level,
    write_norb_matrix,
    write_smallnorb,
)
from typer.testing import CliRunner

from disentangle import Dataset
from disentangle.cli import app
from disentangle.errors import DatasetError
from disentangle.plugins import host

SIZES, PER_HALF = SMALLNORB_TINY


def dataset(**params: Any) -> Dataset:
    spec = host.datasets.get("smallnorb").spec_model()(type="smallnorb", **params)
    return host.datasets.build(spec)


def test_registered_with_disentanglement_lib_s_factors(tmp_path: Path) -> None:
    ds = dataset(root=str(tmp_path / "nowhere"))
    assert ds.image_shape == (1, 64, 64)
    assert ds.factor_names == ("category", "elevation", "azimuth", "lighting")
    assert ds.factor_sizes == (5, 9, 18, 6)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("gz", [False, True])
def test_read_matrix_reads_the_header_and_data(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("m.mat.gz" if gz else "m.mat")
    for array in (np.arange(6, dtype=np.int32), np.arange(24, dtype=np.uint8).reshape(2, 3, 4)):
        write_norb_matrix(path, array)  # rank 1 pads its dims to 3, as NYU's files do
        np.testing.assert_array_equal(read_matrix(path), array)
    path.write_bytes(path.read_bytes()[:-1] if not gz else b"")
    with pytest.raises((ValueError, EOFError)):
        read_matrix(path)


@pytest.mark.parametrize("gz", [False, True])
def test_smallnorb_reads_both_halves(tmp_path: Path, gz: bool) -> None:
    write_smallnorb(tmp_path, gz=gz)
    ds = dataset(root=str(tmp_path))
    data = ds.load()
    combos = int(np.prod(SIZES))
    assert data.images.shape == (2 * PER_HALF * combos, 1, 64, 64)
    assert data.factor_sizes == ds.factor_sizes == SIZES
    rows = grid_rows(SIZES)
    # the training half, then the testing half; the first camera, resized (a flat gray stays)
    expected = [norb_level(c, h) for h in (0, 1) for c in range(combos)]
    assert data.images.flatten(1).amin(1).tolist() == expected
    assert data.images.flatten(1).amax(1).tolist() == expected
    assert data.factors.tolist() == [*rows.tolist(), *rows.tolist()]
    assert is_ground_truth(ds)


def test_render_shows_one_instance_per_combination_drawn_from_the_seed(tmp_path: Path) -> None:
    write_smallnorb(tmp_path)
    rows = torch.from_numpy(grid_rows(SIZES))
    levels = {}
    for seed in range(6):
        ds = dataset(root=str(tmp_path), seed=seed)
        images = ds.render(rows)
        assert torch.equal(ds.render(rows.flip(0)), images.flip(0))  # a function of the row
        instance = [(int(image.max()) - norb_level(c, 0)) // 7 for c, image in enumerate(images)]
        assert set(instance) <= {0, 1}
        levels[seed] = instance
    assert len({tuple(v) for v in levels.values()}) > 1  # the seed picks other instances
    assert {i for v in levels.values() for i in v} == {0, 1}


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    def error() -> str:
        with pytest.raises(DatasetError) as info:
            dataset(root=str(tmp_path)).load()
        assert info.value.__cause__ is None
        return str(info.value)

    message = error()
    assert "SmallNORB not found" in message and "smallnorb-5x46789x9x18x6x2x96x96" in message
    assert f"disentangle data download smallnorb --root {tmp_path}" in message
    write_smallnorb(tmp_path)
    info = tmp_path / f"smallnorb-{SMALLNORB_HALVES[1]}-info.mat"
    info.write_bytes(info.read_bytes()[:-4])  # truncated
    message = error()
    assert "testing half" in message and "bytes of data" in message
    write_smallnorb(tmp_path)
    write_norb_matrix(info, np.zeros((3, 4), np.int32))  # 3 rows for 12 images
    assert "-info int32 (3, 4) for 12 images" in error()
    write_smallnorb(tmp_path)
    dat = tmp_path / f"smallnorb-{SMALLNORB_HALVES[0]}-dat.mat"
    write_norb_matrix(dat, np.zeros((12, 2, 32, 32), np.uint8))
    assert "-dat uint8 (12, 2, 32, 32)" in error()
    write_smallnorb(tmp_path)
    values = read_matrix(info).copy()
    values[0, 2] = 3  # an odd azimuth
    write_norb_matrix(info, values)
    assert "odd azimuth" in error()
    values[0, 2] = 0
    values[0, 1] = 5  # an elevation of 6: the grid grows, most of it empty
    write_norb_matrix(info, values)
    assert "(2, 6, 2, 3) (category, elevation, azimuth, lighting) hold 0 to 2" in error()


def test_the_vae_recipe_trains_and_is_scored_on_smallnorb(tmp_path: Path) -> None:
    write_smallnorb(tmp_path)
    recipe = Path(__file__).resolve().parents[3] / "recipes" / "dsprites-vae.toml"
    sets = ["train.iterations=2", "train.batch_size=4", "images.samples=4"]
    sets += ["images.traversal_rows=2", "images.traversal_steps=3", f"dataset.root={tmp_path}"]
    run = tmp_path / "run"
    args = ["run", str(recipe), "--variant", "smallnorb", "--out", str(run), "--quiet"]
    result = CliRunner().invoke(app, args + [item for s in sets for item in ("--set", s)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["eval", str(run), "--fast", "--metric", "irs"])
    assert result.exit_code == 0, result.output
