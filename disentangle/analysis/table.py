"""One table of several runs: the final L_I per code and the eval.json scores, grouped by the
recipe values that differ between the runs (a sweep's axes), mean ± std over each group's seeds."""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from disentangle.errors import DisentangleError
from disentangle.run import Run

#: recipe keys that differ between the runs of one sweep point: not axes
NOT_SWEPT = {"name", "description", "train.seed"}


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested tables and arrays as `a.b[1].c` keys; a list of plain values stays one value, a
    tuple (hashable: the groups are keyed by the values)."""
    if isinstance(data, dict):
        parts = [flat(value, f"{prefix}{key}.") for key, value in data.items()]
    elif isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        parts = [flat(value, f"{prefix[:-1]}[{i}].") for i, value in enumerate(data)]
    else:
        return {prefix[:-1]: tuple(data) if isinstance(data, list) else data}
    return {k: v for part in parts for k, v in part.items()}


def scores(run: Run, metrics: list[str] | None) -> dict[str, float]:
    """`L_I <code>` at the last logged iteration and `metric.score` from eval.json."""
    out = {f"L_I {code}": value for code, value in run.final_mi().items()}
    report = run.path / "eval.json"
    if report.is_file():
        for metric, values in json.loads(report.read_text()).get("metrics", {}).items():
            if metrics is None or metric in metrics:
                out |= {f"{metric}.{k}": v for k, v in values.items() if isinstance(v, float)}
    return out


def swept_keys(recipes: list[dict[str, Any]]) -> list[str]:
    """The keys of `flat` recipes whose values differ between the runs (a sweep's axes)."""
    keys = sorted({k for rec in recipes for k in rec} - NOT_SWEPT)
    return [k for k in keys if len({json.dumps(rec.get(k)) for rec in recipes}) > 1]


@dataclass
class Group:
    values: tuple[Any, ...]  # of the swept keys
    runs: list[Run]
    mean: dict[str, float]
    std: dict[str, float]


@dataclass
class SweepTable:
    swept: list[str]
    columns: list[str]
    groups: list[Group]

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            stats = [f"{c} {s}" for c in self.columns for s in ("mean", "std")]
            w.writerow([*self.swept, "runs", *stats])
            for g in self.groups:
                cells = [v for c in self.columns for v in (g.mean.get(c, ""), g.std.get(c, ""))]
                w.writerow([*g.values, len(g.runs), *cells])


def refuse_mixed(runs: list[Run], kinds: tuple[str, ...], what: str) -> None:
    """Refuse runs whose recipes differ in one of `kinds` ("method", "dataset"): their `type`s
    are named, each with its runs; `what` says what compares runs of one kind only."""
    recipes = [r.require().recipe() for r in runs]
    for kind in kinds:
        found: dict[str, list[str]] = {}
        for run, recipe in zip(runs, recipes, strict=True):
            found.setdefault(getattr(recipe, kind).type, []).append(str(run.path))
        if len(found) > 1:
            groups = "; ".join(f"{name}: {', '.join(paths)}" for name, paths in found.items())
            raise DisentangleError(
                f"the runs differ in {kind}.type ({groups}): {what} compares runs of one "
                f"{kind}; give each {kind}'s runs to a command of their own"
            )


def sweep_table(runs: list[Run], metrics: list[str] | None = None) -> SweepTable:
    if not runs:
        raise DisentangleError("give at least one run folder")
    recipes = [flat(r.require().recipe_data()) for r in runs]
    swept = swept_keys(recipes)
    found = [scores(r, None) for r in runs]
    held = {c.split(".")[0] for f in found for c in f if not c.startswith("L_I ")}
    for name in metrics or []:
        if name not in held:
            raise DisentangleError(
                f"--metric {name}: no run's eval.json holds it (they hold: "
                f"{', '.join(sorted(held)) or 'no metric'})"
            )
    if metrics is not None:
        found = [scores(r, metrics) for r in runs]
    columns = list(dict.fromkeys(c for f in found for c in f))
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, rec in enumerate(recipes):
        groups.setdefault(tuple(rec.get(k) for k in swept), []).append(i)
    table = []
    for values, members in groups.items():
        mean, std = {}, {}
        for c in columns:
            xs = [found[i][c] for i in members if c in found[i]]
            if xs:
                mean[c] = statistics.fmean(xs)
                std[c] = statistics.stdev(xs) if len(xs) > 1 else 0.0
        table.append(Group(values, [runs[i] for i in members], mean, std))
    return SweepTable(swept, columns, table)
