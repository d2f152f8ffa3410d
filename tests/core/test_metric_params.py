"""A metric's params set where the user is: a recipe's [evaluate] metrics, `--metric
NAME:KEY=VALUE` (eval, curve), `disentangle.evaluate(run, [...])`; validated like every param
(key path, bounds, the key meant) and recorded in eval.json's protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_clean_failure, invoke

import disentangle
from disentangle.errors import RecipeError
from disentangle.recipe import validate_recipe
from disentangle.recipe.metric_specs import parse_metric
from disentangle.training.loop import train


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.tiny import TINY_RECIPE

    folder = tmp_path_factory.mktemp("metric-params") / "run"
    train(validate_recipe(TINY_RECIPE), folder)
    return folder


def test_python_takes_names_and_tables(run: Path) -> None:
    report = disentangle.evaluate(run, ["sap", {"type": "mig", "bins": 7}], fast=True)
    assert set(report["metrics"]) == {"sap", "mig"}
    assert report["protocol"]["mig"]["params"] == {"bins": 7, "points": 10_000}


def test_the_command_line_takes_params_after_the_name(run: Path) -> None:
    code, output = invoke("eval", str(run), "--metric", "mig:bins=9,points=500", "--fast")
    assert code == 0, output
    protocol = json.loads((run / "eval.json").read_text())["protocol"]["mig"]
    assert protocol["params"] == {"bins": 9, "points": 500}


def test_curve_keeps_a_metric_with_params_as_its_table(run: Path) -> None:
    code, output = invoke("curve", str(run), "--metric", "mig:bins=9", "--fast")
    assert code == 0, output
    settings = json.loads((run / "curve.json").read_text())
    assert settings["metrics"] == [{"type": "mig", "bins": 9, "points": 10_000}]


@pytest.mark.parametrize(
    ("flag", "needles"),
    [
        ("mig:binz=9", ["--metric[0].binz", "unknown key (did you mean 'bins'?)"]),
        ("mig:bins=0", ["--metric[0].bins", "greater than or equal to 2"]),
        ("mig:bins", ["expected NAME:KEY=VALUE"]),
        ("migg", ["unknown metric 'migg'", "Did you mean 'mig'"]),
    ],
)
def test_a_bad_metric_flag_is_one_clear_error(run: Path, flag: str, needles: list[str]) -> None:
    assert_clean_failure(*invoke("eval", str(run), "--metric", flag), *needles)


def test_a_recipe_sets_metric_params_and_they_are_validated(tiny_recipe: dict[str, Any]) -> None:
    tiny_recipe["evaluate"] = {"metrics": ["sap", {"type": "mig", "bins": 30}]}
    assert validate_recipe(tiny_recipe).evaluate.metrics[1] == {"type": "mig", "bins": 30}
    tiny_recipe["evaluate"] = {"metrics": [{"type": "mig", "bins": -1}, "mig"]}
    with pytest.raises(RecipeError) as caught:
        validate_recipe(tiny_recipe)
    assert "evaluate.metrics" in str(caught.value)
    assert "metrics[0].bins: Input should be greater than or equal to 2" in str(caught.value)
    tiny_recipe["evaluate"] = {"metrics": [{"type": "mig", "bins": "30"}]}  # strict, as TOML
    with pytest.raises(RecipeError, match=r"metrics\[0\]\.bins: Input should be a valid integer"):
        validate_recipe(tiny_recipe)
    tiny_recipe["evaluate"] = {"metrics": [{"type": "mig"}, "mig"]}
    with pytest.raises(RecipeError, match="asks for the same metric twice"):
        validate_recipe(tiny_recipe)


def test_values_are_read_as_toml() -> None:
    assert parse_metric("x:a=1,b=0.5,c=true,d=some/path.pth") == {
        "type": "x",
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "some/path.pth",
    }
