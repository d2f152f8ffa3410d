"""IRS, the unsupervised scores, downstream task and fairness: hand-computed and closed-form
cases. (They equal disentanglement_lib's own functions on the same arrays: docs/benchmarks.md.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from disentangle_metrics.downstream import (
    Constant,
    downstream,
    fairness,
    fairness_summary,
    fit_predictor,
    inter_group_fairness,
)
from disentangle_metrics.robustness import irs, irs_matrix
from disentangle_metrics.unsupervised import (
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    mutual_info_score,
    unsupervised_scores,
)
from scipy.linalg import sqrtm

#: two binary factors, each combination once
FACTORS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


class Synthetic:
    """Three independent factors of sizes 3, 4, 5 whose observations are the factors."""

    factor_sizes = (3, 4, 5)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(size, size=n) for size in self.factor_sizes], axis=1)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        return factors.astype(np.float64)


# --- IRS ----------------------------------------------------------------------------------------


def test_irs_hand_computed() -> None:
    # z1 = y1: max deviation 1/2; fixing y1 leaves it still (1), fixing y2 leaves it spread
    # 1/2 (0). z2 = y1 + 2 y2 (0, 2, 1, 3): max deviation 3/2; fixing y1 leaves spread 1
    # (1 − 1/1.5 = 1/3), fixing y2 spread 1/2 (1 − 0.5/1.5 = 2/3).
    # IRS = (1/2 · 1 + 3/2 · 2/3) / 2 = 3/4
    codes = np.stack([FACTORS[:, 0], FACTORS[:, 0] + 2 * FACTORS[:, 1]], axis=1).astype(float)
    np.testing.assert_allclose(irs_matrix(codes, FACTORS, 1.0), [[1, 0], [1 / 3, 2 / 3]])
    for quantile in (1.0, 0.99):  # groups of two equal deviations: every quantile is theirs
        assert irs(codes, FACTORS, quantile=quantile) == {"irs": 0.75, "irs_active_dims": 2.0}


def test_irs_leaves_out_constant_codes() -> None:
    codes = np.stack([FACTORS[:, 0], np.full(4, 3.0)], axis=1).astype(float)
    assert irs(codes, FACTORS) == {"irs": 1.0, "irs_active_dims": 1.0}
    assert irs(np.zeros((4, 2)), FACTORS) == {"irs": 0.0, "irs_active_dims": 0.0}


def test_irs_bins_factors_with_many_values() -> None:
    """40 values in 20 equal-width bins: each bin holds two neighbouring values."""
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, 40, 400), rng.integers(0, 3, 400)], axis=1)
    codes = factors + rng.normal(0, 0.3, factors.shape)
    halved = factors // [2, 1]
    assert irs(codes, factors) == pytest.approx(irs(codes, halved))
    assert irs(codes, factors)["irs"] != pytest.approx(irs(codes, factors, bins=40)["irs"])


def test_irs_perfect_beats_noise() -> None:
    rng = np.random.default_rng(0)
    factors = Synthetic().sample_factors(1_000, rng)
    assert irs(factors.astype(float), factors)["irs"] == 1.0
    assert irs(rng.normal(size=(1_000, 3)), factors)["irs"] < 0.3


# --- unsupervised scores ------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.3, -0.8])
def test_gaussian_scores_closed_form(rho: float) -> None:
    cov = np.array([[1.0, rho], [rho, 1.0]])
    # KL(N(0, Σ) ‖ N(0, I)) = −½ log(1 − ρ²); W₂² = 4 − 2 tr √Σ = 4 − 2 (√(1 + ρ) + √(1 − ρ))
    assert gaussian_total_correlation(cov) == pytest.approx(-0.5 * math.log(1 - rho**2))
    expected = 4 - 2 * (math.sqrt(1 + rho) + math.sqrt(1 - rho))
    assert gaussian_wasserstein_correlation(cov) == pytest.approx(expected, abs=1e-12)


def test_gaussian_wasserstein_is_the_matrix_square_root_formula() -> None:
    """2 tr Σ − 2 tr √(D Σ), D = diag Σ: the trace of the square root of a non-symmetric
    product, which the score reads from the eigenvalues of a symmetric one."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + np.diag([0.1, 2.0, 5.0, 0.5])
    root = sqrtm(cov * np.diag(cov)[:, None])
    expected = 2 * np.trace(cov) - 2 * np.real(np.trace(root))
    assert gaussian_wasserstein_correlation(cov) == pytest.approx(expected, rel=1e-9)


def test_gaussian_total_correlation_of_a_singular_covariance_is_infinite() -> None:
    assert gaussian_total_correlation(np.ones((2, 2))) == math.inf


def test_mutual_info_score_hand_computed() -> None:
    # z0 = z1 = y1, z2 = y2: MI(z0, z1) = ln 2 (both orders), the other pairs 0: 2 ln 2 / 6
    codes = np.stack([FACTORS[:, 0], FACTORS[:, 0], FACTORS[:, 1]], axis=1).astype(float)
    assert mutual_info_score(codes) == pytest.approx(math.log(2) / 3)


def test_unsupervised_scores_of_independent_codes_are_zero() -> None:
    codes = np.array([[x, y] for x in (-1.0, 1.0) for y in (-2.0, 0.0, 2.0)])
    scores = unsupervised_scores(codes)
    assert scores["gaussian_total_correlation"] == pytest.approx(0.0, abs=1e-12)
    assert scores["gaussian_wasserstein_correlation"] == pytest.approx(0.0, abs=1e-12)
    assert scores["mutual_info_score"] == pytest.approx(0.0, abs=1e-12)


def test_unsupervised_total_correlation_leaves_out_constant_codes() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 2))
    codes[:, 1] += codes[:, 0]
    constant = np.concatenate([codes, np.full((500, 1), 7.0)], axis=1)
    with_constant, without = unsupervised_scores(constant), unsupervised_scores(codes)
    for key in ("gaussian_total_correlation", "gaussian_wasserstein_correlation"):
        assert with_constant[key] == pytest.approx(without[key])
    assert with_constant["gaussian_total_correlation"] > 0.3


# --- downstream task ----------------------------------------------------------------------------


def test_a_single_class_gives_a_constant_classifier() -> None:
    model = fit_predictor("boosted_trees", np.zeros((3, 2)), np.array([4, 4, 4]), seed=0)
    assert isinstance(model, Constant)
    assert model.predict(np.ones((2, 2))).tolist() == [4, 4]
    with pytest.raises(ValueError, match="unknown predictor 'svm'"):
        fit_predictor("svm", np.zeros((2, 1)), np.array([0, 1]), seed=0)


@pytest.mark.parametrize("predictor", ["logistic_regression", "boosted_trees"])
def test_downstream_perfect_and_noise(predictor: str) -> None:
    rng = np.random.default_rng(0)
    perfect = downstream(Synthetic(), lambda x: x, rng, predictor, (200,), 200)
    # a factor in its own code: trees and (one-hot of the code's levels aside) regressions
    # separate it
    floor = 1.0 if predictor == "boosted_trees" else 0.9
    assert perfect["200_min_test_accuracy"] >= floor
    noise = np.random.default_rng(1)
    scores = downstream(
        Synthetic(), lambda x: noise.normal(size=x.shape), rng, predictor, (200,), 500
    )
    assert scores["200_mean_test_accuracy"] < 0.45  # chance: (1/3 + 1/4 + 1/5) / 3 = 0.26
    assert sorted(scores) == sorted(
        [f"200_{s}_{split}_accuracy" for s in ("mean", "min") for split in ("train", "test")]
        + [f"200_{split}_accuracy_factor_{k}" for split in ("train", "test") for k in range(3)]
    )


def test_downstream_one_point_predicts_its_factors() -> None:
    rng = np.random.default_rng(0)
    scores = downstream(Synthetic(), lambda x: x, rng, "logistic_regression", (1,), 300)
    assert scores["1_mean_train_accuracy"] == 1.0
    assert scores["1_mean_test_accuracy"] < 0.6


# --- fairness -----------------------------------------------------------------------------------


def test_inter_group_fairness_hand_computed() -> None:
    # predictions [class, sensitive value]: overall (1/2, 1/2); value 0 (3/4, 1/4): TV 1/4,
    # value 1 (0, 1): TV 1/2; weighted by 4 and 2 points: (1/4 · 4 + 1/2 · 2) / 6 = 1/3
    mean, most = inter_group_fairness(np.array([[3, 0], [1, 2]]))
    assert mean == pytest.approx(1 / 3)
    assert most == pytest.approx(0.5)
    assert inter_group_fairness(np.array([[2, 4], [1, 2]])) == (0.0, 0.0)


def test_fairness_summary_hand_computed() -> None:
    # targets (rows) over sensitive factors: (1, 2), (3, 4), (5, 6); sensitive factors
    # (columns) over targets: (3, 5), (1, 6), (2, 4)
    matrix = np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]], dtype=float)
    summary = fairness_summary(matrix, "mean_fairness")
    assert len(summary) == 8
    assert summary["mean_fairness_mean_sens_max_pred"] == 5.0  # mean(5, 6, 4)
    assert summary["mean_fairness_max_sens_mean_pred"] == 4.0  # max(4, 3.5, 3)
    assert summary["mean_fairness_max_pred_mean_sens"] == 5.5  # max(1.5, 3.5, 5.5)
    assert summary["mean_fairness_mean_pred_max_sens"] == 4.0  # mean(2, 4, 6)
    assert summary["mean_fairness_mean_pred_mean_sens"] == 3.5
    assert summary["mean_fairness_mean_sens_mean_pred"] == 3.5
    assert summary["mean_fairness_max_sens_max_pred"] == 6.0
    assert summary["mean_fairness_max_pred_max_sens"] == 6.0


def test_fairness_exact_codes_are_fair_entangled_ones_are_not() -> None:
    rng = np.random.default_rng(0)
    fair = fairness(Synthetic(), lambda x: x, rng, "boosted_trees", 500, 30)
    assert set(fair.values()) == {0.0}

    def entangled(x: np.ndarray) -> np.ndarray:
        """Factor 0 is read off a code that factor 1 moves too."""
        return np.stack([x[:, 0] + x[:, 1], x[:, 2]], axis=1)

    unfair = fairness(Synthetic(), entangled, rng, "boosted_trees", 500, 30)
    assert unfair["mean_fairness_max_pred_max_sens"] > 0.2
    assert unfair["max_fairness_max_pred_max_sens"] >= unfair["mean_fairness_max_pred_max_sens"]
