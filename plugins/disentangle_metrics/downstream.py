"""disentanglement_lib's downstream-task and fairness scores: one classifier per factor.

The classifiers are disentanglement_lib's: a logistic regression with its inverse regularisation
chosen among 10 values by 5-fold cross-validation, or scikit-learn's gradient-boosted trees with
their defaults. Codes are sample-major [N, d], factors [N, K] (discrete indices).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold

from disentangle_metrics.disentanglement import sample_codes
from disentangle_metrics.ground_truth import Encoder, GroundTruth
from disentangle_metrics.parallel import fit_all

#: the classifiers by name
PREDICTORS = ("logistic_regression", "boosted_trees")
#: disentanglement_lib's training sizes of the downstream task
TRAIN_SIZES = (10, 100, 1_000, 10_000)


class Constant:
    """A classifier for a training set with a single class: it predicts that class."""

    def __init__(self, label: Any) -> None:
        self.label = label

    def predict(self, codes: np.ndarray) -> np.ndarray:
        return np.full(len(codes), self.label)


def logistic_regression_cv() -> LogisticRegressionCV:
    """disentanglement_lib's: 10 inverse regularisations, 5 folds in order, test accuracy.

    scikit-learn 1.9 warns of three coming changes of its defaults: `scoring` (which would
    change the choice: set to accuracy, as before), `l1_ratios` (None to (0,), the same L2
    penalty) and the fitted attributes' layout; the last two are taken now where it has them.
    """
    model = LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), scoring="accuracy")
    announced = {"l1_ratios": (0.0,), "use_legacy_attributes": False}
    defaults = model.get_params()
    return model.set_params(**{k: v for k, v in announced.items() if defaults.get(k) == "warn"})


def fit_predictor(predictor: str, codes: np.ndarray, labels: np.ndarray, seed: int) -> Any:
    """`predictor` (one of PREDICTORS) fitted on (codes, labels); a Constant where the labels
    take one value."""
    classes = np.unique(labels)
    if len(classes) == 1:
        return Constant(classes[0])
    if predictor == "logistic_regression":
        model = logistic_regression_cv()
    elif predictor == "boosted_trees":
        model = GradientBoostingClassifier(random_state=seed)
    else:
        raise ValueError(f"unknown predictor {predictor!r}; one of {PREDICTORS}")
    return model.fit(codes, labels)


def _seeds(rng: np.random.Generator, k: int) -> list[int]:
    return [int(rng.integers(2**31)) for _ in range(k)]


def factor_accuracies(
    predictor: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Per factor, the train and test accuracy of `predictor` fitted on the training codes."""
    (train_codes, train_factors), (test_codes, test_factors) = train, test

    def fit(k: int, seed: int) -> tuple[float, float]:
        model = fit_predictor(predictor, train_codes, train_factors[:, k], seed)
        return (
            float(np.mean(model.predict(train_codes) == train_factors[:, k])),
            float(np.mean(model.predict(test_codes) == test_factors[:, k])),
        )

    fits = fit_all(fit, enumerate(_seeds(rng, train_factors.shape[1])))
    return np.array([a for a, _ in fits]), np.array([b for _, b in fits])


def downstream(
    truth: GroundTruth,
    encode: Encoder,
    rng: np.random.Generator,
    predictor: str,
    sizes: tuple[int, ...] = TRAIN_SIZES,
    test: int = 5_000,
) -> dict[str, float]:
    """For each training size n (a fresh sample, then `test` fresh points): the mean and least
    train and test accuracy over factors, and each factor's (keys `n`_…)."""
    scores: dict[str, float] = {}
    for n in sizes:
        train_split = sample_codes(truth, encode, n, rng)
        test_split = sample_codes(truth, encode, test, rng)
        train_acc, test_acc = factor_accuracies(predictor, train_split, test_split, rng)
        scores |= {
            f"{n}_mean_train_accuracy": float(train_acc.mean()),
            f"{n}_mean_test_accuracy": float(test_acc.mean()),
            f"{n}_min_train_accuracy": float(train_acc.min()),
            f"{n}_min_test_accuracy": float(test_acc.min()),
        }
        for k, (a, b) in enumerate(zip(train_acc, test_acc, strict=True)):
            scores[f"{n}_train_accuracy_factor_{k}"] = float(a)
            scores[f"{n}_test_accuracy_factor_{k}"] = float(b)
    return scores


def inter_group_fairness(counts: np.ndarray) -> tuple[float, float]:
    """From prediction counts [predicted class, sensitive value]: the total variation distance
    of each sensitive value's prediction distribution to the overall one, averaged weighted by
    the value's count, and its largest."""
    overall = counts.sum(axis=1) / counts.sum()
    per_value = counts.sum(axis=0)
    distances = np.abs(counts / per_value - overall[:, None]).sum(axis=0) / 2
    return float(np.sum(distances * per_value) / per_value.sum()), float(distances.max())


def fairness_matrices(
    truth: GroundTruth,
    encode: Encoder,
    rng: np.random.Generator,
    predictor: str,
    train: int = 10_000,
    per_value: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and max unfairness [target factor i, sensitive factor j] (0 on the diagonal).

    One classifier per target factor i, fitted on `train` sampled points. For each sensitive
    factor j ≠ i, `per_value` factor rows are sampled once, and factor j is set to each of its
    values in turn (an intervention); the classifier's predictions of i give counts [values
    of i, values of j], read by `inter_group_fairness`.
    """
    codes, factors = sample_codes(truth, encode, train, rng)
    sizes = truth.factor_sizes
    k = len(sizes)

    def fit(i: int, seed: int) -> Any:
        return fit_predictor(predictor, codes, factors[:, i], seed)

    models = fit_all(fit, enumerate(_seeds(rng, k)))
    mean, most = np.zeros((k, k)), np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            rows = np.tile(truth.sample_factors(per_value, rng), (sizes[j], 1))
            rows[:, j] = np.repeat(np.arange(sizes[j]), per_value)
            predictions = models[i].predict(encode(truth.observations(rows)))
            counts = np.stack(
                [np.bincount(p, minlength=sizes[i]) for p in predictions.reshape(sizes[j], -1)],
                axis=1,
            )
            mean[i, j], most[i, j] = inter_group_fairness(counts)
    return mean, most


def fairness_summary(matrix: np.ndarray, prefix: str) -> dict[str, float]:
    """disentanglement_lib's 8 summaries of an off-diagonal matrix [target, sensitive]: e.g.
    `prefix`_mean_sens_max_pred = the mean over sensitive factors of the max over targets."""
    off = ~np.eye(len(matrix), dtype=bool)
    rows = [matrix[i, off[i]] for i in range(len(matrix))]  # per target, over sensitive
    columns = [matrix[off[:, j], j] for j in range(len(matrix))]  # per sensitive, over target
    outer = {"mean": np.mean, "max": np.max}
    scores: dict[str, float] = {}
    for axis, inner_axis, groups in (("sens", "pred", columns), ("pred", "sens", rows)):
        for outer_name, outer_fn in outer.items():
            for inner_name, inner_fn in outer.items():
                value = outer_fn([inner_fn(g) for g in groups])
                scores[f"{prefix}_{outer_name}_{axis}_{inner_name}_{inner_axis}"] = float(value)
    return scores


def fairness(
    truth: GroundTruth,
    encode: Encoder,
    rng: np.random.Generator,
    predictor: str = "boosted_trees",
    train: int = 10_000,
    per_value: int = 100,
) -> dict[str, float]:
    """Unfairness (Locatello et al. 2019): the summaries of the mean and max matrices."""
    mean, most = fairness_matrices(truth, encode, rng, predictor, train, per_value)
    return fairness_summary(mean, "mean_fairness") | fairness_summary(most, "max_fairness")
