"""Interventional robustness score (IRS; Suter et al. 2019) as disentanglement_lib defines it.

Arrays are sample-major: codes [N, d] (the representation), factors [N, K] (discrete indices).
"""

from __future__ import annotations

import numpy as np

from disentangle_metrics.information import BINS, discretize

#: the quantile of a group's deviations taken as its largest (1.0: the paper's maximum)
QUANTILE = 0.99


def irs_matrix(codes: np.ndarray, factors: np.ndarray, quantile: float = QUANTILE) -> np.ndarray:
    """[d, K]: 1 − E_value[quantile of |z − E[z | factor = value]|] / max |z − E[z]|.

    Every code column must vary (a positive largest deviation).
    """
    scale = np.abs(codes - codes.mean(axis=0)).max(axis=0)
    matrix = np.empty((codes.shape[1], factors.shape[1]))
    for k, column in enumerate(factors.T):
        values = np.unique(column)
        spread = np.zeros(codes.shape[1])
        for value in values:
            group = codes[column == value]
            spread += np.quantile(np.abs(group - group.mean(axis=0)), quantile, axis=0)
        matrix[:, k] = 1 - spread / len(values) / scale
    return matrix


def irs(
    codes: np.ndarray, factors: np.ndarray, bins: int = BINS, quantile: float = QUANTILE
) -> dict[str, float]:
    """IRS: per varying code its best factor's robustness, averaged weighted by the code's
    largest deviation from its mean; factors binned into `bins` equal-width bins first."""
    active = codes.var(axis=0) > 0
    if not active.any():
        return {"irs": 0.0, "irs_active_dims": 0.0}
    codes = codes[:, active]
    weights = np.abs(codes - codes.mean(axis=0)).max(axis=0)
    best = irs_matrix(codes, discretize(factors, bins), quantile).max(axis=1)
    return {"irs": float(np.average(best, weights=weights)), "irs_active_dims": float(active.sum())}
