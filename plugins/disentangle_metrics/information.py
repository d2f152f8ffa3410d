"""Discrete information helpers shared by the metrics: histogram bins, MI matrix, entropies."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

#: equal-width histogram bins per representation dimension (disentanglement_lib's default)
BINS = 20


def discretize(codes: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Bin index of each value, per column, over `bins` equal-width bins of that column's range."""
    columns = [np.digitize(c, np.histogram(c, bins)[1][:-1]) for c in np.asarray(codes).T]
    return np.stack(columns, axis=1)


def mutual_information(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """MI in nats between each discrete code column and each factor column, [d, K]."""
    return np.array(
        [[mutual_info_score(y, c) for y in factors.T] for c in np.asarray(codes).T],
        dtype=np.float64,
    )


def entropies(factors: np.ndarray) -> np.ndarray:
    """Entropy in nats of each discrete factor column, as MI(y, y), [K]."""
    return np.array([mutual_info_score(y, y) for y in factors.T], dtype=np.float64)
