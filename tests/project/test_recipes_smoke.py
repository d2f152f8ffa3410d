"""Every shipped recipe trains for two iterations on tiny data in its dataset's real layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from support.layouts import (
    write_cars,
    write_chairs_folder,
    write_cub,
    write_dogs,
    write_dsprites,
    write_face_batches,
    write_faces_jpegs,
    write_split,
    write_svhn,
)
from typer.testing import CliRunner

from disentangle.cli import app
from disentangle.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def idx(folder: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        raw = root / folder / "raw"
        raw.mkdir(parents=True)
        write_split(raw, "train", 8, seed=0)
        write_split(raw, "t10k", 8, seed=1)

    return write


WRITERS: dict[str, Callable[[Path], None]] = {
    "mnist": idx("MNIST"),
    "fashion_mnist": idx("FashionMNIST"),
    "svhn": lambda root: write_svhn(root, "train", 8),
    "celeba": lambda root: write_faces_jpegs(root / "celeba" / "img_align_celeba", 8),
    "chairs": write_chairs_folder,
    "faces": lambda root: write_face_batches(root, "FT_training", images=2),
    "cub": write_cub,
    "cars": write_cars,
    "dogs": write_dogs,
    "dsprites": lambda root: write_dsprites(
        root / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    ),
}


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*.toml")), ids=lambda p: p.stem)
def test_recipe_trains_two_iterations(recipe: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    dataset = load_recipe(recipe).dataset.type
    overrides = [
        "train.iterations=2",
        "train.batch_size=4",
        "images.samples=4",
        "images.traversal_rows=2",
        "images.traversal_steps=3",
    ]
    if dataset == "procedural":
        overrides.append("dataset.size=64")  # dSprites' full grid takes a minute to draw
    if load_recipe(recipe).backbone.type == "finegan":
        # 128×128 at full width is ~40M parameters; the layouts hold 2 images
        overrides += ["backbone.width=0.0625", "train.batch_size=2"]
    if dataset in WRITERS:
        (tmp_path / "data").mkdir()
        WRITERS[dataset](tmp_path / "data")
        overrides.append(f"dataset.root={tmp_path / 'data'}")
    args = ["run", str(recipe), "--out", str(tmp_path / "run"), "--quiet"]
    for item in overrides:
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert (run / "checkpoints" / "ckpt-0000002.json").is_file()
    codes = load_recipe(recipe).codes
    assert len(list((run / "traversals").glob("*.png"))) == len(codes)
