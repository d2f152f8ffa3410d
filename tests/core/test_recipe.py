"""Recipes: every shipped one validates; bad input names its key path and value, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from disentangle.errors import RecipeError
from disentangle.recipe import (
    key_path,
    load_recipe,
    parse_override,
    set_dotted,
    validate_recipe,
    variants_of,
)

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.toml"))


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RecipeError) as info:
        validate_recipe(data)
    return {p.where: f"{p.message} | {p.value}" for p in info.value.problems}


SHIPPED = [(path, None) for path in RECIPES] + [
    (path, name) for path in RECIPES for name in variants_of(path)
]


@pytest.mark.parametrize(
    ("path", "variant"), SHIPPED, ids=lambda x: x.name if isinstance(x, Path) else str(x)
)
def test_every_shipped_recipe_and_variant_validates(path: Path, variant: str | None) -> None:
    recipe = load_recipe(path, variant=variant)
    assert recipe.name == (path.stem if variant is None else f"{path.stem}-{variant}")


def test_shipped_recipes_include_quickstart_and_mnist() -> None:
    assert {"quickstart.toml", "mnist.toml"} <= {p.name for p in RECIPES}


def test_mnist_recipe_is_the_papers_experiment() -> None:
    recipe = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "mnist.toml")
    assert recipe.noise.dim == 62
    assert [c.type for c in recipe.codes] == ["categorical", "uniform", "uniform"]
    assert recipe.codes[0].k == 10 and recipe.codes[0].lambda_ == 1.0
    assert all(c.low == -1 and c.high == 1 for c in recipe.codes[1:])
    assert (recipe.method.lr_d, recipe.method.lr_g) == (2e-4, 1e-3)
    assert (recipe.train.batch_size, recipe.train.iterations) == (128, 5000)


def test_unknown_plugin_name_suggests_the_closest(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["codes"][0]["type"] = "categorcal"
    tiny_recipe["backbone"]["type"] = "mnsit"
    found = problems_of(tiny_recipe)
    assert "'categorical'" in found["codes[0].type"] and "Did you mean" in found["codes[0].type"]
    assert "unknown backbone 'mnsit'" in found["backbone.type"]
    assert "'mnist'" in found["backbone.type"]


def test_wrong_type_and_out_of_range_give_key_path_and_value(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["codes"][0]["k"] = 1
    tiny_recipe["method"] = {"type": "infogan", "lr_g": "fast"}
    tiny_recipe["train"]["batch_size"] = -3
    found = problems_of(tiny_recipe)
    assert set(found) == {"codes[0].k", "method.lr_g", "train.batch_size"}
    assert "1" in found["codes[0].k"].split("|")[1]
    assert "'fast'" in found["method.lr_g"]
    assert "-3" in found["train.batch_size"]


def test_unknown_keys_are_errors(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["train"]["learning_rate"] = 1
    tiny_recipe["codes"][1]["sigma"] = 2
    found = problems_of(tiny_recipe)
    assert found["train.learning_rate"].startswith("unknown key")
    assert found["codes[1].sigma"].startswith("unknown key")


def test_code_dims_that_do_not_fit_the_backbone(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["backbone"]["latent_dim"] = 74
    found = problems_of(tiny_recipe)
    assert "4 + 4" not in found["backbone.latent_dim"]  # says the real sum
    assert "= 8 generator inputs" in found["backbone.latent_dim"]


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
def test_a_code_without_dimensions_is_refused_for_its_dim(
    tiny_recipe: dict[str, Any], kind: str
) -> None:
    """dim = 0 is for [noise] only; for a code the problem is its dim, not its type."""
    tiny_recipe["codes"][1] = {"type": kind, "name": "x", "dim": 0}
    found = problems_of(tiny_recipe)
    assert set(found) == {"codes[1].dim"}
    message, value = found["codes[1].dim"].split(" | ")
    assert "at least 1" in message and "Q" not in message and value == "0"
    tiny_recipe["noise"]["dim"] = 0  # a recipe without noise is fine
    tiny_recipe["codes"][1]["dim"] = 1
    assert validate_recipe(tiny_recipe).noise.dim == 0


def test_image_shape_and_value_range_must_match(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["dataset"]["resolution"] = 32
    tiny_recipe["dataset"]["value_range"] = [-1, 1]
    found = problems_of(tiny_recipe)
    assert "1×28×28" in found["backbone.type"] and "1×32×32" in found["backbone.type"]
    assert "[0.0, 1.0]" in found["dataset.value_range"]


def test_value_range_defaults_to_the_backbones(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["backbone"]["output"] = "tanh"
    assert validate_recipe(tiny_recipe).dataset.value_range is None


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\niterations = 3\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(bad)
    assert info.value.source == str(bad)
    assert "line 1" in str(info.value)


def test_overrides_are_validated_like_the_file(tiny_toml: Path) -> None:
    recipe = load_recipe(tiny_toml, ["method.lr_g=5e-4", "codes[0].k=5", "name=other"])
    assert recipe.method.lr_g == 5e-4 and recipe.codes[0].k == 5 and recipe.name == "other"
    with pytest.raises(RecipeError) as info:
        load_recipe(tiny_toml, ["method.lr_g=-1"])
    assert info.value.problems[0].where == "method.lr_g"
    with pytest.raises(RecipeError):
        load_recipe(tiny_toml, ["codes[7].k=5"])


def test_override_parsing() -> None:
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override("a=[1, 2]") == ("a", [1, 2])
    assert parse_override("a=text") == ("a", "text")
    with pytest.raises(RecipeError):
        parse_override("novalue")
    data: dict[str, Any] = {"codes": [{"k": 1}]}
    set_dotted(data, "codes[0].k", 2)
    set_dotted(data, "train.seed", 7)
    assert data == {"codes": [{"k": 2}], "train": {"seed": 7}}


def test_key_path_skips_union_tags() -> None:
    data = {"codes": [{}, {"type": "categorical", "k": 1}]}
    assert key_path(("codes", 1, "categorical", "k"), data) == "codes[1].k"
    assert key_path(("train", "seed"), data) == "train.seed"
