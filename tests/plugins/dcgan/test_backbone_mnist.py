"""The "mnist" backbone against InfoGAN's Table 1 and the paper's initialisation."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from test_backbones_paper import assert_param_counts
from torch import nn

from disentangle import Backbone, Discriminator
from disentangle.plugins import host

LATENT = 62 + 10 + 2  # noise + Cat(10) + 2 × U(−1, 1)
Q_DIM = 10 + 2  # categorical logits + two fixed-std means
SLOPE = 0.1


def backbone(**params: Any) -> Backbone:
    spec = host.backbones.get("mnist").spec_model()(type="mnist", **params)
    return host.backbones.build(spec)


@pytest.fixture(scope="module")
def paper() -> tuple[nn.Module, Discriminator]:
    torch.manual_seed(0)
    bb = backbone()
    return bb.generator(LATENT), bb.discriminator(Q_DIM)


LAYER_TYPES = (
    nn.Conv2d,
    nn.ConvTranspose2d,
    nn.Linear,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.ReLU,
    nn.LeakyReLU,
    nn.Sigmoid,
    nn.Tanh,
)


def layers(module: nn.Module) -> list[tuple[Any, ...]]:
    """The compute layers in order, with what Table 1 fixes about each (reshapes left out)."""
    out: list[tuple[Any, ...]] = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            size = (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
            out.append((type(m).__name__, *size, m.bias is not None))
        elif isinstance(m, nn.Linear):
            out.append(("Linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            out.append((type(m).__name__, m.num_features))
        elif isinstance(m, nn.LeakyReLU):
            out.append(("LeakyReLU", m.negative_slope))
        elif isinstance(m, LAYER_TYPES):
            out.append((type(m).__name__,))
    return out


def test_registered_shape_and_range() -> None:
    bb = backbone()
    assert tuple(bb.image_shape) == (1, 28, 28)
    assert tuple(bb.output_range) == (0.0, 1.0)  # sigmoid: MNIST data in [0, 1]
    assert tuple(backbone(output="tanh").output_range) == (-1.0, 1.0)


def test_generator_layers(paper: tuple[nn.Module, Discriminator]) -> None:
    g, _ = paper
    assert layers(g) == [
        ("Linear", LATENT, 1024, False),
        ("BatchNorm1d", 1024),
        ("ReLU",),
        ("Linear", 1024, 7 * 7 * 128, False),
        ("BatchNorm1d", 7 * 7 * 128),
        ("ReLU",),
        ("ConvTranspose2d", 128, 64, (4, 4), (2, 2), (1, 1), False),
        ("BatchNorm2d", 64),
        ("ReLU",),
        ("ConvTranspose2d", 64, 1, (4, 4), (2, 2), (1, 1), True),
        ("Sigmoid",),
    ]


def test_discriminator_layers(paper: tuple[nn.Module, Discriminator]) -> None:
    _, d = paper
    assert isinstance(d, Discriminator)
    assert layers(d.trunk) == [
        ("Conv2d", 1, 64, (4, 4), (2, 2), (1, 1), True),  # no BN on the first conv
        ("LeakyReLU", SLOPE),
        ("Conv2d", 64, 128, (4, 4), (2, 2), (1, 1), False),
        ("BatchNorm2d", 128),
        ("LeakyReLU", SLOPE),
        ("Linear", 7 * 7 * 128, 1024, False),
        ("BatchNorm1d", 1024),
        ("LeakyReLU", SLOPE),
    ]
    assert layers(d.d_head) == [("Linear", 1024, 1, True)]
    assert layers(d.q_head) == [
        ("Linear", 1024, 128, False),
        ("BatchNorm1d", 128),
        ("LeakyReLU", SLOPE),
        ("Linear", 128, Q_DIM, True),
    ]


def test_parameter_counts(paper: tuple[nn.Module, Discriminator]) -> None:
    g, d = paper
    bn = 2  # γ and β per channel
    g_expected = (
        LATENT * 1024 + bn * 1024  # FC1024 (no bias before BN) + BN
        + 1024 * 7 * 7 * 128 + bn * 7 * 7 * 128  # FC 7·7·128 + BN
        + 128 * 64 * 4 * 4 + bn * 64  # upconv64 + BN
        + 64 * 1 * 4 * 4 + 1  # upconv1 with bias
    )  # fmt: skip
    trunk_expected = (
        1 * 64 * 4 * 4 + 64  # conv64 with bias, no BN
        + 64 * 128 * 4 * 4 + bn * 128  # conv128 + BN
        + 7 * 7 * 128 * 1024 + bn * 1024  # FC1024 + BN
    )  # fmt: skip
    d_head_expected = 1024 + 1
    q_head_expected = 1024 * 128 + bn * 128 + 128 * Q_DIM + Q_DIM
    assert_param_counts(
        g,
        d,
        generator=g_expected,
        trunk=trunk_expected,
        d_head=d_head_expected,
        q_head=q_head_expected,
    )


def test_forward_shapes_and_sigmoid_output(paper: tuple[nn.Module, Discriminator]) -> None:
    g, d = paper
    n = 6
    z = torch.rand(n, LATENT, generator=torch.Generator().manual_seed(1)) * 2 - 1
    pre: list[torch.Tensor] = []
    last_conv = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    hook = last_conv.register_forward_hook(lambda m, i, o: pre.append(o))
    try:
        x = g(z)
    finally:
        hook.remove()
    assert x.shape == (n, 1, 28, 28)
    assert (x >= 0).all() and (x <= 1).all()
    torch.testing.assert_close(x, torch.sigmoid(pre[0]))
    logits, q = d(x)
    assert logits.shape == (n,)
    assert q.shape == (n, Q_DIM)


def test_tanh_output() -> None:
    torch.manual_seed(0)
    g = backbone(output="tanh").generator(LATENT)
    z = torch.rand(6, LATENT, generator=torch.Generator().manual_seed(1)) * 2 - 1
    pre: list[torch.Tensor] = []
    last_conv = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    last_conv.register_forward_hook(lambda m, i, o: pre.append(o))
    x = g(z)
    assert isinstance(list(g.modules())[-1], nn.Tanh)
    assert (x >= -1).all() and (x <= 1).all()
    torch.testing.assert_close(x, torch.tanh(pre[0]))
    assert (x < 0).any()  # a sigmoid could never give this


def test_q_shares_the_whole_trunk(paper: tuple[nn.Module, Discriminator]) -> None:
    _, d = paper
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    seen: list[str] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o, name=name: seen.append(name))
        for name, m in d.named_modules()
        if name and not list(m.children())
    ]
    try:
        logits, q = d(x)
    finally:
        for h in hooks:
            h.remove()
    # every leaf runs exactly once: the trunk once for both heads, Q's BN and lReLU are used
    leaves = [name for name, m in d.named_modules() if name and not list(m.children())]
    assert sorted(seen) == sorted(leaves)
    d.eval()  # BN from running statistics, so the parts can be compared with the whole
    try:
        logits, q = d(x)
        features = d.trunk(x)
        assert features.shape == (5, 1024)
        torch.testing.assert_close(logits, d.d_head(features).flatten())
        torch.testing.assert_close(q, d.q_head(features))
    finally:
        d.train()


def test_q_head_gradient_reaches_trunk(paper: tuple[nn.Module, Discriminator]) -> None:
    _, d = paper
    d.zero_grad(set_to_none=True)
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    _, q = d(x)
    q.square().sum().backward()
    try:
        for name, p in d.trunk.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        assert all(p.grad is None for p in d.d_head.parameters())
    finally:
        d.zero_grad(set_to_none=True)


def weight_layers(module: nn.Module) -> list[nn.Module]:
    return [
        m for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
    ]


def norm_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]


def assert_normal(values: torch.Tensor, mean: float, std: float, what: str) -> None:
    """Sample mean and std of N(mean, std²) draws, within 5 standard errors."""
    v = values.detach().flatten().double()
    n = v.numel()
    assert abs(v.mean().item() - mean) < 5 * std / math.sqrt(n), what
    assert abs(v.std().item() - std) < 5 * std / math.sqrt(2 * (n - 1)), what


def test_initialisation(paper: tuple[nn.Module, Discriminator]) -> None:
    for net in paper:
        assert weight_layers(net) and norm_layers(net)
        for m in weight_layers(net):
            assert_normal(m.weight, 0.0, 0.02, repr(m))
            if m.bias is not None:
                assert torch.equal(m.bias, torch.zeros_like(m.bias)), repr(m)
        for m in norm_layers(net):
            assert_normal(m.weight, 1.0, 0.02, repr(m))
            assert torch.equal(m.bias, torch.zeros_like(m.bias)), repr(m)


def test_width_scales_channels() -> None:
    torch.manual_seed(0)
    bb = backbone(width=0.25)
    g, d = bb.generator(LATENT), bb.discriminator(Q_DIM)
    c1, c2, hidden, q_hidden = 64 // 4, 128 // 4, 1024 // 4, 128 // 4
    assert [lay[:3] for lay in layers(g) if lay[0] in ("Linear", "ConvTranspose2d")] == [
        ("Linear", LATENT, hidden),
        ("Linear", hidden, 7 * 7 * c2),
        ("ConvTranspose2d", c2, c1),
        ("ConvTranspose2d", c1, 1),
    ]
    assert [lay[:3] for lay in layers(d) if lay[0] in ("Linear", "Conv2d")] == [
        ("Conv2d", 1, c1),
        ("Conv2d", c1, c2),
        ("Linear", 7 * 7 * c2, hidden),
        ("Linear", hidden, 1),
        ("Linear", hidden, q_hidden),
        ("Linear", q_hidden, Q_DIM),
    ]
    z = torch.rand(3, LATENT, generator=torch.Generator().manual_seed(4))
    x = g(z)
    assert x.shape == (3, 1, 28, 28)
    logits, q = d(x)
    assert (logits.shape, q.shape) == ((3,), (3, Q_DIM))


def test_leaky_slope_param() -> None:
    d = backbone(leaky_slope=0.2).discriminator(Q_DIM)
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def projection(g: nn.Module) -> nn.Sequential:
    """G's layers from the hidden FC's output to the 128 × 7 × 7 map after its ReLU."""
    mods = list(g.children())
    first_upconv = next(i for i, m in enumerate(mods) if isinstance(m, nn.ConvTranspose2d))
    return nn.Sequential(*mods[3:first_upconv])


def test_projection_bn_per_channel_is_the_ports_7x7_transposed_conv() -> None:
    torch.manual_seed(0)
    g = backbone(projection_bn="channel").generator(LATENT)
    block = projection(g)
    assert layers(block) == [
        ("Linear", 1024, 7 * 7 * 128, False),
        ("BatchNorm2d", 128),
        ("ReLU",),
    ]
    linear, _, bn, _ = block
    port = nn.Sequential(nn.ConvTranspose2d(1024, 128, 7, 1, bias=False), nn.BatchNorm2d(128))
    with torch.no_grad():
        port[0].weight.copy_(linear.weight.T.reshape(1024, 128, 7, 7))
        port[1].load_state_dict(bn.state_dict())
    h = torch.randn(16, 1024, generator=torch.Generator().manual_seed(1))
    ours = block(h)
    theirs = torch.relu(port(h[:, :, None, None]))
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert g(torch.rand(3, LATENT)).shape == (3, 1, 28, 28)


def test_projection_bn_normalises_per_feature_or_per_channel() -> None:
    """Before the ReLU (γ = 1, β = 0, training mode): per feature, every one of the 7·7·128
    outputs has mean 0 over the batch; per channel, only each channel over batch and positions."""
    h = torch.randn(32, 1024, generator=torch.Generator().manual_seed(2))
    means = {}
    for kind in ("feature", "channel"):
        torch.manual_seed(0)
        block = projection(backbone(projection_bn=kind).generator(LATENT))
        bn = next(m for m in block if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d))
        nn.init.ones_(bn.weight)
        x = nn.Sequential(*[m for m in block if not isinstance(m, nn.ReLU)])(h)
        x = x.reshape(32, 128, 7, 7)
        means[kind] = (x.mean(0).abs().max().item(), x.mean((0, 2, 3)).abs().max().item())
    assert means["feature"][0] < 1e-4 and means["feature"][1] < 1e-4
    assert means["channel"][0] > 0.1 and means["channel"][1] < 1e-4
