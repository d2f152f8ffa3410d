"""Plots from metrics.jsonl: the L_I curve of one or more runs against H(c) (paper Figure 1)."""

from __future__ import annotations

from pathlib import Path

from disentangle.errors import DisentangleError
from disentangle.run import Run


def mi_curves(runs: list[Run], path: Path, labels: list[str] | None = None) -> Path:
    """One panel per code: L_I over iterations for each run, H(c) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = [(run, run.metrics()) for run in runs]
    for run, records in logs:
        if not records:
            raise DisentangleError(f"{run.metrics_path}: no metrics logged yet")
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
        entropy = logs[0][1][0]["entropy"].get(code)
        if entropy is not None:
            ax.axhline(entropy, color="black", linestyle="--", linewidth=1, label="H(c)")
        ax.set_title(code)
        ax.set_xlabel("iteration")
        ax.set_ylabel("L_I (nats)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
