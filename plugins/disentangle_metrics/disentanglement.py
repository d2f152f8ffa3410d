"""Disentanglement scores with disentanglement_lib's definitions and defaults.

Arrays are sample-major: codes [N, d] (the representation), factors [N, K] (discrete indices).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.svm import LinearSVC

from disentangle_metrics.ground_truth import Encoder, GroundTruth
from disentangle_metrics.information import BINS, discretize, entropies, mutual_information
from disentangle_metrics.parallel import fit_all

#: added inside the logs of the DCI entropies
EPS = 1e-11
#: votes (or points) whose observations are rendered and encoded together
VOTE_CHUNK = 64


def sample_codes(
    truth: GroundTruth, encode: Encoder, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`n` sampled factor rows and the representation of their observations: (codes, factors)."""
    factors = truth.sample_factors(n, rng)
    return encode(truth.observations(factors)), factors


def mig(
    codes: np.ndarray,
    factors: np.ndarray,
    bins: int = BINS,
    categorical: list[slice] | tuple[slice, ...] = (),
) -> float:
    """Mutual information gap: per factor, (top MI − second MI) / H(factor); mean over factors.

    Each column is one latent, binned into `bins` equal-width bins, except the column groups in
    `categorical`: each is one categorical latent (its probabilities), read as its most probable
    category. Its k columns taken one by one would each carry the same information about the
    factor, so a perfect categorical code would score a gap of 0.
    """
    mi = mutual_information(readings(codes, bins, categorical), factors)
    top = np.sort(mi, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropies(factors)))


def readings(
    codes: np.ndarray, bins: int, categorical: list[slice] | tuple[slice, ...] = ()
) -> np.ndarray:
    """Discrete latents [N, m]: each categorical group's argmax, every other column binned."""
    grouped = {i for group in categorical for i in range(codes.shape[1])[group]}
    single = [i for i in range(codes.shape[1]) if i not in grouped]
    columns = [np.argmax(codes[:, group], axis=1) for group in categorical]
    if single:
        columns += list(discretize(codes[:, single], bins).T)
    return np.stack(columns, axis=1)


def _normalized_entropy(weights: np.ndarray, base: int) -> np.ndarray:
    """Entropy in base `base` of each column of `weights`, normalised to a distribution."""
    p = (weights + EPS) / (weights + EPS).sum(axis=0)
    return -(p * np.log(p)).sum(axis=0) / np.log(base)


def disentanglement(importance: np.ndarray) -> float:
    """DCI disentanglement of an importance matrix [d codes, K factors]."""
    per_code = 1 - _normalized_entropy(importance.T, base=importance.shape[1])
    if importance.sum() == 0:
        importance = np.ones_like(importance)
    return float(np.sum(per_code * importance.sum(axis=1) / importance.sum()))


def completeness(importance: np.ndarray) -> float:
    """DCI completeness of an importance matrix [d codes, K factors]."""
    per_factor = 1 - _normalized_entropy(importance, base=importance.shape[0])
    if importance.sum() == 0:
        importance = np.ones_like(importance)
    return float(np.sum(per_factor * importance.sum(axis=0) / importance.sum()))


def dci(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, float]:
    """DCI from one gradient-boosted classifier per factor (sklearn defaults), in parallel."""
    return _boosted_dci(
        "dci",
        lambda seed: GradientBoostingClassifier(random_state=seed),
        lambda model: np.abs(model.feature_importances_),
        (train_codes, train_factors, test_codes, test_factors),
        rng,
    )


def dci_hist(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, float]:
    """DCI with LightGBM's histogram gradient boosting in place of sklearn's exact trees.

    The same model as `dci`'s (100 rounds of depth-3 trees, learning rate 0.1, no subsampling,
    leaves down to one sample), but split points are searched over at most 255 histogram bins
    per code, and importances are each code's total split gain, normalised per factor as
    sklearn's are. One thread per model, the factors' models in parallel: the result does not
    depend on the number of cores.
    """
    from lightgbm import LGBMClassifier

    def gains(model: LGBMClassifier) -> np.ndarray:
        gain = np.asarray(model.booster_.feature_importance("gain"), dtype=np.float64)
        return gain / gain.sum() if gain.sum() > 0 else gain

    return _boosted_dci(
        "dci_hist",
        lambda seed: LGBMClassifier(**LIGHTGBM, random_state=seed),
        gains,
        (train_codes, train_factors, test_codes, test_factors),
        rng,
    )


def _boosted_dci(
    prefix: str,
    classifier: Callable[[int], Any],
    importances: Callable[[Any], np.ndarray],
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, float]:
    """DCI's scores (keys `prefix`_…) from one classifier per factor, `classifier(seed)`.

    The seeds are drawn in factor order before any fit starts; the fits run in parallel,
    costliest (most classes) first; `importances(model)` reads a fitted model's per-code
    importances.
    """
    train_codes, train_factors, test_codes, test_factors = data
    seeds = [int(rng.integers(2**31)) for _ in range(train_factors.shape[1])]

    def fit(k: int, seed: int) -> tuple[np.ndarray, float]:
        model = classifier(seed).fit(train_codes, train_factors[:, k])
        accuracy = np.mean(model.predict(test_codes) == test_factors[:, k])
        return importances(model), float(accuracy)

    def classes(k: int, _seed: int) -> int:  # one tree per class per round
        return len(np.unique(train_factors[:, k]))

    fits = fit_all(fit, enumerate(seeds), classes)
    importance = np.stack([importance for importance, _ in fits], axis=1)
    return {
        f"{prefix}_disentanglement": disentanglement(importance),
        f"{prefix}_completeness": completeness(importance),
        f"{prefix}_informativeness": float(np.mean([accuracy for _, accuracy in fits])),
    }


#: LGBMClassifier settings that match GradientBoostingClassifier's defaults where both have them
LIGHTGBM = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_depth": 3,
    "num_leaves": 8,
    "min_child_samples": 1,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 0.0,
    "n_jobs": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


def _top_two_gap(scores: np.ndarray) -> float:
    """Mean over factors (columns) of the best code's score minus the second best's."""
    top = np.sort(scores, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


def sap(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    continuous: bool = False,
) -> float:
    """Separated attribute predictability from a [d, K] matrix of single-code scores."""
    d, k = train_codes.shape[1], train_factors.shape[1]

    def score(i: int, j: int) -> float:
        if continuous:
            cov = np.cov(train_codes[:, i], train_factors[:, j], ddof=1)
            return cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]) if cov[0, 0] > 1e-12 else 0.0
        svm = LinearSVC(C=0.01, class_weight="balanced")
        svm.fit(train_codes[:, i : i + 1], train_factors[:, j])
        return float(np.mean(svm.predict(test_codes[:, i : i + 1]) == test_factors[:, j]))

    pairs = [(i, j) for i in range(d) for j in range(k)]
    return _top_two_gap(np.reshape(fit_all(score, pairs), (d, k)))


def modularity(mi: np.ndarray) -> float:
    """Mean over codes of 1 − (Σ m² − max m²) / (max m² · (K − 1)), 0 for a code with no MI."""
    squared = np.square(mi)
    top = squared.max(axis=1)
    spread = squared.sum(axis=1) - top
    scale = top * (squared.shape[1] - 1)
    per_code = 1 - np.divide(spread, scale, out=np.zeros_like(spread), where=scale > 0)
    return float(np.mean(np.where(top > 0, per_code, 0.0)))


def explicitness(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
) -> float:
    """Mean over factors of the one-vs-rest test ROC-AUC of a logistic regression on the codes."""
    mean, std = train_codes.mean(axis=0), train_codes.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    train, test = (train_codes - mean) / std, (test_codes - mean) / std

    def auc(y_train: np.ndarray, y_test: np.ndarray) -> float:
        model = LogisticRegression().fit(train, y_train)
        onehot = (y_test[:, None] == model.classes_[None, :]).astype(int)
        return float(roc_auc_score(onehot, model.predict_proba(test)))

    return float(np.mean(fit_all(auc, zip(train_factors.T, test_factors.T, strict=True))))


def modularity_explicitness(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    bins: int = BINS,
) -> dict[str, float]:
    """Modularity from the training MI matrix, and explicitness on the test split."""
    mi = mutual_information(discretize(train_codes, bins), train_factors)
    return {
        "modularity": modularity(mi),
        "explicitness": explicitness(train_codes, train_factors, test_codes, test_factors),
    }


def _chunks(total: int) -> Iterator[int]:
    """Sizes of the VOTE_CHUNK-long pieces that add up to `total`."""
    for start in range(0, total, VOTE_CHUNK):
        yield min(VOTE_CHUNK, total - start)


def _groups(
    truth: GroundTruth, rng: np.random.Generator, m: int, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """`m` random factor indices and `m` batches of factor rows, [m], [m, batch, K]."""
    k = len(truth.factor_sizes)
    fixed = rng.integers(k, size=m)
    factors = truth.sample_factors(m * batch, rng).reshape(m, batch, k)
    return fixed, factors


def _encode_groups(truth: GroundTruth, encode: Encoder, factors: np.ndarray) -> np.ndarray:
    """The representation of batches of factor rows [m, batch, K] -> [m, batch, d]."""
    m, batch, k = factors.shape
    return encode(truth.observations(factors.reshape(m * batch, k))).reshape(m, batch, -1)


def _factor_vae_votes(
    truth: GroundTruth,
    encode: Encoder,
    rng: np.random.Generator,
    batch: int,
    votes: int,
    variance: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """Vote counts [K, active dims]: the fixed factor × the dim of least normalised variance."""
    counts = np.zeros((len(truth.factor_sizes), int(active.sum())), dtype=np.int64)
    for m in _chunks(votes):
        fixed, factors = _groups(truth, rng, m, batch)
        rows = np.arange(m)
        factors[rows, :, fixed] = factors[rows, 0, fixed][:, None]
        codes = _encode_groups(truth, encode, factors)[..., active]
        dims = (codes.var(axis=1, ddof=1) / variance[active]).argmin(axis=1)
        np.add.at(counts, (fixed, dims), 1)
    return counts


def factor_vae(
    truth: GroundTruth,
    encode: Encoder,
    rng: np.random.Generator,
    batch: int = 64,
    train: int = 10_000,
    eval: int = 5_000,
    var_points: int = 10_000,
    prune: float = 0.05,
) -> dict[str, float]:
    """FactorVAE score: accuracy of a majority vote from the least-varying dim to the factor."""
    codes, _ = sample_codes(truth, encode, var_points, rng)
    variance = codes.var(axis=0, ddof=1)
    active = np.sqrt(variance) >= prune
    if not active.any():
        return {"factor_vae": 0.0, "factor_vae_train": 0.0, "factor_vae_active_dims": 0.0}
    train_votes = _factor_vae_votes(truth, encode, rng, batch, train, variance, active)
    classifier = train_votes.argmax(axis=0)
    eval_votes = _factor_vae_votes(truth, encode, rng, batch, eval, variance, active)
    dims = np.arange(len(classifier))
    return {
        "factor_vae": float(eval_votes[classifier, dims].sum() / eval_votes.sum()),
        "factor_vae_train": float(train_votes[classifier, dims].sum() / train_votes.sum()),
        "factor_vae_active_dims": float(active.sum()),
    }


def _beta_vae_points(
    truth: GroundTruth, encode: Encoder, rng: np.random.Generator, batch: int, points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Features [points, d] = mean |z1 − z2| over pairs sharing one factor, and that factor."""
    features, labels = [], []
    for m in _chunks(points):
        fixed, first = _groups(truth, rng, m, batch)
        second = truth.sample_factors(m * batch, rng).reshape(first.shape)
        rows = np.arange(m)
        second[rows, :, fixed] = first[rows, :, fixed]
        z1, z2 = (_encode_groups(truth, encode, f) for f in (first, second))
        features.append(np.abs(z1 - z2).mean(axis=1))
        labels.append(fixed)
    return np.concatenate(features), np.concatenate(labels)


def beta_vae(
    truth: GroundTruth,
    encode: Encoder,
    rng: np.random.Generator,
    batch: int = 64,
    train: int = 10_000,
    eval: int = 5_000,
) -> dict[str, float]:
    """BetaVAE score: accuracy of a logistic regression predicting the shared factor."""
    x_train, y_train = _beta_vae_points(truth, encode, rng, batch, train)
    model = LogisticRegression().fit(x_train, y_train)
    x_eval, y_eval = _beta_vae_points(truth, encode, rng, batch, eval)
    return {
        "beta_vae": float(model.score(x_eval, y_eval)),
        "beta_vae_train": float(model.score(x_train, y_train)),
    }
