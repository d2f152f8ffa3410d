"""`disentangle eval` and `compare`: metrics of trained runs into eval.json and PNGs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from support.layouts import write_split
from torch import nn
from typer.testing import CliRunner

from disentangle.analysis.evaluate import evaluate, in_place_activations
from disentangle.cli import app
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def procedural_run(tiny_recipe: dict[str, Any], tmp_path: Path) -> Path:
    train(validate_recipe(tiny_recipe), tmp_path / "run")
    return tmp_path / "run"


def test_eval_on_a_ground_truth_run_writes_every_disentanglement_score(
    procedural_run: Path,
) -> None:
    result = runner.invoke(app, ["eval", str(procedural_run), "--fast"])
    assert result.exit_code == 0, result.output
    report = json.loads((procedural_run / "eval.json").read_text())
    assert report["iteration"] == 6 and report["dataset"] == "procedural"
    assert set(report["metrics"]) == {
        "mig",
        "dci",
        "dci_hist",
        "sap",
        "factor_vae",
        "beta_vae",
        "modularity",
        "irs",
        "downstream_task_logistic_regression",
        "downstream_task_boosted_trees",
        "fairness",
    }
    assert "accuracy" in report["skipped"]  # no labels
    assert "categorical" in report["skipped"]["unsupervised"]
    for scores in report["metrics"].values():
        assert all(0.0 <= v <= 1.0 for k, v in scores.items() if not k.endswith("dims"))
    assert (procedural_run / "eval" / "mi-curve.png").read_bytes()[:8] == PNG
    assert "mig" in result.output


def test_eval_is_deterministic_for_a_seed(procedural_run: Path) -> None:
    a = evaluate(procedural_run, ["mig", "factor_vae"], fast=True, seed=3)
    b = evaluate(procedural_run, ["mig", "factor_vae"], fast=True, seed=3)
    assert a["metrics"] == b["metrics"]


def test_accuracy_on_a_labelled_test_split(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_split(raw, "train", 16, seed=0)
    write_split(raw, "t10k", 12, seed=1)
    tiny_recipe["dataset"] = {"type": "mnist", "root": str(tmp_path / "data")}
    tiny_recipe["codes"][0]["k"] = 10
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    report = evaluate(run, ["accuracy"])
    assert report["dataset"] == "mnist (test split)"
    scores = report["metrics"]["accuracy"]
    assert 0 <= scores["accuracy_hungarian"] <= scores["accuracy_majority"] <= 1
    assert scores["error_hungarian"] == pytest.approx(1 - scores["accuracy_hungarian"])
    assert (tmp_path / "run" / "eval" / "confusion_shape.png").read_bytes()[:8] == PNG


def test_a_metric_that_does_not_apply_is_a_clear_error(procedural_run: Path) -> None:
    result = runner.invoke(app, ["eval", str(procedural_run), "--metric", "accuracy"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "does not apply" in result.output
    result = runner.invoke(app, ["eval", str(procedural_run), "--metric", "migg"])
    assert result.exit_code == 1 and "Did you mean 'mig'" in " ".join(result.output.split())
    result = runner.invoke(app, ["eval", str(procedural_run), "--split", "test"])
    assert result.exit_code == 1 and "has no splits" in result.output


def test_compare_plots_runs_together(
    procedural_run: Path, tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    for code in tiny_recipe["codes"]:
        code["lambda"] = 0.0
    train(validate_recipe(tiny_recipe), tmp_path / "gan")
    out = tmp_path / "compare.png"
    result = runner.invoke(
        app, ["compare", str(procedural_run), str(tmp_path / "gan"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG
    assert "codes[0].lambda" in result.output and "L_I" in result.output  # the table of both


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_eval_on_a_device_this_machine_lacks_is_a_clear_error(procedural_run: Path) -> None:
    result = runner.invoke(app, ["eval", str(procedural_run), "--fast", "--device", "cuda"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--device = 'cuda' but CUDA is not available" in " ".join(result.output.split())
    result = runner.invoke(app, ["eval", str(procedural_run), "--fast", "--device", "auto"])
    assert result.exit_code == 0, result.output


def test_in_place_activations_only_where_nothing_else_reads_the_input() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.ReLU(),  # its input is the caller's tensor
        nn.Linear(4, 6),
        nn.LeakyReLU(0.2),  # reads a fresh tensor: in place
        nn.Unflatten(1, (2, 3)),
        nn.ReLU(),  # reads a view of the layer before's output
        nn.Flatten(),
        nn.Sequential(nn.Linear(6, 3), nn.ReLU()),  # nested: in place
    ).eval()
    x = torch.randn(5, 4)
    with torch.no_grad():
        expected = model(x)
        kept = x.clone()
        in_place_activations(model)
        np.testing.assert_array_equal(model(x).numpy(), expected.numpy())
    assert torch.equal(x, kept)
    assert [m.inplace for m in model.modules() if isinstance(m, nn.ReLU | nn.LeakyReLU)] == [
        False,
        True,
        False,
        True,
    ]
