"""dSprites architecture (InfoGAN-CR, Lin et al. ICML 2020): a small 64×64 gray network.

This follows InfoGAN-CR's dSprites network as described in their paper; we could not check it
against their code here.
"""

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


class DspritesParams(DcganParams):
    output: Output = Field("sigmoid", description="G's output activation (binary images: sigmoid)")


class DspritesBackbone(Backbone):
    """D/Q: conv32 s2 → conv32 s2 BN → conv64 s2 BN → conv64 s2 BN → FC128 BN; G: FC128 BN →
    FC 4·4·64 BN → upconv64 s2 BN → upconv32 s2 BN → upconv32 s2 BN → upconv1 s2."""

    image_shape = (1, 64, 64)

    def __init__(self, spec: DspritesParams) -> None:
        self.spec = spec
        self.output_range = OUTPUT_RANGE[spec.output]
        w = spec.width
        self.c1, self.c2, self.hidden, self.q_hidden = (
            scaled(32, w),
            scaled(64, w),
            scaled(128, w),
            scaled(128, w),
        )

    def generator(self, latent_dim: int) -> nn.Module:
        return init_weights(
            nn.Sequential(
                *fc(latent_dim, self.hidden, nn.ReLU()),
                *fc(self.hidden, 4 * 4 * self.c2, nn.ReLU()),
                nn.Unflatten(1, (self.c2, 4, 4)),
                *upconv(self.c2, self.c2, bn=True),
                *upconv(self.c2, self.c1, bn=True),
                *upconv(self.c1, self.c1, bn=True),
                *image_out(self.c1, 1, self.spec.output),
            )
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        slope = self.spec.leaky_slope
        trunk = nn.Sequential(
            *conv(1, self.c1, slope, bn=False),
            *conv(self.c1, self.c1, slope, bn=True),
            *conv(self.c1, self.c2, slope, bn=True),
            *conv(self.c2, self.c2, slope, bn=True),
            nn.Flatten(),
            *fc(4 * 4 * self.c2, self.hidden, nn.LeakyReLU(slope)),
        )
        return with_heads(trunk, self.hidden, self.q_hidden, q_dim, slope)
