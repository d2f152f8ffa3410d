"""Which ground-truth factor each latent code captures: normalised mutual information.

For every code, MI(code; factor) / H(factor) for every varying factor, from images rendered
from sampled factors and encoded by the trained model. A categorical code is read as its most
probable category; a continuous code as each of its dimensions binned into equal-width bins
(the best dimension counts). This labels figures; the metrics plugin scores disentanglement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from disentangle.components import EvalContext, GroundTruthDataset

#: equal-width histogram bins for a continuous code (disentanglement_lib's default)
BINS = 20


@dataclass(frozen=True)
class FactorMatch:
    """A code's best-matching factor, and its normalised MI with every varying factor."""

    factor: str
    nmi: float
    all: dict[str, float]


def binned(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Equal-width bin index of each value over the values' range."""
    edges = np.histogram_bin_edges(values, bins)
    return np.digitize(values, edges[1:-1])


def factor_matches(ctx: EvalContext, n: int = 5_000) -> dict[str, FactorMatch]:
    """Each code's normalised MI with each varying factor of a ground-truth dataset."""
    from sklearn.metrics import mutual_info_score  # as the metrics: MI in nats of two labelings

    dataset = ctx.dataset
    if not isinstance(dataset, GroundTruthDataset):
        return {}
    factors = dataset.sample_factors(n, torch.Generator().manual_seed(ctx.seed))
    representation = ctx.encode(dataset.render(factors)).double().numpy()
    factors_np = factors.numpy()
    names = dataset.factor_names or tuple(f"factor{k}" for k in range(factors_np.shape[1]))
    varying = [k for k in range(factors_np.shape[1]) if len(np.unique(factors_np[:, k])) > 1]
    matches = {}
    for name, code in ctx.codes.items():
        columns = representation[:, ctx.code_columns[name]]
        readings = [columns.argmax(axis=1)] if code.discrete else [binned(c) for c in columns.T]
        nmi = {
            names[k]: max(mutual_info_score(factors_np[:, k], r) for r in readings)
            / mutual_info_score(factors_np[:, k], factors_np[:, k])
            for k in varying
        }
        best = max(nmi, key=nmi.__getitem__) if nmi else ""
        matches[name] = FactorMatch(best, nmi.get(best, 0.0), nmi)
    return matches
