"""The `beta_vae` method and disentanglement_lib's conv encoder/decoder (`dlib_conv`): the
loss as disentanglement_lib writes it, its recipe errors, eval on the means, exact resume."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from disentangle_vae.beta_vae import BetaVAE
from disentangle_vae.factor_vae import shuffle_codes
from disentangle_vae.regularisers import (
    BetaTCVAE,
    covariance,
    dip_penalty,
    stratified_log_weights,
    total_correlation,
    total_correlation_stratified,
)
from support.layouts import write_split
from support.tiny import SMALL_IMAGES, checkpointed, tiny_grid, whole_and_resumed
from torch import nn

from disentangle.errors import RecipeError
from disentangle.method import MethodSetup
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import build_components
from disentangle.run import load_run
from disentangle.training.loop import train

CPU = torch.device("cpu")
LATENT = 4


def recipe(**method: Any) -> dict[str, Any]:
    return {
        "name": "vae",
        "method": {"type": "beta_vae", **method},  # a `type` in `method` picks another VAE
        "noise": {"type": "gaussian", "dim": 0},
        "codes": [{"type": "gaussian", "name": "z", "dim": LATENT}],
        "backbone": {"type": "dlib_conv"},
        "dataset": tiny_grid(64),
        "train": checkpointed(4, 8),
        "images": SMALL_IMAGES,
    }


def build(**method: Any) -> tuple[BetaVAE, torch.Tensor]:
    rec = validate_recipe(recipe(**method))
    torch.manual_seed(0)
    comps = build_components(rec)
    setup = MethodSetup(rec, comps, CPU, torch.Generator().manual_seed(0))
    vae = host.methods.build(rec.method, setup)
    return vae, comps.dataset.load().images[:8].float() / 255


def test_dlib_conv_is_disentanglement_libs_architecture() -> None:
    vae, _ = build()
    convs = [m for m in vae.e.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (1, 32, (4, 4), (2, 2)),
        (32, 32, (4, 4), (2, 2)),
        (32, 64, (2, 2), (2, 2)),
        (64, 64, (2, 2), (2, 2)),
    ]
    linears = [(m.in_features, m.out_features) for m in vae.e.modules() if isinstance(m, nn.Linear)]
    assert linears == [(1024, 256), (256, 2 * LATENT)]  # means and log variances
    ups = [(m.in_channels, m.out_channels) for m in vae.g if isinstance(m, nn.ConvTranspose2d)]
    assert ups == [(64, 64), (64, 32), (32, 32), (32, 1)]
    assert [(m.in_features, m.out_features) for m in vae.g if isinstance(m, nn.Linear)] == [
        (LATENT, 256),
        (256, 1024),
    ]
    out = vae.g(torch.randn(3, LATENT))
    assert out.shape == (3, 1, 64, 64) and out.min() >= 0 and out.max() <= 1
    for m in vae.e.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            assert torch.equal(m.bias, torch.zeros_like(m.bias))  # TensorFlow's zero biases
            fan = m.weight[0].numel() + m.weight.shape[0] * m.weight[0, 0].numel()
            assert m.weight.abs().max() <= (6 / fan) ** 0.5  # Glorot-uniform's bound


@pytest.mark.parametrize(("beta", "reconstruction"), [(1.0, "bernoulli"), (4.0, "l2")])
def test_the_step_minimises_reconstruction_plus_beta_kl(beta: float, reconstruction: str) -> None:
    vae, images = build(beta=beta, reconstruction=reconstruction)
    reference = copy.deepcopy(vae)
    state = vae.rng.get_state()
    numbers = vae.step(images)
    mean, log_var = reference.e(images).chunk(2, dim=1)
    noise = torch.randn(mean.shape, generator=torch.Generator().set_state(state))
    z = mean + torch.exp(0.5 * log_var) * noise
    if reconstruction == "bernoulli":
        logits = reference.g[:-1](z)
        per_pixel = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
    else:
        per_pixel = (reference.g(z) - images).square()
    rec = per_pixel.flatten(1).sum(1).mean()
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    kl = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    expected = torch.stack([rec + beta * kl, rec, kl, rec + kl]).detach()
    torch.testing.assert_close(numbers, expected, rtol=1e-5, atol=1e-4)
    assert vae.scalars == ["loss", "reconstruction", "kl", "elbo"]
    pairs = zip(vae.e.parameters(), reference.e.parameters(), strict=True)
    assert all(not torch.equal(a, b) for a, b in pairs)


def test_eval_reads_the_means_of_the_codes() -> None:
    vae, images = build()
    data = recipe()
    data["noise"] = {"type": "gaussian", "dim": 2}
    rec = validate_recipe(data)
    torch.manual_seed(0)
    comps = build_components(rec)
    with_noise = BetaVAE(rec.method, MethodSetup(rec, comps, CPU, torch.Generator()))
    means = with_noise.e(images)[:, : 2 + LATENT]
    torch.testing.assert_close(with_noise.encode(images), means[:, 2:], rtol=0, atol=0)
    assert vae.encode(images).shape == (8, LATENT)


def test_latents_it_cannot_use_are_recipe_errors() -> None:
    data = recipe()
    data["codes"] = [{"type": "categorical", "k": 3}, {"type": "uniform"}]
    data["noise"] = {"type": "uniform", "dim": 2}
    with pytest.raises(RecipeError) as info:
        validate_recipe(data)
    assert [p.where for p in info.value.problems] == [
        "noise.type",
        "codes[0].type",
        "codes[1].type",
    ]
    assert "N(0, 1)" in str(info.value)
    tanh = recipe()
    tanh["dataset"]["value_range"] = [-1.0, 1.0]
    with pytest.raises(RecipeError) as info:
        validate_recipe(tanh)
    assert "method.reconstruction" in [p.where for p in info.value.problems]


def test_a_resumed_vae_ends_where_the_whole_run_does(tmp_path: Path) -> None:
    whole, again = whole_and_resumed(recipe(beta=2.0), tmp_path, cut=2)
    assert set(whole) == {"encoder", "decoder", "opt", "rng"}
    for part in ("encoder", "decoder"):
        for key in whole[part]:
            assert torch.equal(whole[part][key], again[part][key]), f"{part}.{key}"
    records = load_run(tmp_path / "whole").metrics()
    assert [r["iteration"] for r in records] == [1, 2, 3, 4]
    assert all(r["elbo"] == pytest.approx(r["reconstruction"] + r["kl"]) for r in records)


def test_total_correlation_is_disentanglement_libs_estimate() -> None:
    gen = torch.Generator().manual_seed(0)
    mean, log_var = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen) * 0.3
    z = mean + torch.exp(0.5 * log_var) * torch.randn(6, 3, generator=gen)
    normal = torch.distributions.Normal(mean.unsqueeze(0), torch.exp(0.5 * log_var).unsqueeze(0))
    log_q = normal.log_prob(z.unsqueeze(1))  # [j, i, l]: log q(z_j,l | x_i)
    joint = torch.logsumexp(log_q.sum(2), dim=1)
    marginals = torch.logsumexp(log_q, dim=1).sum(1)
    torch.testing.assert_close(total_correlation(z, mean, log_var), (joint - marginals).mean())
    # one posterior for every image: q(z) factorises, and the estimate is its constant alone
    same_mean, same_log_var = mean[:1].expand(6, 3), log_var[:1].expand(6, 3)
    tc = total_correlation(z, same_mean, same_log_var)
    torch.testing.assert_close(tc, torch.tensor(-(3 - 1) * math.log(6)))


def test_the_stratified_weights_are_chen_et_als_estimator() -> None:
    s, m, n = 7 / 30, 1 / 3, 1 / 10  # batch 4 (M = 3) of N = 10 images: (N − M) / (N·M)
    expected = torch.tensor(  # appendix C.2: its own image 1/N, the next (N − M)/(NM), 1/M
        [[n, s, m, m], [m, n, s, m], [m, m, n, s], [s, m, m, n]], dtype=torch.float64
    )
    torch.testing.assert_close(stratified_log_weights(4, 10).exp(), expected)
    rows = stratified_log_weights(64, 737_280).exp().sum(dim=1)  # a mixture of posteriors
    torch.testing.assert_close(rows, torch.ones(64, dtype=torch.float64))


def test_the_stratified_tc_of_far_apart_posteriors_is_the_weighted_one_plus_its_constant() -> None:
    # each image's posterior far from the others' in every dimension: only q(z_i | x_i) counts,
    # weighed 1/N by the stratified estimate, 1/(B·N) by the weighted one (whose constant
    # (D − 1)·log(B·N) the toolkit leaves out): the two differ by (D − 1)·log N
    batch, dims, size = 5, 3, 1000
    mean = 100.0 * torch.arange(batch).unsqueeze(1) + torch.arange(dims)
    log_var = torch.full((batch, dims), -4.0)
    z = mean + 0.05 * torch.randn(batch, dims, generator=torch.Generator().manual_seed(0))
    stratified = total_correlation_stratified(z, mean, log_var, size)
    weighted = total_correlation(z, mean, log_var)
    torch.testing.assert_close(stratified, weighted + (dims - 1) * math.log(size))


def test_beta_tcvae_uses_the_estimator_the_recipe_names() -> None:
    weighted, images = build(type="beta_tcvae", beta=6.0)
    stratified, _ = build(type="beta_tcvae", beta=6.0, tc_estimator="stratified", dataset_size=64)
    assert not torch.equal(weighted.step(images), stratified.step(images))
    for change, where in [
        ({"tc_estimator": "stratified"}, "method.dataset_size"),  # N is needed
        ({"dataset_size": 64}, "method.dataset_size"),  # and unused by the weighted estimate
        ({"tc_estimator": "stratified", "dataset_size": 4}, "method.dataset_size"),  # < batch
    ]:
        with pytest.raises(RecipeError) as info:
            validate_recipe(recipe(type="beta_tcvae", **change))
        assert [p.where for p in info.value.problems] == [where]


def test_dip_penalties() -> None:
    gen = torch.Generator().manual_seed(1)
    means = torch.randn(50, 4, generator=gen)
    torch.testing.assert_close(covariance(means), torch.cov(means.T, correction=0))
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    assert dip_penalty(cov, 3.0, 7.0).item() == pytest.approx(3.0 * 2 * 0.25 + 7.0 * 1.0)
    i = validate_recipe(recipe(type="dip_vae")).method
    ii = validate_recipe(recipe(type="dip_vae", dip_type="ii", lambda_od=5.0)).method
    assert (i.lambda_d_factor, ii.lambda_d_factor) == (10.0, 1.0)  # theirs, by type
    vae, _ = build(type="dip_vae", dip_type="ii", lambda_od=5.0)
    mean, log_var = torch.randn(8, LATENT, generator=gen), torch.randn(8, LATENT, generator=gen)
    kl = torch.tensor(0.25)
    expected = kl + dip_penalty(covariance(mean) + torch.diag(log_var.exp().mean(0)), 5.0, 5.0)
    torch.testing.assert_close(vae.regulariser(kl, mean, log_var, mean), expected)


def test_beta_tcvae_at_beta_1_is_the_vae() -> None:
    tc, images = build(type="beta_tcvae", beta=1.0)
    plain, _ = build(beta=1.0)
    assert isinstance(tc, BetaTCVAE)
    for _ in range(2):
        torch.testing.assert_close(tc.step(images), plain.step(images), rtol=0, atol=0)
    more, _ = build(type="beta_tcvae", beta=6.0)
    assert not torch.equal(more.step(images), build(beta=1.0)[0].step(images))


def test_the_annealed_capacity_grows_to_c_max_and_resumes(tmp_path: Path) -> None:
    vae, images = build(type="annealed_vae", gamma=10.0, c_max=3.0, iteration_threshold=4)
    capacities = []
    for _ in range(6):
        capacities.append(float(vae.capacity()))
        vae.step(images)
    assert capacities == [0.0, 0.75, 1.5, 2.25, 3.0, 3.0]
    kl = torch.tensor(5.0)
    assert vae.regulariser(kl, kl, kl, kl).item() == pytest.approx(10.0 * (5.0 - 3.0))
    data = recipe(type="annealed_vae", iteration_threshold=3)
    whole, again = whole_and_resumed(data, tmp_path, cut=2)
    assert int(again["schedule"]["count"]) == 4
    for key in whole["encoder"]:
        assert torch.equal(whole["encoder"][key], again["encoder"][key]), key


def test_shuffle_codes_permutes_each_dimension_on_its_own() -> None:
    z = torch.arange(40.0).view(20, 2) * torch.tensor([1.0, -1.0])
    shuffled = shuffle_codes(z, torch.Generator().manual_seed(3))
    for j in range(2):
        assert torch.equal(shuffled[:, j].sort().values, z[:, j].sort().values)
    order = [shuffled[:, j].abs().argsort() for j in range(2)]
    assert not torch.equal(order[0], order[1])  # not one permutation of whole rows


def test_factor_vae_trains_the_vae_and_its_tc_discriminator() -> None:
    vae, images = build(type="factor_vae", gamma=0.0)
    plain, _ = build(beta=1.0)
    critic = copy.deepcopy(vae.critic)
    state = vae.rng.get_state()
    numbers = vae.step(images)
    plain.step(images)
    # γ = 0 is the VAE: the encoder and decoder take the VAE's step exactly
    for a, b in zip(vae.e.parameters(), plain.e.parameters(), strict=True):
        assert torch.equal(a, b)
    loss, rec, kl, elbo, tc, loss_tc = numbers.tolist()
    assert loss == pytest.approx(rec + kl) and elbo == pytest.approx(rec + kl)
    # the discriminator's loss on the same samples, replayed
    mean, log_var = build(type="factor_vae")[0]._posterior(images)
    rng = torch.Generator().set_state(state)
    z = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=rng)
    joint = F.softmax(critic(z), dim=1)[:, 0]
    product = F.softmax(critic(shuffle_codes(z, rng)), dim=1)[:, 1]
    expected = -(0.5 * joint.log().mean() + 0.5 * product.log().mean())
    assert loss_tc == pytest.approx(expected.item(), rel=1e-5)
    logits = critic(z)
    assert tc == pytest.approx((logits[:, 0] - logits[:, 1]).mean().item(), rel=1e-4, abs=1e-6)
    pairs = zip(vae.critic.parameters(), critic.parameters(), strict=True)
    assert all(not torch.equal(a, b) for a, b in pairs)
    weighted, _ = build(type="factor_vae", gamma=30.0)
    numbers = weighted.step(images).tolist()
    assert numbers[0] == pytest.approx(numbers[1] + numbers[2] + 30.0 * numbers[4], rel=1e-6)


@pytest.mark.parametrize("side", [28, 32])
def test_mnist_sized_networks(side: int) -> None:
    entry = host.backbones.get("dlib_conv")
    bb = entry.factory(entry.spec_model()(type="dlib_conv", resolution=side, channels=3))
    g, d = bb.generator(LATENT), bb.discriminator(2 * LATENT)
    images = g(torch.randn(5, LATENT, generator=torch.Generator().manual_seed(0)))
    assert images.shape == (5, 3, side, side) == (5, *bb.image_shape)
    assert d(images)[1].shape == (5, 2 * LATENT)


def test_a_vae_trains_on_mnist_digits_at_28_pixels(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_split(raw, "train", 16, seed=0)
    write_split(raw, "t10k", 16, seed=1)
    data = recipe(type="beta_tcvae", beta=2.0)
    data["backbone"] = {"type": "dlib_conv", "resolution": 28}
    data["dataset"] = {"type": "mnist", "root": str(tmp_path)}
    run = train(validate_recipe(data), tmp_path / "run")
    assert [r["iteration"] for r in load_run(run.path).metrics()] == [1, 2, 3, 4]
    assert run.sample(4).shape == (4, 1, 28, 28)
