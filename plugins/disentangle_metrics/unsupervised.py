"""disentanglement_lib's unsupervised scores: they read the representation alone.

Codes are sample-major [N, d]. The Gaussian scores compare N(0, Σ), Σ the codes' covariance
(ddof = 1), with the product of its marginals N(0, diag Σ).
"""

from __future__ import annotations

import numpy as np

from disentangle_metrics.information import BINS, discretize, mutual_information


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """KL(N(0, Σ) ‖ N(0, diag Σ)) = ½ (Σ_i log Σ_ii − log det Σ); +inf for a singular Σ."""
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("inf")
    return float(0.5 * (np.sum(np.log(np.diag(cov))) - logdet))


def gaussian_wasserstein_correlation(cov: np.ndarray) -> float:
    """Squared 2-Wasserstein distance between N(0, Σ) and N(0, D), D = diag Σ:
    tr Σ + tr D − 2 tr (D^½ Σ D^½)^½ = 2 tr Σ − 2 Σ √eigenvalues of D^½ Σ D^½."""
    root = np.sqrt(np.diag(cov))
    eigenvalues = np.linalg.eigvalsh(root[:, None] * cov * root[None, :])
    return float(2 * np.trace(cov) - 2 * np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def mutual_info_score(codes: np.ndarray, bins: int = BINS) -> float:
    """Mean MI in nats between two distinct code columns, each binned into `bins` bins."""
    binned = discretize(codes, bins)
    mi = mutual_information(binned, binned)
    np.fill_diagonal(mi, 0)
    d = codes.shape[1]
    return float(mi.sum() / (d * d - d))


def unsupervised_scores(codes: np.ndarray, bins: int = BINS) -> dict[str, float]:
    """The Gaussian total and Wasserstein correlations of the codes' covariance (constant
    columns left out of the total correlation: their variance is 0), and the MI score."""
    cov = np.cov(codes, rowvar=False)
    varying = np.diag(cov) > 0
    wasserstein = gaussian_wasserstein_correlation(cov)
    return {
        "gaussian_total_correlation": gaussian_total_correlation(cov[np.ix_(varying, varying)]),
        "gaussian_wasserstein_correlation": wasserstein,
        "gaussian_wasserstein_correlation_norm": wasserstein / float(np.trace(cov)),
        "mutual_info_score": mutual_info_score(codes, bins),
    }
