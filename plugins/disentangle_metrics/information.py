"""Discrete information helpers shared by the metrics: histogram bins, MI matrix, entropies."""

from __future__ import annotations

import numpy as np

#: equal-width histogram bins per representation dimension (disentanglement_lib's default)
BINS = 20


def discretize(codes: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Bin index of each value, per column, over `bins` equal-width bins of that column's range."""
    columns = [np.digitize(c, np.histogram(c, bins)[1][:-1]) for c in np.asarray(codes).T]
    return np.stack(columns, axis=1)


def _labels(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's values as labels 0..n_j − 1 [N, m], and n_j [m]."""
    pairs = [np.unique(c, return_inverse=True) for c in np.asarray(columns).T]
    labels = np.stack([inverse.reshape(-1) for _, inverse in pairs], axis=1)
    return labels.astype(np.int64), np.array([len(values) for values, _ in pairs], dtype=np.int64)


def mutual_information(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """MI in nats between each discrete code column and each factor column, [d, K].

    One joint histogram per code column against every factor at once (the factors' label
    ranges laid side by side), the same sums as sklearn's mutual_info_score per pair.
    """
    x, nx = _labels(codes)
    y, ny = _labels(factors)
    n = len(x)
    width = int(ny.sum())  # every factor's labels side by side
    offsets = np.concatenate([[0], np.cumsum(ny)[:-1]])
    y_global = y + offsets  # factor k's label j -> column offsets[k] + j
    p_y = np.bincount(y_global.ravel(), minlength=width) / n
    mi = np.zeros((x.shape[1], y.shape[1]))
    for i in range(x.shape[1]):
        cells = (x[:, i : i + 1] * width + y_global).ravel()
        joint = np.bincount(cells, minlength=int(nx[i]) * width).reshape(nx[i], width) / n
        p_x = joint[:, : ny[0]].sum(axis=1)  # any one factor's block sums to p(x)
        outer = p_x[:, None] * p_y[None, :]
        terms = np.where(joint > 0, joint * np.log(np.where(joint > 0, joint, 1) / outer), 0.0)
        mi[i] = np.add.reduceat(terms.sum(axis=0), offsets)
    return np.clip(mi, 0.0, None)


def entropies(factors: np.ndarray) -> np.ndarray:
    """Entropy in nats of each discrete factor column, [K]."""
    y, _ = _labels(factors)
    entropy = []
    for column in y.T:
        p = np.bincount(column) / len(column)
        p = p[p > 0]
        entropy.append(-(p * np.log(p)).sum())
    return np.array(entropy, dtype=np.float64)
