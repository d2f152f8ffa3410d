"""Which factor each code captures (normalised MI), chance levels, the labelled figure and the
scorecard a recipe's [evaluate] table prints when training ends."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from disentangle.analysis.codemap import binned, factor_matches
from disentangle.analysis.evaluate import evaluate
from disentangle.cli import app
from disentangle.components import EvalContext
from disentangle.errors import RecipeError
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

PNG = b"\x89PNG\r\n\x1a\n"


def test_binned_uses_equal_width_bins() -> None:
    assert (
        binned(np.linspace(0, 1, 100), bins=4).tolist() == [0] * 25 + [1] * 25 + [2] * 25 + [3] * 25
    )


def procedural(**params: Any) -> Any:
    spec = host.datasets.get("procedural").spec_model()(type="procedural", **params)
    return host.datasets.build(spec)


def codes(*specs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    built = {}
    for name, (kind, params) in zip(("a", "b", "c"), specs, strict=False):
        spec = host.codes.get(kind).spec_model()(type=kind, **params)
        built[name] = host.codes.build(spec)
    return built


def test_each_code_is_matched_to_the_factor_it_encodes(tmp_path: Path) -> None:
    dataset = procedural(
        resolution=16, shapes=3, scales=1, orientations=1, positions_x=4, positions_y=2
    )
    data = dataset.load()  # the whole grid: an "encoder" can look every image up
    table = data.images.flatten(1).float()

    def encode(images: torch.Tensor) -> torch.Tensor:
        index = torch.cdist(images.flatten(1).float(), table).argmin(1)
        shape, x = data.factors[index, 0], data.factors[index, 3].float()
        return torch.cat([torch.nn.functional.one_hot(shape, 3).float(), x[:, None]], dim=1)

    ctx = EvalContext(
        encode=encode,
        dataset=dataset,
        load=lambda: data,
        code_columns={"a": slice(0, 3), "b": slice(3, 4)},
        codes=codes(("categorical", {"k": 3}), ("uniform", {})),
        out_dir=tmp_path,
    )
    matches = factor_matches(ctx, n=600)
    assert matches["a"].factor == "shape" and matches["a"].nmi == pytest.approx(1.0)
    assert matches["b"].factor == "pos_x" and matches["b"].nmi == pytest.approx(1.0)
    assert set(matches["a"].all) == {"shape", "pos_x", "pos_y"}  # constant factors left out
    assert matches["a"].all["pos_y"] < 0.05


@pytest.fixture
def scored_run(tiny_toml: Path, tmp_path: Path) -> Path:
    with tiny_toml.open("a") as recipe:
        recipe.write('[evaluate]\nmetrics = ["mig", "factor_vae", "dci"]\n')
    result = CliRunner().invoke(
        app, ["run", str(tiny_toml), "--out", str(tmp_path / "run"), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    (tmp_path / "output.txt").write_text(result.output)
    return tmp_path / "run"


def test_a_recipe_with_metrics_ends_with_a_scorecard_beside_chance(scored_run: Path) -> None:
    output = " ".join((scored_run.parent / "output.txt").read_text().split())
    report = json.loads((scored_run / "eval.json").read_text())
    assert set(report["metrics"]) == set(report["chance"]) == {"mig", "factor_vae", "dci"}
    assert report["fast"] is True
    assert "chance" in output and "dci_disentanglement" in output
    assert f"{report['metrics']['mig']['mig']:.4f}" in output
    # noise scores what a representation that knows nothing scores: FactorVAE's majority vote
    # guesses one factor of the five
    assert report["chance"]["factor_vae"]["factor_vae"] == pytest.approx(1 / 5, abs=0.08)
    assert report["chance"]["mig"]["mig"] < 0.05
    assert set(report["codes"]) == {"shape", "x"}
    assert (scored_run / "eval" / "traversals.png").read_bytes()[:8] == PNG
    assert "eval/traversals.png" in json.loads((scored_run / "manifest.json").read_text())["files"]


def test_an_unknown_metric_in_the_evaluate_table_is_a_recipe_problem(
    tiny_recipe: dict[str, Any],
) -> None:
    tiny_recipe["evaluate"] = {"metrics": ["migg"]}
    with pytest.raises(RecipeError, match=r"evaluate\.metrics.*Did you mean 'mig'"):
        validate_recipe(tiny_recipe)


def test_the_l_i_log_records_each_codes_ceiling(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    record = run.metrics()[0]
    assert record["ceiling"]["shape"] == pytest.approx(math.log(3))
    assert record["ceiling"]["x"] == pytest.approx(math.log(2) - 0.5 * math.log(2 * math.pi))
    evaluate(run, ["mig"], fast=True)
    assert (run.path / "eval" / "mi-curve.png").read_bytes()[:8] == PNG
