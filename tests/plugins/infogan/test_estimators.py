"""The MI estimators on correlated Gaussians, where I(c; x) = −½ log(1 − ρ²) in closed form: each
bound stays below the true MI and, with the true posterior as Q, within a stated distance of it;
a worse Q lowers every bound. Then each estimator trains through a recipe."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from disentangle_codes.codes import Gaussian, GaussianParams, Uniform, UniformParams

from disentangle import LatentCode, MIEstimator
from disentangle.errors import DisentangleError
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

BATCH, BATCHES = 256, 40
#: how far below the true MI each bound may sit with the true posterior as Q, at BATCH
DISTANCE = {"variational": 0.02, "infonce": 0.05, "nwj": 0.05}


def gaussian_code() -> Gaussian:
    return Gaussian(GaussianParams(dim=1, posterior_std="learned"))


def estimator(name: str, codes: list[LatentCode]) -> MIEstimator:
    return host.estimators.build(host.estimators.get(name).spec_model()(type=name), codes)


def mean_bound(name: str, rho: float, shrink: float = 1.0) -> tuple[float, float]:
    """The bound's mean over BATCHES batches of (x, c), c ~ N(0, 1), x = ρc + √(1 − ρ²) ε,
    with Q(c | x) = N(shrink · ρx, 1 − ρ²) (shrink = 1: the true posterior); and its standard
    error."""
    g = torch.Generator().manual_seed(0)
    est = estimator(name, [gaussian_code()])
    log_std = torch.tensor(0.5 * math.log(1 - rho**2))
    values = []
    for _ in range(BATCHES):
        c = torch.randn(BATCH, 1, generator=g)
        x = rho * c + math.sqrt(1 - rho**2) * torch.randn(BATCH, 1, generator=g)
        q_out = torch.cat([shrink * rho * x, log_std.expand(BATCH, 1)], dim=1)
        values.append(float(est(q_out, [c])[0]))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std() / math.sqrt(BATCHES))


@pytest.mark.parametrize("name", sorted(DISTANCE))
@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
def test_each_bound_is_below_the_true_mi_and_close_to_it(name: str, rho: float) -> None:
    true_mi = -0.5 * math.log(1 - rho**2)
    value, error = mean_bound(name, rho)
    assert value <= true_mi + 3 * error  # a lower bound, up to the sampling error
    assert value >= true_mi - DISTANCE[name] - 3 * error


@pytest.mark.parametrize("name", sorted(DISTANCE))
def test_a_worse_posterior_lowers_the_bound(name: str) -> None:
    true_mi = -0.5 * math.log(1 - 0.8**2)
    value, error = mean_bound(name, 0.8, shrink=0.5)
    assert value < true_mi - 0.1 - 3 * error


def test_infonce_never_exceeds_the_log_of_the_batch() -> None:
    """A perfectly informative code: InfoNCE saturates at log n, the variational bound does not."""
    c = torch.linspace(-3, 3, 64).unsqueeze(1)
    q_out = torch.cat([c, torch.full_like(c, -5.0)], dim=1)  # Q: the exact value, std e⁻⁵
    infonce = estimator("infonce", [gaussian_code()])
    value = float(infonce(q_out, [c])[0])
    assert value <= math.log(64) + 1e-5 and value > math.log(64) - 0.01
    assert infonce.ceilings() == [pytest.approx(math.log(64))]
    assert float(estimator("variational", [gaussian_code()])(q_out, [c])[0]) > math.log(64)


def test_nwj_needs_the_prior_density_of_each_code() -> None:
    class NoPrior(Uniform):
        log_prior = LatentCode.log_prior

    with pytest.raises(DisentangleError, match="NoPrior code does not give one"):
        estimator("nwj", [NoPrior(UniformParams())])


@pytest.mark.parametrize("name", ["infonce", "nwj"])
def test_each_estimator_trains_infogan(
    name: str, tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    tiny_recipe["method"] = {"type": "infogan", "estimator": {"type": name}}
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    last = run.metrics()[-1]
    assert all(map(math.isfinite, [last["loss_d"], last["loss_g"], *last["mi"].values()]))
    assert all(map(math.isfinite, last["ceiling"].values()))
