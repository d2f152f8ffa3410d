"""`disentangle study`: runs of several methods side by side, the rank correlation between
scores, and a reference implementation's scores beside the toolkit's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.tiny import TINY_RECIPE
from typer.testing import CliRunner

from disentangle.cli import app
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

runner = CliRunner()

#: (method label, seed) -> (mig, sap) written into each run's eval.json: mig rises and sap
#: falls over the four runs, so their rank correlation is exactly −1
SCORES = {
    ("alpha", 1): (0.1, 0.4),
    ("alpha", 2): (0.2, 0.3),
    ("beta", 1): (0.3, 0.2),
    ("beta", 2): (0.4, 0.1),
}


def evaluation(mig: float, sap: float, dataset: str = "procedural") -> dict[str, Any]:
    return {
        "iteration": 2,
        "dataset": dataset,
        "fast": True,
        "metrics": {"mig": {"mig": mig}, "sap": {"sap": sap}},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("study")
    folders = []
    for (label, seed), (mig, sap) in SCORES.items():
        data = json.loads(json.dumps(TINY_RECIPE))
        data["name"] = f"{label}-seed{seed}"
        data["train"].update(seed=seed, iterations=2, checkpoint_every=2, sample_every=2)
        run = train(validate_recipe(data), root / f"{label}-seed{seed}")
        (run.path / "eval.json").write_text(json.dumps(evaluation(mig, sap)))
        folders.append(run.path)
    return folders


def study(*args: str) -> Any:
    return runner.invoke(app, ["study", *args])


def test_the_study_gives_each_methods_median_and_range_and_the_rank_correlation(
    runs: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "pages" / "study.md"
    result = study(*map(str, runs), "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "4 runs of 2 methods on procedural (fast evaluation)" in page
    assert "| alpha | 2 | mig | 0.150 [0.100, 0.200] |" in page
    assert "| beta | 2 | sap | 0.150 [0.100, 0.200] |" in page
    assert "| mig | 1.00 | -1.00 |" in page  # mig against itself and against sap
    assert "| sap | -1.00 | 1.00 |" in page
    for name in ("study-scores.png", "study-rank.png"):
        assert f"]({name})" in page
        assert (out.parent / name).read_bytes()[:4] == b"\x89PNG"


def test_a_reference_implementations_scores_get_their_own_column(
    runs: list[Path], tmp_path: Path
) -> None:
    for run, mig in zip(runs[:2], (0.5, 0.7), strict=True):  # alpha's two seeds
        reference = {"peer_name": "disent", "peer": {"scores": {"mig": {"mig": mig}}}}
        (run / "reference-disent.json").write_text(json.dumps(reference))
    try:
        out = tmp_path / "study.md"
        assert study(*map(str, runs), "--out", str(out)).exit_code == 0
        page = out.read_text()
        assert "| method | runs | score | median [min, max] | disent |" in page
        assert "| alpha | 2 | mig | 0.150 [0.100, 0.200] | 0.600 [0.500, 0.700] |" in page
        assert "| beta | 2 | mig | 0.350 [0.300, 0.400] | — |" in page
    finally:
        for run in runs[:2]:
            (run / "reference-disent.json").unlink()


def test_the_html_page_holds_both_tables_and_both_figures(runs: list[Path], tmp_path: Path) -> None:
    html = tmp_path / "study.html"
    assert study(*map(str, runs), "--html", str(html)).exit_code == 0
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "Scores per method" in page and "Rank correlation between scores" in page
    assert not (tmp_path / "study.md").exists()  # --html alone writes the page only


def test_the_rank_correlation_needs_three_runs(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "two.md"
    assert study(str(runs[0]), str(runs[2]), "--out", str(out)).exit_code == 0
    assert "| mig | — | — |" in out.read_text()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("dataset", "a study compares scores of one dataset"),
        ("reference", "beta-seed2/reference-pythae.json: not a reference file"),
        ("one", "give at least two run folders"),
    ],
)
def test_what_cannot_be_compared_is_refused(
    runs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, message: str
) -> None:
    monkeypatch.chdir(runs[0].parent)  # short paths: the message fits the terminal
    eval_path = runs[3] / "eval.json"
    before = eval_path.read_text()
    reference = runs[3] / "reference-pythae.json"
    if damage == "dataset":
        eval_path.write_text(json.dumps(evaluation(0.4, 0.1, dataset="dsprites")))
    elif damage == "reference":
        reference.write_text('{"peer_name": "pythae"}')
    given = [run.name for run in (runs[:1] if damage == "one" else runs)]
    try:
        result = study(*given, "--out", str(tmp_path / "x.md"))
    finally:
        eval_path.write_text(before)
        reference.unlink(missing_ok=True)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.md").exists()
