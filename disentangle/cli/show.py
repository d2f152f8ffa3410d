"""What the commands print about runs: an eval report's scorecard, a sweep's table, a seed
range's runs, a curve, a model selection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from disentangle.console import out

if TYPE_CHECKING:
    from disentangle.analysis.select import Centrality, Purity
    from disentangle.analysis.udr import Udr


def run_column(table: Table) -> None:
    """A column of run paths: a path longer than the column breaks over lines, never cut."""
    table.add_column("run", overflow="fold")


def show_seed_table(seeds: list[int], runs: list[Any]) -> None:
    """`run --seeds`: each seed's run and its final L_I per code."""
    codes = list(runs[0].final_mi())
    table = Table("seed", title="final L_I per code")
    run_column(table)
    for code in codes:
        table.add_column(f"L_I {code}")
    for seed, result in zip(seeds, runs, strict=True):
        mi = result.final_mi()
        table.add_row(str(seed), str(result.path), *[f"{mi[c]:.3f}" for c in codes])
    out.print(table)


def show_scores(report: dict[str, Any]) -> None:
    """The scores of an eval.json report, beside their chance levels when measured."""
    chance = report.get("chance") or {}
    columns = ["metric", "score", "value"] + (["chance"] if chance else [])
    title = f"{report['run']} at iteration {report['iteration']} on {report['dataset']}"
    table = Table(*columns, title=title)
    for name, scores in report["metrics"].items():
        for key, value in scores.items():
            noise = chance.get(name, {}).get(key)
            table.add_row(name, key, f"{value:.4f}", *([f"{noise:.4f}"] if chance else []))
    out.print(table)
    codes = report.get("codes") or {}
    if codes:
        found = ", ".join(f"{code} → {m['factor']} ({m['nmi']:.2f})" for code, m in codes.items())
        out.print(f"codes and the factor each matches best (normalised MI): {found}")
    for name, reason in report["skipped"].items():
        out.print(f"[dim]skipped {name}: {reason}[/]")


def show_curve(result: dict[str, Any], title: str) -> None:
    """A curve's scores: one row per kept checkpoint, one column per score, so that a long
    curve grows down the page and never squeezes its numbers."""
    points = result["points"]
    keys = sorted({(m, s) for p in points for m, v in p["metrics"].items() for s in v})
    table = Table("iteration", *(s for _, s in keys), title=title)
    for p in points:
        values = [p["metrics"].get(m, {}).get(s) for m, s in keys]
        table.add_row(str(p["iteration"]), *("" if v is None else f"{v:.3f}" for v in values))
    out.print(table)


def show_sweep_table(table: Any) -> None:
    """A sweep's groups: the swept values, the runs, each column as mean ± std."""
    out_table = Table(*table.swept, "runs", *table.columns, title="mean ± std over seeds")
    for g in table.groups:
        cells = [f"{g.mean[c]:.3f} ± {g.std[c]:.3f}" if c in g.mean else "" for c in table.columns]
        out_table.add_row(*map(str, g.values), str(len(g.runs)), *cells)
    out.print(out_table)


def run_matrix(
    title: str,
    runs: Sequence[str],
    column: str,
    matrix: Sequence[Sequence[float | None]],
    total: str,
    totals: Sequence[float],
) -> None:
    """A run-by-run table of scores (None: no score), each run's total in a last column."""
    table = Table(title=title)
    run_column(table)
    for i in range(len(runs)):
        table.add_column(f"{column} {i + 1}", justify="right")
    table.add_column(total, justify="right")
    for i, name in enumerate(runs):
        cells = ["" if v is None else f"{v:.3f}" for v in matrix[i]]
        table.add_row(f"{i + 1}. {name}", *cells, f"{totals[i]:.3f}")
    out.print(table)


def show_centrality(result: Centrality) -> None:
    """Every run's FactorVAE score on every teacher, its centrality and the medoid."""
    run_matrix(
        "FactorVAE score of each run (row) on each teacher's codes (column)",
        result.runs,
        "teacher",
        result.scores,
        "centrality",
        result.centrality,
    )
    out.print(f"most central: {result.chosen}")


def show_purity(result: Purity) -> None:
    """Every run's purity and Hungarian accuracy on the same labelled images, and the purest."""
    table = Table(title=f"on the same {result.points} labelled images")
    run_column(table)
    table.add_column("purity")
    table.add_column("Hungarian accuracy")
    for i, name in enumerate(result.runs):
        table.add_row(f"{i + 1}. {name}", f"{result.purity[i]:.3f}", f"{result.hungarian[i]:.3f}")
    out.print(table)
    out.print(f"purest: {result.chosen}")


def show_udr(result: Udr) -> None:
    """Every ordered pair's score, each run's UDR and the chosen run."""
    title = f"UDR on {result.points} images: each pair's score, run (row) to run"
    run_matrix(title, result.runs, "to", result.pairs, "UDR", result.scores)
    out.print(f"highest UDR: {result.chosen}")
