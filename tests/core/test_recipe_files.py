"""Recipes that extend recipes, `validate --variant`, and the key meant for a mistyped one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from disentangle.cli import app
from disentangle.errors import RecipeError
from disentangle.recipe import load_recipe, validate_recipe, variants_of
from disentangle.recipe.model import to_data

ROOT = Path(__file__).resolve().parents[2]
BASE = """\
name = "base"
[noise]
type = "uniform"
dim = 4
[[codes]]
type = "categorical"
k = 3
[backbone]
type = "mnist"
width = 0.125
[dataset]
type = "procedural"
resolution = 28
scales = 2
[train]
iterations = 6
batch_size = 8
[variants.longer]
"train.iterations" = 12
"""


def test_a_recipe_extends_another_with_its_overrides_on_top(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.toml"
    child.write_text(
        'extends = "../base.toml"\n[train]\nbatch_size = 4\n[dataset]\nscales = 3\n'
        '[noise]\ntype = "gaussian"\n'
    )
    recipe = load_recipe(child)
    assert recipe.name == "child"  # the file's own name, not the base's
    assert (recipe.train.iterations, recipe.train.batch_size) == (6, 4)
    assert (recipe.dataset.resolution, recipe.dataset.scales) == (28, 3)  # merged key by key
    # a table of another type replaces the base's: the gaussian's own dim, not the base's 4
    assert (recipe.noise.type, recipe.noise.dim) == ("gaussian", 1)
    assert variants_of(child) == ["longer"]  # the base's variants come along
    assert load_recipe(child, variant="longer").train.iterations == 12


def test_recipes_that_extend_each_other_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(RecipeError, match=r"extends: recipes extend each other: a\.toml → b\.toml"):
        load_recipe(tmp_path / "a.toml")


def test_a_missing_base_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "nosuch.toml"\n')
    with pytest.raises(RecipeError, match=r"nosuch\.toml: 1 problem"):
        load_recipe(tmp_path / "a.toml")


@pytest.mark.parametrize("name", ["cub", "dogs"])
def test_the_shipped_recipes_that_extend_cars_keep_their_settings(name: str) -> None:
    recipe = to_data(load_recipe(ROOT / "recipes" / f"{name}.toml"))
    cars = to_data(load_recipe(ROOT / "recipes" / "cars.toml"))
    assert recipe["name"] == name and recipe["dataset"]["type"] == name
    for section in ("noise", "backbone", "method"):
        assert recipe[section] == cars[section]
    assert recipe["train"]["iterations"] != cars["train"]["iterations"]


def test_validate_checks_the_variant_asked_for_only(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        BASE
        + '[variants.vae]\n"method.type" = "beta_vae"\n"method.reconstruction" = "l2"\n'
        + 'noise = {type = "gaussian", dim = 0}\ncodes = [{type = "gaussian", dim = 2}]\n'
    )
    runner = CliRunner()
    every = runner.invoke(app, ["validate", str(recipe), "--set", "method.beta=2"])
    assert every.exit_code == 1  # the base (InfoGAN) has no beta
    one = runner.invoke(
        app, ["validate", str(recipe), "--variant", "vae", "--set", "method.beta=2"]
    )
    assert one.exit_code == 0, one.output
    flat = " ".join(one.output.split())
    assert flat.startswith("ok ") and flat.endswith("(variant vae)")
    assert "longer" not in flat


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        (("train", "iteratons"), "train.iteratons: unknown key (did you mean 'iterations'?)"),
        (("codes", 0, "kk"), "codes[0].kk: unknown key (did you mean 'k'?)"),
        (("backbone", "widht"), "backbone.widht: unknown key (did you mean 'width'?)"),
        (("method", "lr_dd"), "method.lr_dd: unknown key (did you mean 'lr_d'?)"),
    ],
)
def test_an_unknown_key_is_named_with_the_key_meant(
    tiny_recipe: dict[str, Any], key: tuple[Any, ...], meant: str
) -> None:
    tiny_recipe.setdefault("method", {"type": "infogan"})
    node = tiny_recipe
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = 1
    with pytest.raises(RecipeError) as caught:
        validate_recipe(tiny_recipe)
    assert meant in str(caught.value)


def test_a_dataset_prepared_outside_a_recipe_names_the_key_meant() -> None:
    from disentangle.recipe.prepare import prepare_dataset

    with pytest.raises(RecipeError, match=r"resolutoin: unknown key \(did you mean 'resolution'"):
        prepare_dataset("procedural", None, ["resolutoin=28"])
