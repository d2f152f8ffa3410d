"""UDR: the relative strength, the similarity matrices, the scores of runs whose latents are
known, tiny trained VAE runs, and `select --by udr`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from support.cli import assert_clean_failure, invoke
from support.tiny import TINY_RECIPE

from disentangle.analysis.udr import (
    lasso_similarity,
    relative_strength,
    spearman_similarity,
    udr,
    udr_matrix,
    udr_scores,
)
from disentangle.errors import DisentangleError
from disentangle.recipe import validate_recipe
from disentangle.run import Run
from disentangle.training.loop import train


def test_relative_strength_hand_computed() -> None:
    # columns: (1, 0) -> 1² / 1 = 1, (1, 1) -> 1 / 2; rows: (1, 1) -> 1 / 2, (0, 1) -> 1
    # (0.75 + 0.75) / 2 = 0.75
    assert relative_strength(np.array([[1.0, 1.0], [0.0, 1.0]])) == 0.75
    assert relative_strength(np.eye(3)) == 1.0  # a permutation: one to one
    # all zero: every ratio counts 0; no active latent at all: 0
    assert relative_strength(np.zeros((2, 2))) == 0.0
    assert relative_strength(np.zeros((0, 3))) == 0.0


def test_similarities_of_a_permuted_copy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3))
    b = a[:, [2, 0, 1]] * [2.0, -1.0, 0.5]
    lasso = lasso_similarity(a, b)
    assert lasso.shape == (3, 3)
    assert lasso.argmax(axis=1).tolist() == [1, 2, 0]  # a's latent i became b's column
    spearman = spearman_similarity(a, b)
    np.testing.assert_allclose(spearman[[0, 1, 2], [1, 2, 0]], 1.0)
    assert spearman[0, 0] < 0.2


def test_udr_of_runs_whose_latents_are_known() -> None:
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(400, 3))
    same = [factors, factors[:, [1, 2, 0]], -factors]
    kl = [np.ones(3)] * 3
    pairs = udr_matrix(same, kl)
    assert np.diag(pairs).tolist() == [0, 0, 0]
    # standardised latents, one to one: Lasso shrinks each weight 1 by α = 0.1, and
    # max² / sum = 0.9² / 0.9 per row and column
    assert pairs[~np.eye(3, dtype=bool)] == pytest.approx(0.9, abs=1e-3)
    # Spearman: 1 on the matched pairs, the sample's small correlations elsewhere
    spearman = udr_matrix(same, kl, "spearman")[~np.eye(3, dtype=bool)]
    assert ((spearman > 0.9) & (spearman < 1)).all()
    mixed = factors @ np.full((3, 3), 1 / math.sqrt(3))  # every latent mixes every factor
    pairs = udr_matrix([*same[:2], mixed], kl)
    scores = udr_scores(pairs)
    assert scores[0] == pytest.approx(np.median([pairs[1, 0], pairs[2, 0]]))
    assert scores[2] < scores[0] - 0.3  # the entangled run is the least alike


def test_inactive_latents_are_zeroed_and_left_out() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 3))
    noisy = np.concatenate([a[:, :2], rng.normal(size=(300, 1))], axis=1)
    active, inactive = np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 0.01])
    assert udr_matrix([a, noisy], [active, active])[0, 1] < 0.85  # the noise latent counts
    assert udr_matrix([a, noisy], [inactive, inactive])[0, 1] == pytest.approx(0.9, abs=1e-3)


VAE_RECIPE = {
    **TINY_RECIPE,
    "method": {"type": "beta_vae"},
    "noise": {"type": "gaussian", "dim": 0},
    "codes": [{"type": "gaussian", "name": "z", "dim": 3}],
    "backbone": {"type": "dlib_conv", "resolution": 28},
}


@pytest.fixture(scope="module")
def vae_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    root = tmp_path_factory.mktemp("udr")
    runs = []
    for seed in (1, 2, 3):
        data = {**VAE_RECIPE, "train": {**VAE_RECIPE["train"], "seed": seed}}
        runs.append(train(validate_recipe(data), root / f"seed{seed}"))
    return runs


def test_udr_of_trained_vaes_is_seeded_and_median_of_pairs(vae_runs: list[Run]) -> None:
    result = udr(vae_runs, points=64)
    assert result.points == 64 and len(result.scores) == 3
    for j in range(3):
        others = [result.pairs[i][j] for i in range(3) if i != j]
        assert result.pairs[j][j] is None
        assert result.scores[j] == pytest.approx(float(np.median(others)))
    assert all(0 <= s <= 1 for s in result.scores)
    assert result.chosen == result.runs[int(np.argmax(result.scores))]
    assert udr(vae_runs, points=64).scores == result.scores
    spearman = udr(vae_runs, points=64, correlation="spearman")
    assert all(0 <= s <= 1 for s in spearman.scores)


def test_udr_needs_two_vae_runs(vae_runs: list[Run], tmp_path: Path) -> None:
    with pytest.raises(DisentangleError, match="at least two runs"):
        udr(vae_runs[:1])
    gan = train(validate_recipe(TINY_RECIPE), tmp_path / "gan")
    with pytest.raises(DisentangleError, match="its method 'infogan' has none"):
        udr([gan, gan])
    with pytest.raises(DisentangleError, match="its method 'infogan' has none"):
        udr([vae_runs[0], gan])  # methods may differ; each needs a Gaussian posterior


def test_select_by_udr_prints_the_table_and_refuses_other_options(vae_runs: list[Run]) -> None:
    paths = [str(r.path) for r in vae_runs]
    code, output = invoke("select", *paths, "--by", "udr", "--points", "64")
    assert code == 0, output
    assert "UDR on 64 images" in output and "highest UDR:" in output
    failure = invoke("select", *paths, "--by", "udr", "--groups", "3")
    assert_clean_failure(*failure, "--groups: not an option of --by udr")
    failure = invoke("select", *paths, "--points", "64")  # centrality, the default
    assert_clean_failure(*failure, "--points: not an option of --by centrality")
