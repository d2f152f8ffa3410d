"""SVHN architecture (InfoGAN Table 2): 32×32 colour."""

from __future__ import annotations

from pydantic import Field
from torch import nn

from disentangle import Backbone, Discriminator
from disentangle_dcgan.layers import (
    OUTPUT_RANGE,
    DcganParams,
    Output,
    conv,
    fc,
    image_out,
    init_weights,
    scaled,
    upconv,
    with_heads,
)


class SvhnParams(DcganParams):
    output: Output = Field("tanh", description="G's output activation (the paper: tanh)")


class SvhnBackbone(Backbone):
    """D/Q: conv64 s2 → conv128 s2 BN → conv256 s2 BN; G: FC 2·2·448 BN → upconv256 s2 BN →
    upconv128 s2 → upconv64 s2 → upconv3 s2."""

    image_shape = (3, 32, 32)

    def __init__(self, spec: SvhnParams) -> None:
        self.spec = spec
        self.output_range = OUTPUT_RANGE[spec.output]
        w = spec.width
        self.c1, self.c2, self.c3, self.g0, self.q_hidden = (
            scaled(64, w),
            scaled(128, w),
            scaled(256, w),
            scaled(448, w),
            scaled(128, w),
        )

    def generator(self, latent_dim: int) -> nn.Module:
        return init_weights(
            nn.Sequential(
                *fc(latent_dim, 2 * 2 * self.g0, nn.ReLU()),
                nn.Unflatten(1, (self.g0, 2, 2)),
                *upconv(self.g0, self.c3, bn=True),
                *upconv(self.c3, self.c2, bn=False),
                *upconv(self.c2, self.c1, bn=False),
                *image_out(self.c1, 3, self.spec.output),
            )
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        slope = self.spec.leaky_slope
        features = 4 * 4 * self.c3
        trunk = nn.Sequential(
            *conv(3, self.c1, slope, bn=False),
            *conv(self.c1, self.c2, slope, bn=True),
            *conv(self.c2, self.c3, slope, bn=True),
            nn.Flatten(),
        )
        return with_heads(trunk, features, self.q_hidden, q_dim, self.spec)
