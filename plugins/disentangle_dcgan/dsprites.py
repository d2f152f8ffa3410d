"""dSprites architecture (InfoGAN-CR, Lin et al. ICML 2020): a small 64×64 gray network.

The layer lists follow InfoGAN-CR's code (fjxmlzn/InfoGAN-CR, InfoGAN-CR_dSprites/gan/network.py
and gan/op.py; docs/dsprites-fidelity.md compares every setting):

- G: FC128 → ReLU → BN, FC 4·4·64 → ReLU → BN, three 4×4 stride-2 upconvs (64, 32, 32), each
  → leaky ReLU → BN, then a 4×4 stride-2 upconv to 1 channel → sigmoid. The activation comes
  before batch norm, and every layer keeps its bias.
- D/Q: four 4×4 stride-2 convs (32, 32, 64, 64) → leaky ReLU, FC128 → leaky ReLU; no batch norm
  anywhere. D's head is one linear unit; Q's head (on the same trunk) is FC128 → leaky ReLU →
  FC out. With `spectral_norm`, every weight of D and Q (the trunk and both heads) is spectrally
  normalised; G never is.
- Initialisation: conv weights from a normal truncated at 2σ, other weights N(0, 0.02), biases
  0, batch norm γ = 1 and β = 0; leaky-ReLU slope 0.2 in G and D.

`channels = 3` makes G draw and D/Q read RGB images (disentanglement_lib's color, noisy and
scream dSprites); everything else stays as theirs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from disentangle import Backbone, Discriminator
from disentangle_dcgan.layers import (
    OUTPUT_RANGE,
    DcganParams,
    Output,
    conv,
    image_out,
    pair_network,
    scaled,
    spectrally_normed,
)

STD = 0.02


class DspritesParams(DcganParams):
    output: Output = Field("sigmoid", description="G's output activation (binary images: sigmoid)")
    leaky_slope: float = Field(
        0.2, ge=0, lt=1, description="leaky-ReLU slope of G's upconvs and of D/Q (InfoGAN-CR: 0.2)"
    )
    spectral_norm: bool = Field(
        False,
        description="spectral normalisation on every conv and linear layer of D and Q, trunk "
        "and heads (InfoGAN-CR: true)",
    )
    channels: Literal[1, 3] = Field(
        1, description="image channels (dSprites 1; its color, noisy and scream variants 3)"
    )


def _upconv(c_in: int, c_out: int, slope: float) -> list[nn.Module]:
    """4×4 stride-2 upconv with bias (doubles the size), leaky ReLU, then batch norm."""
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(slope), nn.BatchNorm2d(c_out)]


def _fc(n_in: int, n_out: int, activation: nn.Module, bn: bool) -> list[nn.Module]:
    """Linear with bias, activation, then (in G) batch norm."""
    return [nn.Linear(n_in, n_out), activation, *([nn.BatchNorm1d(n_out)] if bn else [])]


def init_weights(module: nn.Module) -> nn.Module:
    """Convs: N(0, 0.02) truncated at ±2σ; upconvs and linears: N(0, 0.02); biases 0;
    batch norm γ = 1, β = 0."""
    for m in module.modules():
        if type(m) is nn.Conv2d:
            nn.init.trunc_normal_(m.weight, 0.0, STD, -2 * STD, 2 * STD)
        elif isinstance(m, nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, STD)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.ones_(m.weight)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


class DspritesBackbone(Backbone):
    """G: FC128 ReLU BN → FC 4·4·64 ReLU BN → upconv64 lReLU BN → upconv32 lReLU BN → upconv32
    lReLU BN → upconv1 sigmoid. D/Q: conv32 → conv32 → conv64 → conv64 (all stride 2, lReLU, no
    BN) → FC128 lReLU; D head FC1; Q head FC128 lReLU → FC out; optional spectral norm on D/Q."""

    image_shape = (1, 64, 64)

    def __init__(self, spec: DspritesParams) -> None:
        self.spec = spec
        self.image_shape = (spec.channels, 64, 64)
        self.output_range = OUTPUT_RANGE[spec.output]
        w = spec.width
        self.c1, self.c2, self.hidden, self.q_hidden = (
            scaled(32, w),
            scaled(64, w),
            scaled(128, w),
            scaled(128, w),
        )

    def generator(self, latent_dim: int) -> nn.Module:
        slope = self.spec.leaky_slope
        return init_weights(
            nn.Sequential(
                *_fc(latent_dim, self.hidden, nn.ReLU(), bn=True),
                *_fc(self.hidden, 4 * 4 * self.c2, nn.ReLU(), bn=True),
                nn.Unflatten(1, (self.c2, 4, 4)),
                *_upconv(self.c2, self.c2, slope),
                *_upconv(self.c2, self.c1, slope),
                *_upconv(self.c1, self.c1, slope),
                *image_out(self.c1, self.spec.channels, self.spec.output),
            )
        )

    def _trunk(self, channels: int) -> nn.Sequential:
        slope = self.spec.leaky_slope
        return nn.Sequential(
            *conv(channels, self.c1, slope, bn=False),
            *conv(self.c1, self.c1, slope, bn=False),
            *conv(self.c1, self.c2, slope, bn=False),
            *conv(self.c2, self.c2, slope, bn=False),
            nn.Flatten(),
            *_fc(4 * 4 * self.c2, self.hidden, nn.LeakyReLU(slope), bn=False),
        )

    def pair_discriminator(self, outputs: int) -> nn.Module:
        """InfoGAN-CR's CR discriminator (their CrDiscriminator, gan/network.py): D's trunk on
        two channel-stacked images, then a linear layer to `outputs` logits; spectral norm (if
        the spec asks) on every layer but that last one, as theirs."""
        trunk = self._trunk(2 * self.spec.channels)
        return pair_network(trunk, self.hidden, outputs, self.spec.spectral_norm, init_weights)

    def discriminator(self, q_dim: int) -> Discriminator:
        slope = self.spec.leaky_slope
        trunk = self._trunk(self.spec.channels)
        q_head = (
            nn.Sequential(
                *_fc(self.hidden, self.q_hidden, nn.LeakyReLU(slope), bn=False),
                nn.Linear(self.q_hidden, q_dim),
            )
            if q_dim
            else nn.Sequential()  # a plain GAN: no codes, no Q
        )
        d = init_weights(Discriminator(trunk, nn.Linear(self.hidden, 1), q_head))
        return spectrally_normed(d) if self.spec.spectral_norm else d
