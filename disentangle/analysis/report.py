"""A reproduction report: one Markdown page (PNGs beside it) for the seeds of one recipe."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from disentangle.analysis.literature import published
from disentangle.analysis.plots import logs_mi, mi_curves
from disentangle.errors import DisentangleError
from disentangle.recipe import to_data
from disentangle.recipe.sections import Recipe
from disentangle.run import Run


def _comparable(recipe: Recipe) -> dict[str, Any]:
    """A recipe without what differs between seeds of one experiment."""
    data = to_data(recipe)
    data.pop("name")
    data["train"].pop("seed")
    return data


class Match(BaseModel):
    factor: str
    nmi: float


class Evaluation(BaseModel):
    """What a report reads of an eval.json (`disentangle eval` writes more)."""

    iteration: int
    dataset: str
    fast: bool = False
    metrics: dict[str, dict[str, float]]
    chance: dict[str, dict[str, float]] = {}
    codes: dict[str, Match] = {}


def read_evaluation(run: Run) -> dict[str, Any]:
    """The run's eval.json, checked; an error naming the file when it is missing or damaged."""
    path = run.path / "eval.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DisentangleError(
            f"{path}: missing; run `disentangle eval {run.path}` first"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DisentangleError(f"{path}: not an evaluation report ({exc})") from None
    try:
        Evaluation.model_validate(report)
    except ValidationError as err:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise DisentangleError(f"{path}: not an evaluation report ({wrong})") from None
    return report


def _spread(values: list[float]) -> str:
    """Mean ± sample std; one run has no spread to give, so it is named as one run."""
    if len(values) == 1:
        return f"{values[0]:.3f} (1 run)"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def _gather(reports: list[dict[str, Any]], section: str, name: str, key: str) -> list[float]:
    """One score of every report that has it, e.g. ("metrics", "mig", "mig")."""
    return [r[section][name][key] for r in reports if key in (r.get(section) or {}).get(name, {})]


def _score_rows(reports: list[dict[str, Any]]) -> list[str]:
    """One table row per score: mean ± std, min, max over the runs, and the chance level."""
    rows = [
        "| metric | score | mean ± std | min | max | runs | chance |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scores in reports[0]["metrics"].items():
        for key in scores:
            values = _gather(reports, "metrics", name, key)
            chance = _gather(reports, "chance", name, key)
            level = f"{statistics.fmean(chance):.3f}" if chance else "not measured"
            rows.append(
                f"| {name} | {key} | {_spread(values)} | {min(values):.3f} | {max(values):.3f} "
                f"| {len(values)} | {level} |"
            )
    return rows


def _code_rows(reports: list[dict[str, Any]]) -> list[str]:
    """Per code, the factor it matched in each run, and the normalised MI."""
    codes = reports[0].get("codes") or {}
    if not codes:
        return []
    rows = ["| code | factor matched (per run) | normalised MI |", "|---|---|---|"]
    for code in codes:
        found = [r["codes"][code] for r in reports if code in r.get("codes", {})]
        factors = ", ".join(m["factor"] for m in found)
        rows.append(f"| {code} | {factors} | {_spread([m['nmi'] for m in found])} |")
    return rows


def _published_rows(reports: list[dict[str, Any]], dataset: str) -> list[str]:
    """The literature's numbers for `dataset`, each beside ours where we measured that score."""
    found = published(dataset)
    if not found:
        return []
    rows = [
        "| method | metric | score | published | this toolkit (mean ± std) | source |",
        "|---|---|---|---|---|---|",
    ]
    for p in found:
        ours = _gather(reports, "metrics", p.metric, p.score)
        mine = "not measured"
        if ours:
            mine = _spread(ours) if len(ours) == 1 else f"{_spread(ours)} ({len(ours)} runs)"
        rows.append(
            f"| {p.method} | {p.metric} | {p.score} | {p.value:.3f} | {mine} | {p.source} |"
        )
    notes = sorted({f"{p.method} ({p.source}): {p.note}" for p in found if p.note})
    return [*rows, "", *(f"- {note}" for note in notes)]


def write_report(runs: list[Run], out: Path, command: str) -> Path:
    """Write the report of `runs` (seeds of one recipe) to `out`, its figures beside it."""
    if not runs:
        raise DisentangleError("give at least one run folder")
    recipes = [run.require().recipe() for run in runs]
    reference = _comparable(recipes[0])
    for run, recipe in zip(runs[1:], recipes[1:], strict=True):
        if _comparable(recipe) != reference:
            raise DisentangleError(
                f"{run.path} was trained with another recipe than {runs[0].path} (beyond name "
                "and seed): a report covers the seeds of one recipe"
            )
    reports = [read_evaluation(run) for run in runs]
    recipe = recipes[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# {recipe.name.rsplit('-seed', 1)[0]}",
        "",
        recipe.description or "",
        "",
        f"Made by `{command}`.",
        "",
        "| run | seed | iteration | evaluated on | fast |",
        "|---|---|---|---|---|",
    ]
    for run, seeded, report in zip(runs, recipes, reports, strict=True):
        lines.append(
            f"| `{run.path}` | {seeded.train.seed} | {report['iteration']} | {report['dataset']} | "
            f"{report.get('fast', False)} |"
        )
    lines += ["", "## Scores", "", *_score_rows(reports), ""]
    if any(r.get("chance") for r in reports):
        lines += ["Chance: the same metric on uniform noise of the representation's width.", ""]
    literature = _published_rows(reports, recipe.dataset.type)
    if literature:
        lines += ["## Published numbers", "", *literature, ""]
    code_rows = _code_rows(reports)
    if code_rows:
        lines += ["## What each code captures", "", *code_rows, ""]
    sheet = runs[0].path / "eval" / "traversals.png"
    if sheet.is_file():
        target = out.with_name(f"{out.stem}-traversals.png")
        shutil.copyfile(sheet, target)
        lines += [f"## Traversals ({runs[0].path})", "", f"![traversals]({target.name})", ""]
    if all(logs_mi(run) for run in runs):
        curve = mi_curves(runs, out.with_name(f"{out.stem}-mi.png"))
        lines += ["## L_I per code", "", f"![L_I curves]({curve.name})", ""]
    data = json.dumps(to_data(recipe), indent=1)
    lines += ["## Recipe", "", "```json", data, "```", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    return out
