"""Plots from metrics.jsonl: the L_I curve of one or more runs against H(c) (paper Figure 1),
and a run's losses."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from disentangle.errors import DisentangleError
from disentangle.run import Run

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def logs_mi(run: Run) -> bool:
    """Whether the run's metrics.jsonl holds L_I per code (an InfoGAN-style method's)."""
    records = run.metrics()
    return bool(records) and bool(records[0].get("mi"))


def pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend (files only, no window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mi_curves(runs: list[Run], path: Path, labels: list[str] | None = None) -> Path:
    """The L_I curves of `runs` (see `mi_figure`) as a PNG."""
    fig = mi_figure(runs, labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def mi_figure(runs: list[Run], labels: list[str] | None = None) -> Figure:
    """One panel per code: L_I over iterations for each run, and the most L_I can reach.

    The ceiling is H(c) for a discrete code; a continuous code's bound with a fixed posterior
    std tops out below H(c) (log 2 − ½ log 2π ≈ −0.23 nats for U(−1, 1) and std 1), so its
    attainable maximum is drawn dashed and H(c) dotted. Logs from before ceilings were
    recorded show H(c) alone.
    """
    plt = pyplot()
    logs = [(run, run.metrics()) for run in runs]
    for run, records in logs:
        if not records:
            raise DisentangleError(f"{run.metrics_path}: no metrics logged yet")
        if not logs_mi(run):
            raise DisentangleError(f"{run.metrics_path}: no L_I logged (its method logs none)")
    codes = list(logs[0][1][0]["mi"])
    fig, axes = plt.subplots(1, len(codes), figsize=(4.2 * len(codes), 3.4), squeeze=False)
    for i, code in enumerate(codes):
        ax = axes[0][i]
        for j, (run, records) in enumerate(logs):
            points = [
                (r["iteration"], r["mi"][code]) for r in records if r["mi"].get(code) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, label=labels[j] if labels else run.path.name)
        first = logs[0][1][0]
        entropy = first["entropy"].get(code)
        ceiling = first.get("ceiling", {}).get(code, entropy)
        if ceiling is not None:
            label = "H(c)" if ceiling == entropy else "attainable max"
            ax.axhline(ceiling, color="black", linestyle="--", linewidth=1, label=label)
        if entropy is not None and ceiling != entropy:
            ax.axhline(entropy, color="grey", linestyle=":", linewidth=1, label="H(c)")
        ax.set_title(code)
        ax.set_xlabel("iteration")
        ax.set_ylabel("L_I (nats)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: what a metrics record holds besides the method's scalars
NOT_LOSSES = {"iteration", "iterations_per_s", "images_per_s"}


def losses_figure(run: Run) -> Figure | None:
    """One panel per scalar the method logs (its losses), over iterations; None without any."""
    records = run.metrics()
    names = [
        k
        for k, v in (records[0] if records else {}).items()
        if k not in NOT_LOSSES and isinstance(v, float)
    ]
    if not names:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        points = [(r["iteration"], r[name]) for r in records if isinstance(r.get(name), float)]
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys)
        ax.set_title(name)
        ax.set_xlabel("iteration")
    fig.tight_layout()
    return fig
