"""`disentangle curve`: every kept checkpoint scored as `eval` scores it, resumable, plotted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from disentangle.analysis import curve as curve_module
from disentangle.analysis.curve import metric_curve
from disentangle.analysis.evaluate import evaluate
from disentangle.cli import app
from disentangle.recipe import validate_recipe
from disentangle.run import load_run
from disentangle.training.loop import train

runner = CliRunner()


@pytest.fixture
def run_dir(tiny_recipe: dict[str, Any], tmp_path: Path) -> Path:
    tiny_recipe["train"] |= {"iterations": 4, "checkpoint_every": 2, "keep_checkpoints": 5}
    return train(validate_recipe(tiny_recipe), tmp_path / "run").path


def test_each_checkpoint_scores_what_eval_scores_on_it(run_dir: Path) -> None:
    result = metric_curve(load_run(run_dir), ["mig"], fast=True)
    assert [p["iteration"] for p in result["points"]] == [2, 4]
    for point in result["points"]:
        sidecar = run_dir / "checkpoints" / f"ckpt-{point['iteration']:07d}.json"
        assert point["metrics"] == evaluate(sidecar, ["mig"], fast=True)["metrics"]
    written = json.loads((run_dir / "curve.json").read_text())
    assert written["points"] == result["points"] and written["fast"] is True


def test_a_stopped_curve_resumes_and_new_settings_start_afresh(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = load_run(run_dir)
    metric_curve(run, ["mig"], fast=True, every=4)  # scores iteration 4 only
    calls: list[Path] = []
    scored = curve_module.score

    def counting(ctx: Any, metrics: Any, chance: bool, where: Path) -> Any:
        calls.append(where)
        return scored(ctx, metrics, chance, where)

    monkeypatch.setattr(curve_module, "score", counting)
    result = metric_curve(run, ["mig"], fast=True)
    assert [p.name for p in calls] == ["ckpt-0000002.json"]  # 4 was kept from the first call
    assert [p["iteration"] for p in result["points"]] == [2, 4]
    metric_curve(run, ["mig"], fast=True, seed=1)
    assert len(calls) == 3  # another seed: both again


def test_the_command_prints_plots_and_names_bad_flags(run_dir: Path) -> None:
    result = runner.invoke(app, ["curve", str(run_dir), "--metric", "mig", "--fast"])
    assert result.exit_code == 0, result.output
    assert "mig" in result.output and (run_dir / "curve.png").stat().st_size > 0
    rows = [line.split("│")[1].strip() for line in result.output.splitlines() if "│" in line]
    assert rows == ["2", "4"] and "…" not in result.output  # a row per kept checkpoint
    assert "curve.png" in json.loads((run_dir / "manifest.json").read_text())["files"]
    bad = runner.invoke(app, ["curve", str(run_dir), "--every", "3"])
    assert bad.exit_code == 1 and "--every 3: no kept checkpoint" in bad.output
    bad = runner.invoke(app, ["curve", str(run_dir), "--published", "nowhere"])
    assert bad.exit_code == 1 and "--published nowhere" in bad.output
    assert "Traceback" not in bad.output
