"""`disentangle report`: one Markdown page for the seeds of a recipe."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from disentangle import Published, hookimpl
from disentangle.analysis.evaluate import evaluate
from disentangle.analysis.literature import published
from disentangle.cli import app
from disentangle.errors import DisentangleError
from disentangle.plugins import PluginHost, host
from disentangle.recipe import load_recipe, validate_recipe
from disentangle.training.loop import train

RECIPES = Path(__file__).resolve().parents[2] / "recipes"

runner = CliRunner()


@pytest.fixture
def seeds(tiny_recipe: dict[str, Any], tmp_path: Path) -> list[Path]:
    folders = []
    for seed in (1, 2):
        tiny_recipe["train"]["seed"] = seed
        tiny_recipe["name"] = f"tiny-seed{seed}"
        run = train(validate_recipe(tiny_recipe), tmp_path / f"tiny-seed{seed}")
        evaluate(run, ["mig"], fast=True, chance=True)
        folders.append(run.path)
    return folders


def test_the_report_gives_every_score_over_seeds_beside_chance(
    seeds: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "reports" / "tiny.md"
    result = runner.invoke(app, ["report", *map(str, seeds), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    values = [json.loads((s / "eval.json").read_text())["metrics"]["mig"]["mig"] for s in seeds]
    chance = [json.loads((s / "eval.json").read_text())["chance"]["mig"]["mig"] for s in seeds]
    row = (
        f"| mig | mig | {statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f} | "
        f"{min(values):.3f} | {max(values):.3f} | 2 | {statistics.fmean(chance):.3f} |"
    )
    assert row in page
    assert "Chance: the same metric on uniform noise" in page
    assert page.startswith("# tiny\n")
    assert f"Made by `disentangle report {seeds[0]} {seeds[1]} --out {out}`" in page
    for name in ("tiny-traversals.png", "tiny-mi.png"):
        assert f"]({name})" in page
        assert (out.parent / name).read_bytes()[:4] == b"\x89PNG"
    assert '"seed": 1' in page  # the recipe, in full


def test_without_chance_levels_the_report_says_not_measured(
    seeds: list[Path], tmp_path: Path
) -> None:
    for seed in seeds:
        report = json.loads((seed / "eval.json").read_text())
        report.pop("chance")
        (seed / "eval.json").write_text(json.dumps(report))
    out = tmp_path / "tiny.md"
    assert runner.invoke(app, ["report", *map(str, seeds), "--out", str(out)]).exit_code == 0
    page = out.read_text()
    assert "| 2 | not measured |" in page
    assert "Chance:" not in page


def test_one_run_is_named_as_one_run_not_given_a_zero_spread(
    seeds: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "one.md"
    assert runner.invoke(app, ["report", str(seeds[0]), "--out", str(out)]).exit_code == 0
    page = out.read_text()
    value = json.loads((seeds[0] / "eval.json").read_text())["metrics"]["mig"]["mig"]
    assert f"| mig | mig | {value:.3f} (1 run) | {value:.3f} | {value:.3f} | 1 |" in page
    assert "± 0.000" not in page


def test_runs_of_different_recipes_or_without_evaluation_are_refused(
    seeds: list[Path], tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    tiny_recipe["method"] = {"type": "infogan", "lr_g": 5e-4}
    other = train(validate_recipe(tiny_recipe), tmp_path / "other").path
    result = runner.invoke(app, ["report", str(seeds[0]), str(other)])
    assert result.exit_code == 1 and "another recipe" in result.output
    (seeds[1] / "eval.json").unlink()
    result = runner.invoke(app, ["report", *map(str, seeds)])
    squeezed = "".join(result.output.replace("│", "").split())  # Rich wraps long paths
    assert result.exit_code == 1
    assert "eval.json:missing" in squeezed and "disentangleeval" in squeezed


@pytest.mark.parametrize(
    "text",
    ['{"metrics": {"mig": {"mig": "high"}}}', '{"metrics": {}}', "[1]", "{", ""],
)
def test_a_damaged_evaluation_is_named(seeds: list[Path], text: str) -> None:
    (seeds[0] / "eval.json").write_text(text)
    result = runner.invoke(app, ["report", *map(str, seeds)])
    squeezed = "".join(result.output.replace("│", "").split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "eval.json:notanevaluationreport" in squeezed


class Lab:
    """A plugin that keeps one paper's numbers for the procedural dataset."""

    @hookimpl
    def published_results(self):
        return [
            {"dataset": "procedural", "method": "LabGAN", "metric": "mig", "score": "mig",
             "value": 0.5, "source": "Someone 2024, Table 9", "note": "10 seeds"},
            Published(dataset="procedural", method="LabGAN", metric="sap", score="sap",
                      value=0.25, source="Someone 2024, Table 9"),
            {"dataset": "mnist", "method": "LabGAN", "metric": "mig", "score": "mig",
             "value": 0.1, "source": "elsewhere"},
        ]  # fmt: skip


def test_published_numbers_stand_beside_the_measured_ones(
    seeds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = PluginHost()
    lab.add(Lab(), name="lab")
    monkeypatch.setattr("disentangle.analysis.literature.host", lab)
    out = tmp_path / "tiny.md"
    assert runner.invoke(app, ["report", *map(str, seeds), "--out", str(out)]).exit_code == 0
    page = out.read_text()
    values = [json.loads((s / "eval.json").read_text())["metrics"]["mig"]["mig"] for s in seeds]
    ours = f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f} (2 runs)"
    assert f"| LabGAN | mig | mig | 0.500 | {ours} | Someone 2024, Table 9 |" in page
    assert "| LabGAN | sap | sap | 0.250 | not measured | Someone 2024, Table 9 |" in page
    assert "- LabGAN (Someone 2024, Table 9): 10 seeds" in page
    assert "elsewhere" not in page  # another dataset's numbers


def test_a_plugins_malformed_published_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @hookimpl
        def published_results(self):
            return [{"dataset": "mnist", "method": "X", "metric": "mig", "score": "mig",
                     "value": "high", "source": "s"}]  # fmt: skip

    broken = PluginHost()
    broken.add(Broken(), name="broken")
    monkeypatch.setattr("disentangle.analysis.literature.host", broken)
    with pytest.raises(DisentangleError, match=r"plugin 'broken': published result 0 .*value"):
        published()


def test_a_plugin_whose_published_hook_fails_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        @hookimpl
        def published_results(self):
            raise KeyError("results")

    failing = PluginHost()
    failing.add(Failing(), name="failing")
    monkeypatch.setattr("disentangle.analysis.literature.host", failing)
    with pytest.raises(DisentangleError, match=r"plugin 'failing': published_results\(\) failed: "
                       r"KeyError"):  # fmt: skip
        published()


def test_the_shipped_published_numbers_name_registered_metrics() -> None:
    records = published()
    assert {p.dataset for p in records} <= set(host.datasets.names())
    assert {p.metric for p in records} <= set(host.metrics.names())
    dsprites = {(p.method, p.score): p.value for p in published("dsprites")}
    assert dsprites[("InfoGAN (modified)", "mig")] == 0.22
    assert dsprites[("InfoGAN-CR", "factor_vae")] == 0.88
    assert len(dsprites) == 12
    for name, fid_value in (("cub", 13.20), ("cars", 17.63), ("dogs", 29.34)):  # FineGAN's Table 1
        rows = {(p.metric, p.score): p.value for p in published(name)}
        assert rows[("fid", "fid")] == fid_value and ("inception_score", "inception_score") in rows
        assert load_recipe(RECIPES / f"{name}.toml").dataset.type == name
