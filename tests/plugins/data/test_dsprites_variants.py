"""disentanglement_lib's color- and noisy-dSprites, of the official npz and of the renderer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from disentangle_data.nuisance import apply_variant, load_painting, uniform
from pydantic import ValidationError
from support.layouts import DSPRITES_SIZES, write_dsprites, write_painting
from typer.testing import CliRunner

from disentangle import Dataset
from disentangle.cli import app
from disentangle.errors import DatasetError
from disentangle.plugins import host

DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SMALL = {"resolution": 16, "scales": 2, "orientations": 2, "positions_x": 3, "positions_y": 3}


def dataset(type_: str, **params: Any) -> Dataset:
    spec = host.datasets.get(type_).spec_model()(type=type_, **params)
    return host.datasets.build(spec)


def test_uniform_is_a_function_of_seed_index_and_position() -> None:
    index = np.arange(2_000)
    values = uniform(3, index, 4)
    assert values.shape == (2_000, 4) and values.min() >= 0 and values.max() < 1
    assert abs(values.mean() - 0.5) < 0.01 and abs(values.var() - 1 / 12) < 0.005
    np.testing.assert_array_equal(uniform(3, index[::-1], 4), values[::-1])  # any order, alone
    assert not np.array_equal(uniform(4, index, 4), values)
    assert np.corrcoef(values[:, 0], values[:, 1])[0, 1] == pytest.approx(0, abs=0.06)


def test_color_multiplies_the_sprite_by_one_colour_per_image() -> None:
    grey = torch.zeros(500, 1, 4, 4, dtype=torch.uint8)
    grey[:, :, 1:3, 1:3] = 255
    rgb = apply_variant(grey, torch.arange(500), "color", seed=0)
    assert rgb.shape == (500, 3, 4, 4) and rgb.dtype == torch.uint8
    assert (rgb[:, :, 0, 0] == 0).all()  # black stays black
    sprite = rgb[:, :, 1:3, 1:3].flatten(2)
    assert (sprite == sprite[:, :, :1]).all()  # one colour over the sprite
    colours = sprite[:, :, 0].float() / 255
    assert colours.min() >= 0.5 and colours.max() <= 1  # uniform on [0.5, 1]³
    assert colours.mean().item() == pytest.approx(0.75, abs=0.01)


def test_noisy_puts_noise_behind_a_white_sprite() -> None:
    grey = torch.zeros(200, 1, 8, 8, dtype=torch.uint8)
    grey[:, :, :2] = 255
    rgb = apply_variant(grey, torch.arange(200), "noisy", seed=0)
    assert (rgb[:, :, :2] == 255).all()  # min(1 + noise, 1)
    background = rgb[:, :, 2:].float() / 255
    assert background.mean().item() == pytest.approx(0.5, abs=0.01)
    assert background.std().item() == pytest.approx((1 / 12) ** 0.5, abs=0.01)


def test_variants_do_not_depend_on_the_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    from disentangle_data import nuisance

    grey = torch.randint(0, 256, (10, 1, 4, 4), dtype=torch.uint8)
    for variant in ("color", "noisy"):
        whole = apply_variant(grey, torch.arange(10), variant, seed=1)
        monkeypatch.setattr(nuisance, "CHUNK", 3)
        assert torch.equal(apply_variant(grey, torch.arange(10), variant, seed=1), whole)
        monkeypatch.undo()


@pytest.mark.parametrize("variant", ["color", "noisy"])
def test_dsprites_variant_of_the_npz(tmp_path: Path, variant: str) -> None:
    path = tmp_path / DSPRITES_FILE
    write_dsprites(path)
    plain = dataset("dsprites", root=str(path)).load()
    ds = dataset("dsprites", root=str(path), variant=variant)
    assert ds.image_shape == (3, 64, 64)  # known before loading
    data = ds.load()
    assert data.images.shape == (len(plain.images), 3, 64, 64)
    assert torch.equal(data.factors, plain.factors)  # dSprites' factors, unchanged
    assert data.factor_sizes == DSPRITES_SIZES[1:]
    sprite = plain.images.expand(-1, 3, -1, -1) == 255
    if variant == "color":
        assert (data.images[~sprite] == 0).all() and (data.images[sprite] >= 128).all()
    else:
        assert (data.images[sprite] == 255).all() and data.images[~sprite].float().std() > 50
    order = torch.randperm(len(data.factors), generator=torch.Generator().manual_seed(0))
    assert torch.equal(ds.render(data.factors[order]), data.images[order])
    again = dataset("dsprites", root=str(path), variant=variant).load()
    assert torch.equal(again.images, data.images)
    other = dataset("dsprites", root=str(path), variant=variant, variant_seed=1).load()
    assert not torch.equal(other.images, data.images)


@pytest.mark.parametrize("variant", ["color", "noisy"])
def test_procedural_variant_is_the_grey_sprite_coloured(variant: str) -> None:
    grey = dataset("procedural", **SMALL)
    ds = dataset("procedural", variant=variant, **SMALL)
    assert ds.image_shape == (3, 16, 16) and ds.factor_sizes == grey.factor_sizes
    data = ds.load()
    index = torch.arange(len(data.factors))  # load draws the grid in order
    expected = apply_variant(grey.load().images, index, variant, seed=0)
    assert torch.equal(data.images, expected)
    rows = data.factors[[7, 3, 3, 0]]
    assert torch.equal(ds.render(rows), data.images[[7, 3, 3, 0]])
    subset = dataset("procedural", variant=variant, size=10, seed=2, **SMALL).load()
    assert torch.equal(subset.images, ds.render(subset.factors))  # the combination's own


def test_the_memory_bound_counts_the_variants_channels() -> None:
    spec = host.datasets.get("procedural").spec_model()
    spec(type="procedural")  # dSprites' 737,280 grey 64×64 images: 2.8 GiB
    with pytest.raises(ValidationError, match=r"737,280 images of 3×64×64 would take 8 GiB"):
        spec(type="procedural", variant="noisy")
    spec(type="procedural", variant="noisy", size=300_000)  # 3.4 GiB


@pytest.mark.parametrize(
    ("recipe_file", "variant"), [("dsprites-vae", "color"), ("dsprites", "noisy")]
)
def test_the_recipes_train_and_are_scored_on_rgb_dsprites(
    tmp_path: Path, recipe_file: str, variant: str
) -> None:
    write_dsprites(tmp_path / DSPRITES_FILE)
    recipe = Path(__file__).resolve().parents[3] / "recipes" / f"{recipe_file}.toml"
    sets = ["train.iterations=2", "train.batch_size=4", "images.samples=4"]
    sets += ["images.traversal_rows=2", "images.traversal_steps=3", f"dataset.root={tmp_path}"]
    run = tmp_path / "run"
    args = ["run", str(recipe), "--variant", variant, "--out", str(run), "--quiet"]
    result = CliRunner().invoke(app, args + [item for s in sets for item in ("--set", s)])
    assert result.exit_code == 0, result.output
    # fairness sets each factor to each of its values: those of the file (2 each), not of the
    # official grid the dataset assumes until it reads the file
    names = ["irs", "unsupervised", "downstream_task_boosted_trees", "fairness"]
    args = ["eval", str(run), "--fast", *(item for n in names for item in ("--metric", n))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    scores = json.loads((run / "eval.json").read_text())["metrics"]
    assert set(scores) == set(names)
    assert 0 <= scores["irs"]["irs"] <= 1
    assert 0 <= scores["downstream_task_boosted_trees"]["gbt_10_mean_test_accuracy"] <= 1
    assert 0 <= scores["fairness"]["mean_fairness_mean_pred_mean_sens"] <= 1


def test_scream_inverts_a_patch_of_the_painting_under_the_sprite(tmp_path: Path) -> None:
    write_painting(tmp_path / "scream.jpg")
    painting = load_painting(tmp_path / "scream.jpg")
    assert painting.shape == (96, 120, 3)  # already inside the 350 × 274 box: kept
    grey = torch.zeros(300, 1, 8, 8, dtype=torch.uint8)
    grey[:, :, :, :4] = 255
    rgb = apply_variant(grey, torch.arange(300), "scream", seed=0, painting=painting).double()
    background, sprite = rgb[..., 4:] / 255, rgb[..., :4] / 255
    # the patch averaged with one colour: within half a step of (painting + c) / 2 ≥ 0, ≤ 1
    assert background.min() >= 0 and background.max() <= 1
    assert background.mean().item() == pytest.approx((painting.mean() + 0.5) / 2, abs=0.05)
    # the sprite is the inverted background: a smooth painting makes neighbours close
    assert (sprite[..., -1] - (1 - background[..., 0])).abs().max() < 0.05
    # patches are drawn from all over the painting: their means spread
    assert background.mean(dim=(1, 2, 3)).std() > 0.05


def test_scream_dsprites_reads_the_npz_and_the_painting(tmp_path: Path) -> None:
    write_dsprites(tmp_path / DSPRITES_FILE)
    ds = dataset("scream_dsprites", root=str(tmp_path))
    assert ds.image_shape == (3, 64, 64)
    with pytest.raises(DatasetError) as info:
        ds.load()
    message = str(info.value)
    assert "needs Munch's The Scream" in message and "scream/The_Scream.jpg" in message
    assert f"disentangle data download scream_dsprites --root {tmp_path}" in message
    (tmp_path / "scream").mkdir()
    (tmp_path / "scream" / "scream.jpg").write_bytes(b"not a jpeg")  # dlib's name, unreadable
    with pytest.raises(DatasetError, match="is not an image PIL reads"):
        dataset("scream_dsprites", root=str(tmp_path)).load()
    write_painting(tmp_path / "scream" / "scream.jpg", size=(60, 70))
    with pytest.raises(DatasetError, match="too small for 64×64 patches"):
        dataset("scream_dsprites", root=str(tmp_path)).load()
    write_painting(tmp_path / "scream" / "scream.jpg", size=(400, 300))
    data = dataset("scream_dsprites", root=str(tmp_path)).load()
    plain = dataset("dsprites", root=str(tmp_path)).load()
    assert data.images.shape == (len(plain.images), 3, 64, 64)
    assert torch.equal(data.factors, plain.factors)
    assert ds.render(data.factors[:5]).shape == (5, 3, 64, 64)


def test_procedural_scream_reads_the_painting_it_is_given(tmp_path: Path) -> None:
    painting = tmp_path / "data" / "scream" / "The_Scream.jpg"
    ds = dataset("procedural", variant="scream", painting=str(painting), **SMALL)
    assert ds.image_shape == (3, 16, 16)
    with pytest.raises(DatasetError) as info:
        ds.load()
    assert str(painting) in str(info.value)
    assert f"disentangle data download scream_dsprites --root {tmp_path / 'data'}" in str(
        info.value
    )
    write_painting(painting)
    data = ds.load()
    grey = dataset("procedural", **SMALL).load().images
    expected = apply_variant(grey, torch.arange(len(grey)), "scream", 0, load_painting(painting))
    assert torch.equal(data.images, expected)
    assert torch.equal(ds.render(data.factors[[4, 1]]), data.images[[4, 1]])
