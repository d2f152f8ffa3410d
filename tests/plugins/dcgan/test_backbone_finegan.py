"""The "finegan" backbone against FineGAN's code/model.py: its single-stage G (INIT_STAGE_G +
GET_IMAGE_G) and its code-predicting D (D_NET for stage > 0), layer by layer."""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from disentangle import Backbone, Discriminator
from disentangle.plugins import host

LATENT, Q_DIM = 100 + 200, 200  # CUB's recipe: 100 noise dims and a Cat(200) code
Layer = tuple[Any, ...]


def backbone(**params: Any) -> Backbone:
    spec = host.backbones.get("finegan").spec_model()(type="finegan", **params)
    return host.backbones.build(spec)


@cache
def full_width() -> tuple[nn.Module, Discriminator]:
    torch.manual_seed(0)
    bb = backbone()
    return bb.generator(LATENT), bb.discriminator(Q_DIM)


def layers(module: nn.Module) -> list[Layer]:
    out: list[Layer] = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            size = (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
            out.append(("Conv2d", *size, m.bias is not None))
        elif isinstance(m, nn.Linear):
            out.append(("Linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            out.append(("BN", m.num_features))
        elif isinstance(m, nn.LeakyReLU):
            out.append(("LeakyReLU", m.negative_slope))
        elif isinstance(m, nn.Upsample):
            out.append(("Upsample", m.scale_factor, m.mode))
        elif isinstance(m, nn.GLU):  # a[:, :half] * sigmoid(a[:, half:]), as their GLU
            out.append(("GLU", m.dim))
        elif isinstance(m, nn.Tanh):
            out.append(("Tanh",))
    return out


def up_block(c_in: int, c_out: int) -> list[Layer]:
    """Their upBlock: nearest ×2, conv3x3 to 2·c_out without bias, BN, GLU."""
    conv = ("Conv2d", c_in, 2 * c_out, 3, 1, 1, False)
    return [("Upsample", 2.0, "nearest"), conv, ("BN", 2 * c_out), ("GLU", 1)]


def down_block(c_in: int, c_out: int, bn: bool = True) -> list[Layer]:
    norm = [("BN", c_out)] if bn else []
    return [("Conv2d", c_in, c_out, 4, 2, 1, False), *norm, ("LeakyReLU", 0.2)]


def block3x3(c_in: int, c_out: int) -> list[Layer]:
    """Their Block3x3_leakRelu."""
    return [("Conv2d", c_in, c_out, 3, 1, 1, False), ("BN", c_out), ("LeakyReLU", 0.2)]


def test_generator_is_finegans_first_stage() -> None:
    g, _ = full_width()
    ngf = 64 * 16  # INIT_STAGE_G(gf_dim * 16)
    expected = [
        ("Linear", LATENT, ngf * 4 * 4 * 2, False),
        ("BN", ngf * 4 * 4 * 2),
        ("GLU", 1),
        *up_block(ngf, ngf // 2),
        *up_block(ngf // 2, ngf // 4),
        *up_block(ngf // 4, ngf // 8),
        *up_block(ngf // 8, ngf // 16),
        *up_block(ngf // 16, ngf // 16),
        ("Conv2d", 64, 3, 3, 1, 1, False),  # GET_IMAGE_G
        ("Tanh",),
    ]
    assert layers(g) == expected


def test_discriminator_is_finegans_code_predicting_d() -> None:
    _, d = full_width()
    ndf = 64
    assert layers(d.trunk) == [
        *down_block(3, ndf, bn=False),  # encode_parent_and_child_img
        *down_block(ndf, ndf * 2),
        *down_block(ndf * 2, ndf * 4),
        *down_block(ndf * 4, ndf * 8),
        *down_block(ndf * 8, ndf * 16),  # img_code_s32
        *block3x3(ndf * 16, ndf * 8),  # img_code_s32_1
    ]
    assert layers(d.d_head) == [("Conv2d", ndf * 8, 1, 4, 4, 0, True)]  # uncond_logits
    assert layers(d.q_head) == [  # jointConv, logits
        *block3x3(ndf * 8, ndf * 8),
        ("Conv2d", ndf * 8, Q_DIM, 4, 4, 0, True),
    ]


def test_weights_are_orthogonal_and_batch_norm_near_one() -> None:
    g, d = full_width()
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                w = m.weight.detach().flatten(1)
                small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
                assert torch.allclose(small, torch.eye(len(small)), atol=1e-4)
            elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
                assert (m.weight - 1).abs().max() < 0.15 and not m.bias.any()


def test_sizes_shapes_and_output_range() -> None:
    torch.manual_seed(0)
    bb = backbone(width=0.125)
    g, d = bb.generator(LATENT), bb.discriminator(Q_DIM)
    sizes: dict[str, list[int]] = {"g": [], "d": []}
    hooks = [
        m.register_forward_hook(lambda m, i, o, net=net: sizes[net].append(o.shape[-1]))
        for net, module in (("g", g), ("d", d.trunk))
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        x = g(torch.randn(3, LATENT))
        logits, q = d(x)
    for h in hooks:
        h.remove()
    assert sizes == {"g": [8, 16, 32, 64, 128, 128], "d": [64, 32, 16, 8, 4, 4]}
    assert x.shape == (3, 3, 128, 128) and bb.image_shape == (3, 128, 128)
    assert x.min() >= -1 and x.max() <= 1 and (x < 0).any()
    assert logits.shape == (3,) and q.shape == (3, Q_DIM)


def test_a_plain_gan_has_no_q_and_spectral_norm_covers_d() -> None:
    bb = backbone(width=0.125, spectral_norm=True)
    d = bb.discriminator(0)
    assert not list(d.q_head.parameters())
    weighted = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)
    logits, _ = d(torch.zeros(2, 3, 128, 128))
    assert logits.shape == (2,)
