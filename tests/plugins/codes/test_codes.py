"""InfoGAN's latent codes and the variational MI estimator, built through the registries."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

from disentangle import LatentCode, MIEstimator
from disentangle.plugins import host

CPU = torch.device("cpu")


def code(type_: str, **params: Any) -> LatentCode:
    spec = host.codes.get(type_).spec_model()(type=type_, **params)
    return host.codes.build(spec)


def estimator(codes: list[LatentCode]) -> MIEstimator:
    spec = host.estimators.get("variational").spec_model()(type="variational")
    return host.estimators.build(spec, codes)


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- categorical -------------------------------------------------------------------------------


def test_categorical_samples_are_one_hot_and_uniform() -> None:
    k, n = 4, 40_000
    c = code("categorical", k=k)
    assert (c.dim, c.q_dim) == (k, k)
    sample = c.sample(n, rng(), CPU)
    assert sample.shape == (n, k)
    assert sample.dtype == torch.float32
    assert set(sample.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(sample.sum(dim=1), torch.ones(n))
    freq = sample.mean(dim=0)
    # binomial standard error of a frequency 1/k; 5 of them
    tol = 5 * math.sqrt((1 / k) * (1 - 1 / k) / n)
    assert torch.allclose(freq, torch.full((k,), 1 / k), atol=tol)


def test_categorical_sampling_is_seeded() -> None:
    c = code("categorical", k=5)
    assert torch.equal(c.sample(64, rng(3), CPU), c.sample(64, rng(3), CPU))
    assert not torch.equal(c.sample(64, rng(3), CPU), c.sample(64, rng(4), CPU))


def test_categorical_log_likelihood_is_minus_cross_entropy_on_logits() -> None:
    k, n = 4, 32
    c = code("categorical", k=k)
    logits = 3 * torch.randn(n, k, generator=rng(1))
    target = torch.randint(k, (n,), generator=rng(2))
    got = c.log_likelihood(logits, F.one_hot(target, k).float())
    assert got.shape == (n,)
    expected = -F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(got, expected)
    # the classic mistake: softmax first, then a cross-entropy that log-softmaxes again
    wrong = -F.cross_entropy(F.softmax(logits, dim=1), target, reduction="none")
    assert not torch.allclose(got, wrong, atol=1e-2)
    assert (got <= 0).all()


def test_categorical_entropy_traversal_representation() -> None:
    k = 7
    c = code("categorical", k=k)
    assert c.entropy() == pytest.approx(math.log(k))
    assert torch.equal(c.traversal(3, (-1.0, 1.0)), torch.eye(k))
    logits = torch.randn(5, k, generator=rng())
    torch.testing.assert_close(c.representation(logits), F.softmax(logits, dim=1))


@pytest.mark.parametrize("k", [1, 0, -3])
def test_categorical_needs_two_categories(k: int) -> None:
    with pytest.raises(ValidationError, match="k"):
        host.codes.get("categorical").spec_model()(type="categorical", k=k)


# --- uniform -----------------------------------------------------------------------------------


def test_uniform_samples_lie_in_bounds_with_uniform_moments() -> None:
    low, high, dim, n = -0.5, 2.5, 3, 40_000
    c = code("uniform", dim=dim, low=low, high=high)
    sample = c.sample(n, rng(), CPU)
    assert sample.shape == (n, dim)
    assert (sample >= low).all() and (sample < high).all()
    width = high - low
    std = width / math.sqrt(12)
    mean_tol = 5 * std / math.sqrt(n)
    assert torch.allclose(sample.mean(dim=0), torch.full((dim,), (low + high) / 2), atol=mean_tol)
    assert torch.allclose(sample.std(dim=0), torch.full((dim,), std), rtol=0.02)
    # uniform, not normal: each tenth of the interval holds a tenth of the samples
    counts = torch.histc(sample, bins=10, min=low, max=high) / sample.numel()
    assert torch.allclose(counts, torch.full((10,), 0.1), atol=0.01)


def test_uniform_default_is_minus_one_to_one() -> None:
    c = code("uniform")
    assert (c.dim, c.q_dim) == (1, 1)
    sample = c.sample(10_000, rng(5), CPU)
    assert sample.min() >= -1 and sample.max() < 1
    # a normal draw of this size would exceed the bounds many times
    assert sample.abs().max() > 0.99


@pytest.mark.parametrize(("dim", "low", "high"), [(1, -1.0, 1.0), (2, 0.0, 1.0), (3, -2.0, 3.0)])
def test_uniform_entropy(dim: int, low: float, high: float) -> None:
    c = code("uniform", dim=dim, low=low, high=high)
    expected = dim * torch.distributions.Uniform(low, high).entropy().item()
    assert c.entropy() == pytest.approx(expected)
    assert c.entropy() == pytest.approx(dim * math.log(high - low))


@pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (1.0, -1.0)])
def test_uniform_needs_low_below_high(low: float, high: float) -> None:
    with pytest.raises(ValidationError, match="low"):
        host.codes.get("uniform").spec_model()(type="uniform", low=low, high=high)


@pytest.mark.parametrize("type_", ["uniform", "gaussian"])
def test_log_std_bounds_must_be_ordered(type_: str) -> None:
    model = host.codes.get(type_).spec_model()
    with pytest.raises(ValidationError, match="log_std_min"):
        model(type=type_, posterior_std="learned", log_std_min=1.0, log_std_max=1.0)
    with pytest.raises(ValidationError, match="log_std_min"):
        model(type=type_, log_std_min=2.0, log_std_max=-2.0)


@pytest.mark.parametrize("type_", ["uniform", "gaussian"])
def test_unknown_posterior_and_extra_keys_rejected(type_: str) -> None:
    model = host.codes.get(type_).spec_model()
    with pytest.raises(ValidationError, match="posterior_std"):
        model(type=type_, posterior_std="sampled")
    with pytest.raises(ValidationError, match="extra"):
        model(type=type_, dims=2)


# --- Gaussian posterior ------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["uniform", "gaussian"])
def test_fixed_std_posterior_is_unit_normal(type_: str) -> None:
    dim, n = 3, 16
    c = code(type_, dim=dim)
    assert c.q_dim == dim
    mean = torch.randn(n, dim, generator=rng(1))
    value = torch.randn(n, dim, generator=rng(2))
    expected = torch.distributions.Normal(mean, 1.0).log_prob(value).sum(dim=1)
    torch.testing.assert_close(c.log_likelihood(mean, value), expected)
    torch.testing.assert_close(c.representation(mean), mean)


@pytest.mark.parametrize("type_", ["uniform", "gaussian"])
def test_learned_std_posterior_uses_exp_of_output(type_: str) -> None:
    dim, n = 2, 16
    c = code(type_, dim=dim, posterior_std="learned", log_std_min=-3.0, log_std_max=1.0)
    assert c.q_dim == 2 * dim
    mean = torch.randn(n, dim, generator=rng(1))
    log_std = torch.empty(n, dim).uniform_(-2.9, 0.9, generator=rng(2))
    value = torch.randn(n, dim, generator=rng(3))
    q_out = torch.cat([mean, log_std], dim=1)
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(value).sum(dim=1)
    torch.testing.assert_close(c.log_likelihood(q_out, value), expected)
    torch.testing.assert_close(c.representation(q_out), mean)


def test_learned_log_std_is_clamped() -> None:
    lo, hi = -2.0, 0.5
    c = code("uniform", dim=1, posterior_std="learned", log_std_min=lo, log_std_max=hi)
    mean = torch.zeros(4, 1)
    value = torch.full((4, 1), 0.3)
    raw_log_std = torch.tensor([[-50.0], [lo - 0.1], [hi + 0.1], [40.0]])
    clamped = torch.tensor([[lo], [lo], [hi], [hi]])
    expected = torch.distributions.Normal(mean, clamped.exp()).log_prob(value).sum(dim=1)
    got = c.log_likelihood(torch.cat([mean, raw_log_std], dim=1), value)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected)


def test_gaussian_prior_sampling_and_entropy() -> None:
    dim, mean, std, n = 2, 0.5, 2.0, 40_000
    c = code("gaussian", dim=dim, mean=mean, std=std)
    sample = c.sample(n, rng(), CPU)
    assert sample.shape == (n, dim)
    assert torch.allclose(sample.mean(dim=0), torch.full((dim,), mean), atol=5 * std / n**0.5)
    assert torch.allclose(sample.std(dim=0), torch.full((dim,), std), rtol=0.02)
    expected = dim * (0.5 * math.log(2 * math.pi * math.e) + math.log(std))
    assert c.entropy() == pytest.approx(expected)
    normal = torch.distributions.Normal(mean, std).entropy().item()
    assert c.entropy() == pytest.approx(dim * normal)


def test_gaussian_prior_std_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="std"):
        host.codes.get("gaussian").spec_model()(type="gaussian", std=0.0)


@pytest.mark.parametrize("type_", ["uniform", "gaussian"])
def test_continuous_traversal(type_: str) -> None:
    dim, steps, span = 3, 5, (-2.0, 2.0)
    c = code(type_, dim=dim)
    values = c.traversal(steps, span)
    assert values.shape == (steps, dim)
    expected = torch.tensor([span[0] + (span[1] - span[0]) * i / (steps - 1) for i in range(steps)])
    for column in values.unbind(dim=1):
        torch.testing.assert_close(column, expected)


# --- variational estimator ---------------------------------------------------------------------


def test_estimator_returns_mean_log_q_plus_entropy_per_code() -> None:
    codes = [code("categorical", k=3), code("uniform", dim=2, posterior_std="learned")]
    est = estimator(codes)
    assert est.entropies() == pytest.approx([c.entropy() for c in codes])
    n = 10
    values = [c.sample(n, rng(i), CPU) for i, c in enumerate(codes)]
    q_out = torch.randn(n, sum(c.q_dim for c in codes), generator=rng(9))
    bounds = est(q_out, values)
    assert bounds.shape == (len(codes),)
    parts = q_out.split([c.q_dim for c in codes], dim=1)
    expected = torch.stack(
        [
            c.log_likelihood(p, v).mean() + c.entropy()
            for c, p, v in zip(codes, parts, values, strict=True)
        ]
    )
    torch.testing.assert_close(bounds, expected)


def test_perfect_q_reaches_categorical_entropy() -> None:
    k, n = 10, 256
    cat = code("categorical", k=k)
    est = estimator([cat])
    c = cat.sample(n, rng(), CPU)
    bound = est(50 * c, [c])  # Q puts all its mass on the true category
    assert bound.item() == pytest.approx(math.log(k), abs=1e-6)
    assert est(torch.zeros(n, k), [c]).item() == pytest.approx(0.0, abs=1e-6)  # Q learnt nothing


def test_mi_gradient_reaches_generator() -> None:
    torch.manual_seed(0)
    codes = [code("categorical", k=3), code("uniform", dim=2)]
    est = estimator(codes)
    noise_dim, n = 4, 16
    latent_dim = noise_dim + sum(c.dim for c in codes)
    generator, q = nn.Linear(latent_dim, 8), nn.Linear(8, sum(c.q_dim for c in codes))
    values = [c.sample(n, rng(i), CPU) for i, c in enumerate(codes)]
    z = torch.rand(n, noise_dim, generator=rng(7)) * 2 - 1
    bounds = est(q(generator(torch.cat([z, *values], dim=1))), values)
    assert bounds.requires_grad
    (-bounds.sum()).backward()
    for p in (*generator.parameters(), *q.parameters()):
        assert p.grad is not None
        assert p.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("params", "ceiling"),
    [
        ({"posterior_std": "fixed"}, math.log(2) - 0.5 * math.log(2 * math.pi)),
        ({"posterior_std": "fixed", "dim": 2}, 2 * (math.log(2) - 0.5 * math.log(2 * math.pi))),
        (
            {"posterior_std": "learned", "log_std_min": -3.0},
            math.log(2) - 0.5 * math.log(2 * math.pi) + 3.0,
        ),
    ],
)
def test_a_perfect_posterior_mean_reaches_the_ceiling(
    params: dict[str, Any], ceiling: float
) -> None:
    uniform = code("uniform", **params)
    est = estimator([uniform, code("categorical", k=4)])
    assert est.ceilings() == pytest.approx([ceiling, math.log(4)])
    c = uniform.sample(512, rng(), CPU)
    log_std = torch.full_like(c, params.get("log_std_min", 0.0))
    q_out = torch.cat([c, log_std], dim=1) if uniform.learned else c  # Q's mean is exact
    assert est.ceilings()[0] == pytest.approx(
        uniform.log_likelihood(q_out, c).mean().item() + uniform.entropy(), abs=1e-5
    )
