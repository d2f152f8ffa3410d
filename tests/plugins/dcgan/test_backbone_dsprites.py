"""The "dsprites" backbone against InfoGAN-CR's code (fjxmlzn/InfoGAN-CR, InfoGAN-CR_dSprites).

The expected layers and parameter counts are derived from their gan/network.py (Decoder and
InfoGANDiscriminator) and gan/op.py (every conv, upconv and linear has a bias; batch norm has γ
and β), as docs/dsprites-fidelity.md lists them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import torch
from test_backbones_paper import Layer, assert_normal, assert_param_counts, backbone, layers, parts
from torch import nn
from torch.nn.utils import parametrize

from disentangle import Discriminator
from disentangle.run.checkpoint import load_checkpoint, save_checkpoint

LATENT = 5 + 5  # 5 unregularised noise dims + 5 regularised U(−1, 1) codes
Q_DIM = 5  # one mean per code: their posterior std is fixed at 1
SLOPE = 0.2  # their lrelu(leak=0.2), gan/op.py


@cache
def paper(spectral_norm: bool = False) -> tuple[nn.Module, Discriminator]:
    """G and D at their width, built once."""
    torch.manual_seed(0)
    bb = backbone("dsprites", spectral_norm=spectral_norm)
    return bb.generator(LATENT), bb.discriminator(Q_DIM)


def conv(c_in: int, c_out: int) -> list[Layer]:
    """Their conv2d: 4×4, stride 2, "SAME" (pads 1 on each side at even sizes), bias; lrelu."""
    return [("Conv2d", c_in, c_out, (4, 4), (2, 2), (1, 1), True), ("LeakyReLU", SLOPE)]


def upconv(c_in: int, c_out: int) -> list[Layer]:
    """Their deconv2d: 4×4, stride 2, bias; then lrelu, then batch norm."""
    return [
        ("ConvTranspose2d", c_in, c_out, (4, 4), (2, 2), (1, 1), True),
        ("LeakyReLU", SLOPE),
        ("BatchNorm2d", c_out),
    ]


def network(ch: float) -> dict[str, list[Layer]]:
    """Their layer lists; `ch` scales every width."""

    def c(n: int) -> int:
        return round(n * ch)

    return {
        "g": [
            ("Linear", LATENT, c(128), True),
            ("ReLU",),
            ("BatchNorm1d", c(128)),
            ("Linear", c(128), 4 * 4 * c(64), True),
            ("ReLU",),
            ("BatchNorm1d", 4 * 4 * c(64)),
            *upconv(c(64), c(64)),
            *upconv(c(64), c(32)),
            *upconv(c(32), c(32)),
            ("ConvTranspose2d", c(32), 1, (4, 4), (2, 2), (1, 1), True),
            ("Sigmoid",),
        ],
        "trunk": [
            *conv(1, c(32)),
            *conv(c(32), c(32)),
            *conv(c(32), c(64)),
            *conv(c(64), c(64)),
            ("Linear", 4 * 4 * c(64), c(128), True),
            ("LeakyReLU", SLOPE),
        ],
        "d_head": [("Linear", c(128), 1, True)],
        "q_head": [
            ("Linear", c(128), c(128), True),
            ("LeakyReLU", SLOPE),
            ("Linear", c(128), Q_DIM, True),
        ],
    }


def test_registered_shape_and_range() -> None:
    bb = backbone("dsprites")
    assert tuple(bb.image_shape) == (1, 64, 64)
    assert tuple(bb.output_range) == (0.0, 1.0)
    assert tuple(backbone("dsprites", output="tanh").output_range) == (-1.0, 1.0)


def test_three_channels_for_the_rgb_variants() -> None:
    """G draws and D, Q and the CR discriminator read RGB; the layers are otherwise theirs."""
    torch.manual_seed(0)
    bb = backbone("dsprites", channels=3, width=0.25)
    assert tuple(bb.image_shape) == (3, 64, 64)
    images = bb.generator(LATENT)(torch.randn(2, LATENT))
    assert images.shape == (2, 3, 64, 64)
    d_out, q_out = bb.discriminator(Q_DIM)(images)
    assert d_out.shape == (2,) and q_out.shape == (2, Q_DIM)
    assert bb.pair_discriminator(4)(torch.cat([images, images], dim=1)).shape == (2, 4)
    gray = [x for x in layers(backbone("dsprites", width=0.25).discriminator(Q_DIM))]
    rgb = [x for x in layers(bb.discriminator(Q_DIM))]
    assert rgb[0] == ("Conv2d", 3, *gray[0][2:]) and rgb[1:] == gray[1:]


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("width", [1.0, 0.5])
def test_layers_match_their_code(width: float, spectral_norm: bool) -> None:
    bb = backbone("dsprites", width=width, spectral_norm=spectral_norm)
    expected = network(width)
    for part, module in parts(bb.generator(LATENT), bb.discriminator(Q_DIM)).items():
        # a spectrally normalised layer is a subclass named "Parametrized<Layer>"
        found = [(str(x[0]).removeprefix("Parametrized"), *x[1:]) for x in layers(module)]
        assert found == expected[part], part


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_parameter_counts(spectral_norm: bool) -> None:
    g, d = paper(spectral_norm)
    bn = 2  # γ and β per channel (their batch_norm(scale=True))
    g_expected = (
        LATENT * 128 + 128 + bn * 128  # layer0: linear 128 + bias, BN
        + 128 * 4 * 4 * 64 + 4 * 4 * 64 + bn * 4 * 4 * 64  # layer1: linear 1024 + bias, BN
        + 4 * 4 * 64 * 64 + 64 + bn * 64  # layer2: deconv 64 + bias, BN
        + 4 * 4 * 64 * 32 + 32 + bn * 32  # layer3: deconv 32 + bias, BN
        + 4 * 4 * 32 * 32 + 32 + bn * 32  # layer4: deconv 32 + bias, BN
        + 4 * 4 * 32 * 1 + 1  # layer5: deconv 1 + bias
    )  # fmt: skip
    trunk_expected = (
        4 * 4 * 1 * 32 + 32  # shared/layer0..3: conv + bias, no BN
        + 4 * 4 * 32 * 32 + 32
        + 4 * 4 * 32 * 64 + 64
        + 4 * 4 * 64 * 64 + 64
        + 4 * 4 * 64 * 128 + 128  # shared/layer4: linear 128 + bias
    )  # fmt: skip
    d_head_expected = 128 + 1  # x/layer0
    q_head_expected = 128 * 128 + 128 + 128 * Q_DIM + Q_DIM  # q/layer0, q/layer1 (q_l_dim 128)
    assert_param_counts(
        g,
        d,
        generator=g_expected,
        trunk=trunk_expected,
        d_head=d_head_expected,
        q_head=q_head_expected,
    )
    assert g_expected == 251_393
    assert trunk_expected + d_head_expected + q_head_expected == 263_878


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
    # their init: conv2d truncated_normal(0.02), deconv2d and linear random_normal(0.02),
    # biases 0, batch norm γ = 1 and β = 0
    truncated_std = 0.02 * 0.8796  # the std of N(0, 0.02²) truncated at ±2σ
    for m in [*g.modules(), *d.modules()]:
        if isinstance(m, nn.Conv2d):
            assert m.weight.abs().max() <= 0.04, repr(m)
            assert_normal(m.weight, 0.0, truncated_std, repr(m))
        elif isinstance(m, nn.ConvTranspose2d | nn.Linear):
            assert_normal(m.weight, 0.0, 0.02, repr(m))
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight)), repr(m)
        else:
            continue
        assert torch.equal(m.bias, torch.zeros_like(m.bias)), repr(m)


def test_leaky_slope_param() -> None:
    bb = backbone("dsprites", leaky_slope=0.1)
    for net in (bb.generator(LATENT), bb.discriminator(Q_DIM)):
        assert {m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}


def weighted(module: nn.Module) -> list[nn.Module]:
    return [
        m for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
    ]


def largest_singular_value(m: nn.Module) -> float:
    """Of the weight as spectral norm sees it: [out, in·k·k] (TF's sn.py: [in·k·k, out])."""
    w = m.weight.detach()
    return torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), 2).item()


def test_spectral_norm_on_every_layer_of_d_and_q_only() -> None:
    g, d = paper(spectral_norm=True)
    assert all(parametrize.is_parametrized(m, "weight") for m in weighted(d))
    assert len(weighted(d)) == 8  # 4 convs, FC128, D's head, Q's two layers
    assert not any(parametrize.is_parametrized(m) for m in g.modules())
    assert not any(parametrize.is_parametrized(m) for m in paper()[1].modules())
    assert backbone("dsprites").spec.spectral_norm is False  # off unless a recipe asks


def test_spectral_norm_keeps_the_largest_singular_value_at_one() -> None:
    """After training steps move the weights, a few power iterations (one per training-mode
    forward pass) bring every layer's largest singular value back to ≈ 1."""
    torch.manual_seed(3)
    d = backbone("dsprites", spectral_norm=True).discriminator(Q_DIM)
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    x = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(4))
    for _ in range(5):
        logits, q = d(x)
        (logits.mean() + q.square().mean()).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    raw = [
        torch.linalg.matrix_norm(m.parametrizations.weight.original.detach().flatten(1), 2).item()
        for m in weighted(d)
    ]
    assert max(raw) > 1.5  # without the normalisation the layers would be far from 1
    with torch.no_grad():
        for _ in range(3):
            d(x)
    for m in weighted(d):
        assert largest_singular_value(m) == pytest.approx(1.0, abs=1e-2), repr(m)


def test_spectral_norm_state_saves_and_loads_through_a_checkpoint(tmp_path: Path) -> None:
    """The parametrized weights and the power iteration's u and v go through safetensors and
    load into a freshly built D: the same outputs, in eval and in training mode."""
    torch.manual_seed(5)
    bb = backbone("dsprites", spectral_norm=True)
    d = bb.discriminator(Q_DIM)
    x = torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        d(x)  # move u and v away from their initial values
    state = d.state_dict()
    assert any(k.endswith("parametrizations.weight.original") for k in state)
    assert any(k.endswith("parametrizations.weight.0._u") for k in state)
    sidecar = save_checkpoint(tmp_path, 1, {"discriminator": state}, {"recipe": {}})
    loaded, _ = load_checkpoint(sidecar)
    torch.manual_seed(7)
    other = bb.discriminator(Q_DIM)
    other.load_state_dict(loaded["discriminator"])
    for k, v in d.state_dict().items():
        assert torch.equal(v, other.state_dict()[k]), k
    with torch.no_grad():
        for mode in (False, True):
            d.train(mode)
            other.train(mode)
            for a, b in zip(d(x), other(x), strict=True):
                assert torch.equal(a, b)


def test_the_cr_discriminator_matches_their_code() -> None:
    """Their CrDiscriminator (gan/network.py): D's trunk on the two images stacked on the
    channel axis, spectral norm on every layer but the last, a linear layer to one logit per
    regularised code; no batch norm."""
    net = backbone("dsprites", spectral_norm=True).pair_discriminator(Q_DIM)
    found = [(str(x[0]).removeprefix("Parametrized"), *x[1:]) for x in layers(net)]
    trunk = network(1.0)["trunk"]
    assert found == [(*trunk[0][:1], 2, *trunk[0][2:]), *trunk[1:], ("Linear", 128, Q_DIM, True)]
    weighted = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert [parametrize.is_parametrized(m, "weight") for m in weighted] == [True] * 5 + [False]
    assert net(torch.rand(3, 2, 64, 64)).shape == (3, Q_DIM)
