"""UDR (Duan et al., ICLR 2020): choose among VAE runs without labels, as disentanglement_lib's
`evaluation/udr/metrics/udr.py` computes it.

Every run encodes the same sampled images: its posterior's means, standardised per latent, and
each latent's KL to the prior averaged over the images. A latent whose KL is at most 0.01 is
inactive: zeroed, and left out of the scores. For each ordered pair of runs (i, j), a Lasso
regression (α 0.1) from run i's latents to run j's gives |coefficients| as a similarity
matrix R [latents of i, latents of j] (or |Spearman correlation| of each pair of latents); its
score is the relative strength: the mean over columns of max² / sum and over rows likewise,
averaged. A run's UDR is the median of the scores of the pairs in which it is the second run.
The run with the highest UDR is chosen.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from disentangle.analysis.evaluate import eval_dataset, network_input
from disentangle.analysis.table import refuse_mixed
from disentangle.device import resolve_device
from disentangle.errors import DisentangleError
from disentangle.method import GaussianPosterior
from disentangle.run import Run, Trained

Correlation = Literal["lasso", "spearman"]
#: disentanglement_lib's: images encoded, the KL below which a latent is inactive, Lasso's α
POINTS, KL_THRESHOLD, ALPHA = 1_000, 0.01, 0.1


def relative_strength(similarity: np.ndarray) -> float:
    """(mean over columns of max² / sum + the same over rows) / 2; a column or row that sums
    to 0 counts 0, as theirs, and so does a run without an active latent (theirs raises)."""
    if similarity.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = np.nan_to_num(similarity.max(axis=0) ** 2 / similarity.sum(axis=0))
        rows = np.nan_to_num(similarity.max(axis=1) ** 2 / similarity.sum(axis=1))
    return float((np.nanmean(columns) + np.nanmean(rows)) / 2)


def lasso_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|coefficients| [a's latents, b's] of a Lasso regression (α 0.1) of b on a."""
    from sklearn.linear_model import Lasso

    return np.abs(Lasso(alpha=ALPHA).fit(a, b).coef_).T


def spearman_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|Spearman correlation| [a's latents, b's] of each pair of latents (NaN for a constant:
    an inactive latent, zeroed, and left out afterwards)."""
    from scipy.stats import ConstantInputWarning, spearmanr

    out = np.empty((a.shape[1], b.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        for i, column in enumerate(a.T):
            for j, other in enumerate(b.T):
                out[i, j] = abs(spearmanr(column, other).statistic)
    return out


def udr_matrix(
    means: list[np.ndarray], kls: list[np.ndarray], correlation: Correlation = "lasso"
) -> np.ndarray:
    """[runs, runs]: the score of each ordered pair (i, j), i ≠ j (0 on the diagonal), from
    each run's means [n, d] and per-latent KL [d]."""
    active = [kl > KL_THRESHOLD for kl in kls]
    standard = []
    for mean, mask in zip(means, active, strict=True):
        std = mean.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        standard.append((mean - mean.mean(axis=0)) / std * mask)
    similarity = lasso_similarity if correlation == "lasso" else spearman_similarity
    n = len(means)
    scores = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                matrix = similarity(standard[i], standard[j])[active[i]][:, active[j]]
                scores[i, j] = relative_strength(matrix)
    return scores


def udr_scores(pairs: np.ndarray) -> np.ndarray:
    """Each run's UDR: the median of the scores of the pairs it is the second run of."""
    n = len(pairs)
    return np.array([np.median(np.delete(pairs[:, j], j)) for j in range(n)])


@dataclass
class Udr:
    """Runs in the order given; pairs[i][j]: the score of run i's latents against run j's."""

    runs: list[str]
    points: int
    pairs: list[list[float | None]]
    scores: list[float]

    @property
    def chosen(self) -> str:
        return self.runs[max(range(len(self.runs)), key=self.scores.__getitem__)]


def posterior(
    trained: Trained, images: torch.Tensor, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """A run's means [n, d] and per-latent KL to N(0, 1) averaged over the images [d]."""
    prepare = network_input(trained, device)
    means, log_vars = [], []
    with torch.no_grad():
        for chunk in images.split(512):
            mean, log_var = trained.method.posterior(prepare(chunk))
            means.append(mean.double().cpu())
            log_vars.append(log_var.double().cpu())
    mean, log_var = torch.cat(means).numpy(), torch.cat(log_vars).numpy()
    return mean, (0.5 * (mean**2 + np.exp(log_var) - log_var - 1)).mean(axis=0)


def udr(
    runs: list[Run],
    *,
    points: int = POINTS,
    correlation: Correlation = "lasso",
    seed: int = 0,
    device: str = "cpu",
) -> Udr:
    """UDR over `runs` (two or more, of a method with a Gaussian posterior), on `points`
    images drawn with replacement (seeded) from the first run's dataset."""
    if len(runs) < 2:
        raise DisentangleError("UDR compares runs with each other: it needs at least two runs")
    refuse_mixed(runs, ("dataset",), "model selection")
    dev = resolve_device(device, where="--device")
    trained = [r.load(device=str(dev)) for r in runs]
    for run, t in zip(runs, trained, strict=True):
        if not isinstance(t.method, GaussianPosterior):
            raise DisentangleError(
                f"{run.path}: UDR reads a Gaussian posterior's means and variances (a VAE's); "
                f"its method {t.recipe.method.type!r} has none"
            )
    shapes = {tuple(t.components.backbone.image_shape) for t in trained}
    if len(shapes) > 1:
        raise DisentangleError(
            f"the runs make images of different shapes ({sorted(shapes)}): they cannot be compared"
        )
    data = eval_dataset(trained[0].recipe, None).load().images
    generator = torch.Generator().manual_seed(seed)
    images = data[torch.randint(len(data), (points,), generator=generator)]
    encoded = [posterior(t, images, dev) for t in trained]
    pairs = udr_matrix([m for m, _ in encoded], [k for _, k in encoded], correlation)
    n = len(runs)
    table = [[None if i == j else float(pairs[i, j]) for j in range(n)] for i in range(n)]
    return Udr([str(r.path) for r in runs], points, table, udr_scores(pairs).tolist())
