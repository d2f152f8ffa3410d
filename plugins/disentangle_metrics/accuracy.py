"""Unsupervised classification accuracy of a categorical code: clusters matched to labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment

#: largest confusion matrix (cells) whose counts are written into the heatmap
ANNOTATE_CELLS = 400


def confusion(
    clusters: np.ndarray, labels: np.ndarray, n_clusters: int, n_labels: int
) -> np.ndarray:
    """Counts [n_clusters, n_labels] of (predicted cluster, true label) pairs."""
    counts = np.zeros((n_clusters, n_labels), dtype=np.int64)
    np.add.at(counts, (clusters, labels), 1)
    return counts


def hungarian_accuracy(counts: np.ndarray) -> float:
    """Accuracy under the best one-to-one map from clusters to labels (unmatched ones miss)."""
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / counts.sum())


def majority_accuracy(counts: np.ndarray) -> float:
    """Accuracy when each cluster predicts its most frequent label (several may share one)."""
    return float(counts.max(axis=1).sum() / counts.sum())


def save_confusion(counts: np.ndarray, path: Path, title: str) -> Path:
    """The confusion matrix as a PNG heatmap, clusters down, labels across."""
    n_clusters, n_labels = counts.shape
    fig = Figure(figsize=(1.5 + 0.45 * n_labels, 1.0 + 0.45 * n_clusters))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    if counts.size <= ANNOTATE_CELLS:
        half = counts.max() / 2
        for (i, j), n in np.ndenumerate(counts):
            color = "white" if n > half else "black"
            ax.text(j, i, str(n), ha="center", va="center", fontsize=7, color=color)
    ax.set(title=title, xlabel="label", ylabel="cluster")
    ax.set_xticks(range(n_labels))
    ax.set_yticks(range(n_clusters))
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
