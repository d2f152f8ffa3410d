"""The "svhn", "celeba", "faces" and "chairs" backbones against InfoGAN's Tables 2, 3, 4 and 6."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import torch
from disentangle_dcgan import layers as dcgan_layers
from torch import nn
from torch.nn.utils import parametrize

from disentangle import Backbone, Discriminator
from disentangle.plugins import host

# chairs' stride-1 4×4 convs pad "same" asymmetrically (1 before, 2 after), as intended
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")

SLOPE = 0.1
NAMES = ("svhn", "celeba", "faces", "chairs")
# the paper's codes (Appendix C): noise + codes; Q: logits per Cat(k), mean and log-std per U
LATENT = {
    "svhn": 124 + 4 * 10 + 4,
    "celeba": 128 + 10 * 10,
    "faces": 128 + 5,
    "chairs": 128 + 3 * 20 + 1,
}
Q_DIM = {"svhn": 4 * 10 + 4 * 2, "celeba": 10 * 10, "faces": 5 * 2, "chairs": 3 * 20 + 1 * 2}
IMAGE_SHAPE = {
    "svhn": (3, 32, 32),
    "celeba": (3, 32, 32),
    "faces": (1, 32, 32),
    "chairs": (1, 64, 64),
}
OUTPUT = {"svhn": "Tanh", "celeba": "Tanh", "faces": "Sigmoid", "chairs": "Sigmoid"}
RANGE = {"Tanh": (-1.0, 1.0), "Sigmoid": (0.0, 1.0)}

Layer = tuple[Any, ...]
Channels = Callable[[int], int]


def backbone(name: str, **params: Any) -> Backbone:
    spec = host.backbones.get(name).spec_model()(type=name, **params)
    return host.backbones.build(spec)


@cache
def paper(name: str) -> tuple[Backbone, nn.Module, Discriminator]:
    """The network at the paper's width (built once: chairs has ~40M parameters)."""
    torch.manual_seed(0)
    bb = backbone(name)
    return bb, bb.generator(LATENT[name]), bb.discriminator(Q_DIM[name])


def layers(module: nn.Module) -> list[Layer]:
    """The compute layers in order, with what the tables fix about each (reshapes left out)."""
    out: list[Layer] = []
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
        elif isinstance(m, nn.ReLU | nn.Sigmoid | nn.Tanh):
            out.append((type(m).__name__,))
    return out


# What the tables list, as `layers` reports it. BN layers follow bias-free layers.
def conv(c_in: int, c_out: int, stride: int = 2, bn: bool = True) -> list[Layer]:
    """D's 4×4 conv: stride 2 halves the size, stride 1 keeps it ("same")."""
    pad = (1, 1) if stride == 2 else "same"
    layer = ("Conv2d", c_in, c_out, (4, 4), (stride, stride), pad, not bn)
    return [layer, *([("BatchNorm2d", c_out)] if bn else []), ("LeakyReLU", SLOPE)]


def upconv(c_in: int, c_out: int, stride: int = 2, bn: bool = True) -> list[Layer]:
    """G's 4×4 upconv: stride 2 doubles the size; stride 1 is a "same" 4×4 conv."""
    if stride == 2:
        layer = ("ConvTranspose2d", c_in, c_out, (4, 4), (2, 2), (1, 1), not bn)
    else:
        layer = ("Conv2d", c_in, c_out, (4, 4), (1, 1), "same", not bn)
    return [layer, *([("BatchNorm2d", c_out)] if bn else []), ("ReLU",)]


def image_upconv(c_in: int, c_out: int, output: str) -> list[Layer]:
    return [("ConvTranspose2d", c_in, c_out, (4, 4), (2, 2), (1, 1), True), (output,)]


def fc(n_in: int, n_out: int, activation: Layer) -> list[Layer]:
    return [("Linear", n_in, n_out, False), ("BatchNorm1d", n_out), activation]


def q_head(n_in: int, hidden: int, q_dim: int) -> list[Layer]:
    return [*fc(n_in, hidden, ("LeakyReLU", SLOPE)), ("Linear", hidden, q_dim, True)]


def table(name: str, ch: Channels) -> dict[str, list[Layer]]:
    """G, D's trunk, D's head and Q's head of a table; `ch` scales a channel count."""
    latent, q_dim, out = LATENT[name], Q_DIM[name], OUTPUT[name]
    if name in ("svhn", "celeba"):  # Tables 2 and 3
        return {
            "g": [
                *fc(latent, 2 * 2 * ch(448), ("ReLU",)),
                *upconv(ch(448), ch(256)),
                *upconv(ch(256), ch(128), bn=False),
                *upconv(ch(128), ch(64), bn=False),
                *image_upconv(ch(64), 3, out),
            ],
            "trunk": [*conv(3, ch(64), bn=False), *conv(ch(64), ch(128)), *conv(ch(128), ch(256))],
            "d_head": [("Linear", 4 * 4 * ch(256), 1, True)],
            "q_head": q_head(4 * 4 * ch(256), ch(128), q_dim),
        }
    if name == "faces":  # Table 4
        return {
            "g": [
                *fc(latent, ch(1024), ("ReLU",)),
                *fc(ch(1024), 8 * 8 * ch(128), ("ReLU",)),
                *upconv(ch(128), ch(64)),
                *image_upconv(ch(64), 1, out),
            ],
            "trunk": [
                *conv(1, ch(64), bn=False),
                *conv(ch(64), ch(128)),
                *fc(8 * 8 * ch(128), ch(1024), ("LeakyReLU", SLOPE)),
            ],
            "d_head": [("Linear", ch(1024), 1, True)],
            "q_head": q_head(ch(1024), ch(128), q_dim),
        }
    assert name == "chairs"  # Table 6
    return {
        "g": [
            *fc(latent, ch(1024), ("ReLU",)),
            *fc(ch(1024), 8 * 8 * ch(256), ("ReLU",)),
            *upconv(ch(256), ch(256), stride=1),
            *upconv(ch(256), ch(256), stride=1),
            *upconv(ch(256), ch(128)),
            *upconv(ch(128), ch(64)),
            *image_upconv(ch(64), 1, out),
        ],
        "trunk": [
            *conv(1, ch(64), bn=False),
            *conv(ch(64), ch(128)),
            *conv(ch(128), ch(256)),
            *conv(ch(256), ch(256), stride=1),
            *conv(ch(256), ch(256), stride=1),
            *fc(8 * 8 * ch(256), ch(1024), ("LeakyReLU", SLOPE)),
        ],
        "d_head": [("Linear", ch(1024), 1, True)],
        "q_head": q_head(ch(1024), ch(128), q_dim),
    }


def parts(g: nn.Module, d: Discriminator) -> dict[str, nn.Module]:
    return {"g": g, "trunk": d.trunk, "d_head": d.d_head, "q_head": d.q_head}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_param_counts(
    g: nn.Module, d: Discriminator, *, generator: int, trunk: int, d_head: int, q_head: int
) -> None:
    """G, D's trunk, D's head and Q's head hold exactly the parameters their layer lists give."""
    assert n_params(g) == generator
    assert n_params(d.trunk) == trunk
    assert n_params(d.d_head) == d_head
    assert n_params(d.q_head) == q_head
    assert n_params(d) == trunk + d_head + q_head


def latents(name: str, n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, LATENT[name], generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", NAMES)
def test_registered_shape_and_range(name: str) -> None:
    bb = backbone(name)
    assert tuple(bb.image_shape) == IMAGE_SHAPE[name]
    assert tuple(bb.output_range) == RANGE[OUTPUT[name]]
    other = "sigmoid" if OUTPUT[name] == "Tanh" else "tanh"
    assert tuple(backbone(name, output=other).output_range) == RANGE[other.capitalize()]


@pytest.mark.parametrize("name", NAMES)
def test_layers_match_the_table(name: str) -> None:
    _, g, d = paper(name)
    assert isinstance(d, Discriminator)
    expected = table(name, lambda c: c)
    for part, module in parts(g, d).items():
        assert layers(module) == expected[part], part


@pytest.mark.parametrize("name", ["svhn", "celeba"])
def test_svhn_parameter_counts(name: str) -> None:
    _, g, d = paper(name)
    latent, q, bn = LATENT[name], Q_DIM[name], 2  # γ and β per channel
    g_expected = (
        latent * 2 * 2 * 448 + bn * 2 * 2 * 448  # FC 2·2·448 (no bias before BN) + BN
        + 448 * 256 * 4 * 4 + bn * 256  # upconv256 + BN
        + 256 * 128 * 4 * 4 + 128  # upconv128 with bias, no BN
        + 128 * 64 * 4 * 4 + 64  # upconv64 with bias, no BN
        + 64 * 3 * 4 * 4 + 3  # upconv3 with bias
    )  # fmt: skip
    trunk_expected = (
        3 * 64 * 4 * 4 + 64  # conv64 with bias, no BN
        + 64 * 128 * 4 * 4 + bn * 128  # conv128 + BN
        + 128 * 256 * 4 * 4 + bn * 256  # conv256 + BN
    )  # fmt: skip
    d_head_expected = 4 * 4 * 256 + 1
    q_head_expected = 4 * 4 * 256 * 128 + bn * 128 + 128 * q + q
    assert_param_counts(
        g,
        d,
        generator=g_expected,
        trunk=trunk_expected,
        d_head=d_head_expected,
        q_head=q_head_expected,
    )


def test_faces_parameter_counts() -> None:
    _, g, d = paper("faces")
    latent, q, bn = LATENT["faces"], Q_DIM["faces"], 2
    g_expected = (
        latent * 1024 + bn * 1024  # FC1024 + BN
        + 1024 * 8 * 8 * 128 + bn * 8 * 8 * 128  # FC 8·8·128 + BN
        + 128 * 64 * 4 * 4 + bn * 64  # upconv64 + BN
        + 64 * 1 * 4 * 4 + 1  # upconv1 with bias
    )  # fmt: skip
    trunk_expected = (
        1 * 64 * 4 * 4 + 64  # conv64 with bias, no BN
        + 64 * 128 * 4 * 4 + bn * 128  # conv128 + BN
        + 8 * 8 * 128 * 1024 + bn * 1024  # FC1024 + BN
    )  # fmt: skip
    d_head_expected = 1024 + 1
    q_head_expected = 1024 * 128 + bn * 128 + 128 * q + q
    assert_param_counts(
        g,
        d,
        generator=g_expected,
        trunk=trunk_expected,
        d_head=d_head_expected,
        q_head=q_head_expected,
    )


def test_chairs_parameter_counts() -> None:
    _, g, d = paper("chairs")
    latent, q, bn = LATENT["chairs"], Q_DIM["chairs"], 2
    g_expected = (
        latent * 1024 + bn * 1024  # FC1024 + BN
        + 1024 * 8 * 8 * 256 + bn * 8 * 8 * 256  # FC 8·8·256 + BN
        + 256 * 256 * 4 * 4 + bn * 256  # upconv256 (stride 1) + BN
        + 256 * 256 * 4 * 4 + bn * 256  # upconv256 (stride 1) + BN
        + 256 * 128 * 4 * 4 + bn * 128  # upconv128 + BN
        + 128 * 64 * 4 * 4 + bn * 64  # upconv64 + BN
        + 64 * 1 * 4 * 4 + 1  # upconv1 with bias
    )  # fmt: skip
    trunk_expected = (
        1 * 64 * 4 * 4 + 64  # conv64 with bias, no BN
        + 64 * 128 * 4 * 4 + bn * 128  # conv128 + BN
        + 128 * 256 * 4 * 4 + bn * 256  # conv256 + BN
        + 256 * 256 * 4 * 4 + bn * 256  # conv256 (stride 1) + BN
        + 256 * 256 * 4 * 4 + bn * 256  # conv256 (stride 1) + BN
        + 8 * 8 * 256 * 1024 + bn * 1024  # FC1024 + BN
    )  # fmt: skip
    d_head_expected = 1024 + 1
    q_head_expected = 1024 * 128 + bn * 128 + 128 * q + q
    assert_param_counts(
        g,
        d,
        generator=g_expected,
        trunk=trunk_expected,
        d_head=d_head_expected,
        q_head=q_head_expected,
    )


# spatial size after each (up)conv: G from its first feature map, D from the image
SIZES = {
    "svhn": ([4, 8, 16, 32], [16, 8, 4]),
    "celeba": ([4, 8, 16, 32], [16, 8, 4]),
    "faces": ([16, 32], [16, 8]),
    "chairs": ([8, 8, 16, 32, 64], [32, 16, 8, 8, 8]),
}


@pytest.mark.parametrize("name", NAMES)
def test_forward_shapes_sizes_and_output(name: str) -> None:
    _, g, d = paper(name)
    n, sizes = 2, {"g": [], "d": []}
    hooks = [
        m.register_forward_hook(lambda m, i, o, net=net: sizes[net].append(o.shape[-1]))
        for net, module in (("g", g), ("d", d))
        for m in module.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    try:
        with torch.no_grad():
            x = g(latents(name, n))
            logits, q = d(x)
    finally:
        for h in hooks:
            h.remove()
    assert (sizes["g"], sizes["d"]) == SIZES[name]
    assert x.shape == (n, *IMAGE_SHAPE[name])
    assert type(list(g.modules())[-1]).__name__ == OUTPUT[name]
    low, high = RANGE[OUTPUT[name]]
    assert (x >= low).all() and (x <= high).all()
    assert logits.shape == (n,)
    assert q.shape == (n, Q_DIM[name])


def test_tanh_output_reaches_below_zero() -> None:
    _, g, _ = paper("svhn")
    with torch.no_grad():
        assert (g(latents("svhn", 4)) < 0).any()  # a sigmoid could never give this


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward(name: str) -> None:
    _, g, d = paper(name)
    g.zero_grad(set_to_none=True)
    d.zero_grad(set_to_none=True)
    try:
        logits, q = d(g(latents(name, 4, seed=2)))
        (logits.mean() + q.square().mean()).backward()
        for net in (g, d):
            for pname, p in net.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), pname
                assert p.grad.abs().sum() > 0, pname
    finally:
        g.zero_grad(set_to_none=True)
        d.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", NAMES)
def test_width_scales_channels(name: str) -> None:
    torch.manual_seed(0)
    bb = backbone(name, width=0.25)
    g, d = bb.generator(LATENT[name]), bb.discriminator(Q_DIM[name])
    expected = table(name, lambda c: c // 4)
    for part, module in parts(g, d).items():
        assert layers(module) == expected[part], part
    logits, q = d(g(latents(name, 3)))
    assert (logits.shape, q.shape) == ((3,), (3, Q_DIM[name]))


def test_celeba_is_the_svhn_network() -> None:
    svhn, celeba = paper("svhn")[0], paper("celeba")[0]
    assert (svhn.image_shape, svhn.output_range) == (celeba.image_shape, celeba.output_range)
    torch.manual_seed(0)
    same = celeba.generator(LATENT["svhn"]), celeba.discriminator(Q_DIM["svhn"])
    for net, ref in zip(same, paper("svhn")[1:], strict=True):
        assert layers(net) == layers(ref)
        assert n_params(net) == n_params(ref)


@pytest.mark.parametrize("name", NAMES)
def test_leaky_slope_param(name: str) -> None:
    d = backbone(name, width=0.25, leaky_slope=0.2).discriminator(Q_DIM[name])
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def assert_normal(values: torch.Tensor, mean: float, std: float, what: str) -> None:
    """Sample mean and std of N(mean, std²) draws, within 5 standard errors."""
    v = values.detach().flatten().double()
    n = v.numel()
    assert abs(v.mean().item() - mean) < 5 * std / math.sqrt(n), what
    assert abs(v.std().item() - std) < 5 * std / math.sqrt(2 * (n - 1)), what


@pytest.mark.parametrize("name", NAMES)
def test_initialisation(name: str) -> None:
    for net in paper(name)[1:]:
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                assert_normal(m.weight, 0.0, 0.02, repr(m))
                if m.bias is not None:
                    assert torch.equal(m.bias, torch.zeros_like(m.bias)), repr(m)
            elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                assert_normal(m.weight, 1.0, 0.02, repr(m))
                assert torch.equal(m.bias, torch.zeros_like(m.bias)), repr(m)


@pytest.mark.parametrize("bn", [True, False])
def test_stride_one_layers_keep_the_size(bn: bool) -> None:
    x = torch.randn(2, 8, 8, 8)
    up = nn.Sequential(*dcgan_layers.upconv(8, 4, bn=bn, stride=1))
    down = nn.Sequential(*dcgan_layers.conv(8, 4, SLOPE, bn=bn, stride=1))
    assert up(x).shape == down(x).shape == (2, 4, 8, 8)


@pytest.mark.parametrize("name", ("mnist", *NAMES))
def test_spectral_norm_param_normalises_every_layer_of_d_and_q_only(name: str) -> None:
    latent, q_dim = LATENT.get(name, 74), Q_DIM.get(name, 12)
    plain = backbone(name, width=0.25)
    assert plain.spec.spectral_norm is False  # the paper's networks have none
    assert not any(parametrize.is_parametrized(m) for m in plain.discriminator(q_dim).modules())
    normed = backbone(name, width=0.25, spectral_norm=True)
    d, g = normed.discriminator(q_dim), normed.generator(latent)
    weighted = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)
    assert not any(parametrize.is_parametrized(m) for m in g.modules())
    d.train()
    for _ in range(20):  # power iterations converge on the largest singular value
        d(torch.rand(2, *normed.image_shape))
    with torch.no_grad():
        norms = [torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item() for m in weighted]
    assert norms == pytest.approx([1.0] * len(weighted), rel=0.05)
