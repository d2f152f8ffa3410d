"""A study over runs of several methods on one dataset: each score's distribution per method,
the rank correlation between scores across all runs (as Locatello et al. 2019 report it),
and, where a run folder carries another implementation's scores of the same training
(`reference-<peer>.json`, written by benchmarks/reference/vae_peers.py), that reference's
median beside the method's."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from disentangle.analysis.html_page import Cell, esc, figure_uri, image, page, table
from disentangle.analysis.plots import pyplot
from disentangle.analysis.report import read_evaluation
from disentangle.errors import DisentangleError
from disentangle.run import Run
from disentangle.run.checkpoint import write_text_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the fewest runs a rank correlation is given for
MIN_RUNS_FOR_CORRELATION = 3
#: a run folder's file holding another implementation's scores of the same training
REFERENCE_GLOB = "reference-*.json"


class ReferenceSide(BaseModel):
    scores: dict[str, dict[str, float]]


class ReferenceFile(BaseModel):
    """What the study reads of a reference file (the harness writes more)."""

    peer_name: str
    peer: ReferenceSide


@dataclass
class StudyRun:
    """One run's place in the study: its method label, seed, scores and references."""

    run: Run
    group: str
    seed: int
    dataset: str
    fast: bool
    scores: dict[str, float]
    references: dict[str, dict[str, float]] = field(default_factory=dict)


def flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """eval.json's {metric: {score: value}} as {score: value} (score names are distinct)."""
    return {key: value for scores in metrics.values() for key, value in scores.items()}


def group_of(name: str) -> str:
    """A run's method label: its recipe name without the seed a sweep appends."""
    return name.rsplit("-seed", 1)[0]


def read_references(run: Run) -> dict[str, dict[str, float]]:
    """Each reference file's peer name and scores; an error naming a damaged file."""
    found = {}
    for path in sorted(run.path.glob(REFERENCE_GLOB)):
        try:
            reference = ReferenceFile.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, UnicodeDecodeError) as err:
            reason = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
            raise DisentangleError(f"{path}: not a reference file ({reason})") from None
        found[reference.peer_name] = flat(reference.peer.scores)
    return found


def study_runs(runs: Sequence[Run]) -> list[StudyRun]:
    """The runs with their evaluations, all on one dataset and one evaluation protocol."""
    if len(runs) < 2:
        raise DisentangleError("a study compares runs: give at least two run folders")
    found = []
    for run in runs:
        recipe = run.require().recipe()
        evaluation = read_evaluation(run)
        found.append(
            StudyRun(
                run,
                group_of(recipe.name),
                recipe.train.seed,
                evaluation["dataset"],
                bool(evaluation.get("fast", False)),
                flat(evaluation["metrics"]),
                read_references(run),
            )
        )
    first = found[0]
    for other in found[1:]:
        if (other.dataset, other.fast) != (first.dataset, first.fast):
            raise DisentangleError(
                f"{other.run.path} was evaluated on {other.dataset} (fast: {other.fast}) and "
                f"{first.run.path} on {first.dataset} (fast: {first.fast}): a study compares "
                "scores of one dataset and one evaluation protocol"
            )
    return found


def common_scores(runs: Sequence[StudyRun]) -> list[str]:
    """The scores every run has, in the first run's order."""
    return [key for key in runs[0].scores if all(key in r.scores for r in runs)]


def groups(runs: Sequence[StudyRun]) -> dict[str, list[StudyRun]]:
    found: dict[str, list[StudyRun]] = {}
    for run in runs:
        found.setdefault(run.group, []).append(run)
    return found


def peers(runs: Sequence[StudyRun]) -> list[str]:
    return sorted({peer for run in runs for peer in run.references})


def spearman(runs: Sequence[StudyRun], scores: Sequence[str]) -> list[list[float | None]]:
    """Spearman's ρ between every two scores across all runs; None where it is undefined
    (fewer than MIN_RUNS_FOR_CORRELATION runs, or a score equal in every run)."""
    from scipy.stats import spearmanr

    columns = [[run.scores[key] for run in runs] for key in scores]
    matrix: list[list[float | None]] = []
    for a in columns:
        row: list[float | None] = []
        for b in columns:
            constant = len(set(a)) == 1 or len(set(b)) == 1
            if len(runs) < MIN_RUNS_FOR_CORRELATION or constant:
                row.append(None)
            else:
                row.append(float(spearmanr(a, b).statistic))
        matrix.append(row)
    return matrix


@dataclass(frozen=True)
class Summary:
    """One score of one method: its runs' values and their median."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self) -> str:
        if len(self.values) == 1:
            return f"{self.values[0]:.3f} (1 run)"
        return f"{self.median:.3f} [{min(self.values):.3f}, {max(self.values):.3f}]"


def summary_rows(runs: Sequence[StudyRun], scores: Sequence[str]) -> list[list[Cell]]:
    """Per method and score: the runs' median [min, max], and each reference's median."""
    rows = []
    names = peers(runs)
    for group, members in groups(runs).items():
        for key in scores:
            ours = Summary([r.scores[key] for r in members])
            row = [Cell(group), Cell.of(len(members)), Cell(key), Cell(ours.text(), ours.median)]
            for peer in names:
                values = [
                    r.references[peer][key] for r in members if key in r.references.get(peer, {})
                ]
                if values:
                    theirs = Summary(values)
                    row.append(Cell(theirs.text(), theirs.median))
                else:
                    row.append(Cell("—"))
            rows.append(row)
    return rows


def distributions_figure(runs: Sequence[StudyRun], scores: Sequence[str]) -> Figure:
    """One panel per score: each method's runs as points, their median as a bar, and each
    reference's median as an open marker."""
    plt = pyplot()
    by_group = groups(runs)
    names = peers(runs)
    columns = min(4, len(scores))
    rows = -(-len(scores) // columns)
    height = (2.4 + 0.25 * len(by_group)) * rows
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, height), squeeze=False)
    markers = "Ds^v<>"
    for ax, key in zip(axes.flat, scores, strict=False):
        for y, members in enumerate(by_group.values()):
            values = [r.scores[key] for r in members]
            ax.plot(values, [y] * len(values), "o", color="C0", alpha=0.7, markersize=4)
            ax.plot([statistics.median(values)] * 2, [y - 0.3, y + 0.3], color="C0")
            for i, peer in enumerate(names):
                theirs = [
                    r.references[peer][key] for r in members if key in r.references.get(peer, {})
                ]
                if theirs:
                    label = peer if y == 0 or not ax.get_legend_handles_labels()[1] else None
                    ax.plot(
                        statistics.median(theirs),
                        y,
                        markers[i % len(markers)],
                        mfc="none",
                        color=f"C{i + 1}",
                        markersize=7,
                        label=label,
                    )
        ax.set_yticks(range(len(by_group)), list(by_group), fontsize=7)
        ax.set_title(key, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(scores) :]:
        ax.set_visible(False)
    if names:
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def correlation_figure(scores: Sequence[str], matrix: list[list[float | None]]) -> Figure:
    """The rank correlations as a heat map, each cell labelled."""
    plt = pyplot()
    size = 1.0 + 0.55 * len(scores)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    values = [[float("nan") if v is None else v for v in row] for row in matrix]
    shown = ax.imshow(values, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(scores)), scores, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(scores)), scores, fontsize=7)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(
                j, i, "—" if value is None else f"{value:.2f}", ha="center", va="center", fontsize=6
            )
    fig.colorbar(shown, ax=ax, label="Spearman's ρ")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def correlation_rows(scores: Sequence[str], matrix: list[list[float | None]]) -> list[list[Cell]]:
    return [
        [Cell(key), *(Cell("—") if v is None else Cell.of(v, 2) for v in row)]
        for key, row in zip(scores, matrix, strict=True)
    ]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(c.text for c in row) + " |" for row in rows]


@dataclass
class Study:
    """Everything both pages show."""

    runs: list[StudyRun]
    scores: list[str]
    correlations: list[list[float | None]]

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Study:
        found = study_runs(runs)
        scores = common_scores(found)
        if not scores:
            raise DisentangleError("the runs share no score: evaluate them with the same metrics")
        return cls(found, scores, spearman(found, scores))

    def summary_headers(self) -> list[str]:
        return ["method", "runs", "score", "median [min, max]", *peers(self.runs)]

    def run_rows(self) -> list[list[Cell]]:
        return [[Cell(str(r.run.path)), Cell(r.group), Cell.of(r.seed)] for r in self.runs]

    def intro(self) -> str:
        first = self.runs[0]
        protocol = "fast" if first.fast else "full"
        return (
            f"{len(self.runs)} runs of {len(groups(self.runs))} methods on {first.dataset} "
            f"({protocol} evaluation). Each score: the median over a method's runs "
            "[min, max]; a reference column is another implementation's median over the same "
            "trainings (same seeds, data and steps)."
        )


def write_study(runs: Sequence[Run], out: Path, command: str) -> Path:
    """The study as Markdown at `out`, its two figures beside it."""
    if out.suffix.lower() != ".md":
        raise DisentangleError(f"{out}: the study's file name must end in .md")
    study = Study.of(runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    spread = save_figure(
        distributions_figure(study.runs, study.scores), out.with_name(f"{out.stem}-scores.png")
    )
    ranks = save_figure(
        correlation_figure(study.scores, study.correlations), out.with_name(f"{out.stem}-rank.png")
    )
    lines = [
        "# Study",
        "",
        study.intro(),
        "",
        f"Made by `{command}`.",
        "",
        *markdown_table(["run", "method", "seed"], study.run_rows()),
        "",
        "## Scores per method",
        "",
        *markdown_table(study.summary_headers(), summary_rows(study.runs, study.scores)),
        "",
        f"![scores per method]({spread.name})",
        "",
        "## Rank correlation between scores (Spearman's ρ, across all runs)",
        "",
        *markdown_table(["", *study.scores], correlation_rows(study.scores, study.correlations)),
        "",
        f"![rank correlations]({ranks.name})",
        "",
    ]
    write_text_atomic(out, "\n".join(lines))
    return out


def write_study_html(runs: Sequence[Run], out: Path, command: str) -> Path:
    """The study as one self-contained HTML page (figures inline)."""
    from disentangle.analysis.html_report import check_target

    check_target(out)
    study = Study.of(runs)
    body = [
        "<h1>Study</h1>",
        f"<p>{esc(study.intro())}</p>",
        f'<p class="caption">Made by <code>{esc(command)}</code>.</p>',
        table(["run", "method", "seed"], study.run_rows(), sortable=True),
        "<h2>Scores per method</h2>",
        table(study.summary_headers(), summary_rows(study.runs, study.scores), sortable=True),
        image(figure_uri(distributions_figure(study.runs, study.scores)), "scores per method"),
        "<h2>Rank correlation between scores (Spearman's ρ, across all runs)</h2>",
        table(["", *study.scores], correlation_rows(study.scores, study.correlations)),
        image(
            figure_uri(correlation_figure(study.scores, study.correlations)), "rank correlations"
        ),
    ]
    write_text_atomic(out, page("Study", body))
    return out


def reference_file(report: dict[str, Any]) -> str:
    """A harness report as the JSON text of a reference file (its checked fields first)."""
    ReferenceFile.model_validate(report)
    return json.dumps(report, indent=1) + "\n"
