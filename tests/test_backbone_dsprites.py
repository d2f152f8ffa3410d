"""The "dsprites" backbone against InfoGAN-CR's dSprites network (Lin et al. ICML 2020)."""

from __future__ import annotations

from functools import cache

import pytest
import torch
from test_backbones_paper import (
    SLOPE,
    Layer,
    assert_normal,
    assert_param_counts,
    backbone,
    conv,
    fc,
    image_upconv,
    layers,
    parts,
    q_head,
    upconv,
)
from torch import nn

from disentangle import Discriminator

LATENT = 5 + 5  # noise + 5 × U(−1, 1)
Q_DIM = 5 * 2  # mean and log-std per code (learned std)


@cache
def paper() -> tuple[nn.Module, Discriminator]:
    """G and D at the paper's width, built once."""
    torch.manual_seed(0)
    bb = backbone("dsprites")
    return bb.generator(LATENT), bb.discriminator(Q_DIM)


def network(ch: float) -> dict[str, list[Layer]]:
    """The paper's layers; `ch` scales every width."""

    def c(n: int) -> int:
        return round(n * ch)

    return {
        "g": [
            *fc(LATENT, c(128), ("ReLU",)),
            *fc(c(128), 4 * 4 * c(64), ("ReLU",)),
            *upconv(c(64), c(64)),
            *upconv(c(64), c(32)),
            *upconv(c(32), c(32)),
            *image_upconv(c(32), 1, "Sigmoid"),
        ],
        "trunk": [
            *conv(1, c(32), bn=False),
            *conv(c(32), c(32)),
            *conv(c(32), c(64)),
            *conv(c(64), c(64)),
            *fc(4 * 4 * c(64), c(128), ("LeakyReLU", SLOPE)),
        ],
        "d_head": [("Linear", c(128), 1, True)],
        "q_head": q_head(c(128), c(128), Q_DIM),
    }


def test_registered_shape_and_range() -> None:
    bb = backbone("dsprites")
    assert tuple(bb.image_shape) == (1, 64, 64)
    assert tuple(bb.output_range) == (0.0, 1.0)
    assert tuple(backbone("dsprites", output="tanh").output_range) == (-1.0, 1.0)


@pytest.mark.parametrize("width", [1.0, 0.5])
def test_layers_match_the_paper(width: float) -> None:
    bb = backbone("dsprites", width=width)
    expected = network(width)
    for part, module in parts(bb.generator(LATENT), bb.discriminator(Q_DIM)).items():
        assert layers(module) == expected[part], part


def test_parameter_counts() -> None:
    g, d = paper()
    bn = 2  # γ and β per channel
    g_expected = (
        LATENT * 128 + bn * 128  # FC128 (no bias before BN) + BN
        + 128 * 4 * 4 * 64 + bn * 4 * 4 * 64  # FC 4·4·64 + BN
        + 64 * 64 * 4 * 4 + bn * 64  # upconv64 + BN
        + 64 * 32 * 4 * 4 + bn * 32  # upconv32 + BN
        + 32 * 32 * 4 * 4 + bn * 32  # upconv32 + BN
        + 32 * 1 * 4 * 4 + 1  # upconv1 with bias
    )  # fmt: skip
    trunk_expected = (
        1 * 32 * 4 * 4 + 32  # conv32 with bias, no BN
        + 32 * 32 * 4 * 4 + bn * 32  # conv32 + BN
        + 32 * 64 * 4 * 4 + bn * 64  # conv64 + BN
        + 64 * 64 * 4 * 4 + bn * 64  # conv64 + BN
        + 4 * 4 * 64 * 128 + bn * 128  # FC128 + BN
    )  # fmt: skip
    d_head_expected = 128 + 1
    q_head_expected = 128 * 128 + bn * 128 + 128 * Q_DIM + Q_DIM
    assert_param_counts(
        g,
        d,
        generator=g_expected,
        trunk=trunk_expected,
        d_head=d_head_expected,
        q_head=q_head_expected,
    )
    assert g_expected == 250_113
    assert trunk_expected + d_head_expected + q_head_expected == 264_939


def test_forward_shapes_sizes_and_output() -> None:
    g, d = paper()
    sizes: dict[str, list[int]] = {"g": [], "d": []}
    hooks = [
        m.register_forward_hook(lambda m, i, o, net=net: sizes[net].append(o.shape[-1]))
        for net, module in (("g", g), ("d", d))
        for m in module.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    try:
        with torch.no_grad():
            x = g(torch.rand(3, LATENT, generator=torch.Generator().manual_seed(1)) * 2 - 1)
            logits, q = d(x)
    finally:
        for h in hooks:
            h.remove()
    assert sizes == {"g": [8, 16, 32, 64], "d": [32, 16, 8, 4]}
    assert x.shape == (3, 1, 64, 64)
    assert ((x >= 0) & (x <= 1)).all()
    assert logits.shape == (3,) and q.shape == (3, Q_DIM)


def test_forward_backward_and_initialisation() -> None:
    g, d = paper()
    g.zero_grad(set_to_none=True)
    d.zero_grad(set_to_none=True)
    try:
        logits, q = d(g(torch.rand(4, LATENT, generator=torch.Generator().manual_seed(2))))
        (logits.mean() + q.square().mean()).backward()
        for net in (g, d):
            for name, p in net.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
                assert p.grad.abs().sum() > 0, name
    finally:
        g.zero_grad(set_to_none=True)
        d.zero_grad(set_to_none=True)
    for m in [*g.modules(), *d.modules()]:
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            assert_normal(m.weight, 0.0, 0.02, repr(m))
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            assert_normal(m.weight, 1.0, 0.02, repr(m))


def test_leaky_slope_param() -> None:
    d = backbone("dsprites", leaky_slope=0.2).discriminator(Q_DIM)
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
