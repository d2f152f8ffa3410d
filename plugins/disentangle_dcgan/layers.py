"""Building blocks shared by the paper's architectures, and its initialisation.

Every conv is 4×4. Stride 2 halves (conv) or doubles (upconv) the size with padding 1. A stride-1
layer keeps the size (3D Chairs, Table 6): a 4×4 transposed conv with stride 1 cannot do that with
symmetric padding, and a stride-1 transposed conv is mathematically a plain convolution, so both
conv and upconv use a 4×4 Conv2d with padding "same" there (PyTorch pads 1 before, 2 after).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from disentangle import Discriminator, Params
from disentangle.bounds import at_most

Output = Literal["tanh", "sigmoid"]
OUTPUT_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


class DcganParams(Params):
    width: Annotated[
        float, at_most(4, "every layer would be over 4× the paper's: it would not fit in memory")
    ] = Field(1.0, gt=0, description="multiplies every layer's width (1 = the paper)")
    leaky_slope: float = Field(0.1, ge=0, lt=1, description="leaky-ReLU slope of D (paper: 0.1)")
    spectral_norm: bool = Field(
        False,
        description="spectral normalisation on every conv and linear layer of D and Q, trunk "
        "and heads (not the paper's; InfoGAN-CR's)",
    )


def scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def conv(c_in: int, c_out: int, slope: float, bn: bool, stride: int = 2) -> list[nn.Module]:
    """4×4 conv (stride 2 halves the size, stride 1 keeps it), optional BN, leaky ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 4, stride, 1 if stride == 2 else "same", bias=not bn)
    ]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(slope))
    return layers


def upconv(c_in: int, c_out: int, bn: bool, stride: int = 2) -> list[nn.Module]:
    """4×4 upconv (stride 2 doubles the size, stride 1 keeps it), optional BN, ReLU."""
    if stride == 2:
        layer: nn.Module = nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not bn)
    else:
        layer = nn.Conv2d(c_in, c_out, 4, 1, "same", bias=not bn)
    return [layer, *([nn.BatchNorm2d(c_out)] if bn else []), nn.ReLU()]


def fc(n_in: int, n_out: int, activation: nn.Module) -> list[nn.Module]:
    """Linear without bias, batch norm, activation."""
    return [nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out), activation]


def q_head(n_in: int, hidden: int, q_dim: int, slope: float) -> nn.Sequential:
    """Q's head on D's trunk: FC → BN → lReLU → FC out (the original MNIST code).

    A plain GAN (no codes, `q_dim` 0) gets an empty head with no parameters.
    """
    if q_dim == 0:
        return nn.Sequential()
    return nn.Sequential(*fc(n_in, hidden, nn.LeakyReLU(slope)), nn.Linear(hidden, q_dim))


def output_activation(kind: Output) -> nn.Module:
    return nn.Tanh() if kind == "tanh" else nn.Sigmoid()


def image_out(c_in: int, channels: int, kind: Output) -> list[nn.Module]:
    """G's last layer: a 4×4 stride-2 transposed conv to the image's channels, then `kind`."""
    return [nn.ConvTranspose2d(c_in, channels, 4, 2, 1), output_activation(kind)]


def with_heads(
    trunk: nn.Module, features: int, q_hidden: int, q_dim: int, spec: DcganParams
) -> Discriminator:
    """D's logit head and Q's head on one trunk of `features` outputs, initialised, and
    spectrally normalised if `spec` asks."""
    heads = q_head(features, q_hidden, q_dim, spec.leaky_slope)
    d = init_weights(Discriminator(trunk, nn.Linear(features, 1), heads))
    return spectrally_normed(d) if spec.spectral_norm else d


def pair_network(
    trunk: nn.Module,
    features: int,
    outputs: int,
    spectral: bool,
    init: Callable[[nn.Module], nn.Module],
) -> nn.Sequential:
    """A trunk on two channel-stacked images, then a linear layer from its `features` to
    `outputs` logits, both initialised by `init`; spectral norm (if `spectral`) on the trunk
    only, as InfoGAN-CR's CR discriminator."""
    trunk = init(trunk)
    if spectral:
        spectrally_normed(trunk)
    return nn.Sequential(trunk, init(nn.Linear(features, outputs)))


def spectrally_normed(module: nn.Module) -> nn.Module:
    """Every conv and linear weight of `module` divided by its largest singular value, estimated
    by one power iteration per forward pass in training mode."""
    for m in list(module.modules()):
        if isinstance(m, nn.Conv2d | nn.Linear):
            spectral_norm(m)
    return module


def dcgan_normal(weight: torch.Tensor) -> None:
    nn.init.normal_(weight, 0.0, 0.02)


def init_weights(
    module: nn.Module, weight: Callable[[torch.Tensor], object] = dcgan_normal
) -> nn.Module:
    """Conv and linear weights drawn by `weight` (DCGAN's N(0, 0.02) by default), biases 0,
    batch-norm γ ~ N(1, 0.02) and β = 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            weight(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module
