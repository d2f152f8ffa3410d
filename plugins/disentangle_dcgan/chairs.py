"""3D Chairs architecture (InfoGAN Table 6): 64×64 gray, with stride-1 layers at 8×8.

The stride-1 "upconv" layers of G are 4×4 convolutions with padding "same": a stride-1
transposed conv is mathematically a plain convolution, and a 4×4 transposed conv with stride 1
cannot keep the size with symmetric padding. D's stride-1 convs are the same kind of layer.
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


class ChairsParams(DcganParams):
    output: Output = Field("sigmoid", description="G's output activation (the paper: sigmoid)")


class ChairsBackbone(Backbone):
    """D/Q: conv64 s2 → conv128 s2 BN → conv256 s2 BN → conv256 BN → conv256 BN → FC1024 BN;
    G: FC1024 BN → FC 8·8·256 BN → upconv256 BN → upconv256 BN → upconv128 s2 BN → upconv64 s2
    BN → upconv1 s2."""

    image_shape = (1, 64, 64)

    def __init__(self, spec: ChairsParams) -> None:
        self.spec = spec
        self.output_range = OUTPUT_RANGE[spec.output]
        w = spec.width
        self.c1, self.c2, self.c3, self.hidden, self.q_hidden = (
            scaled(64, w),
            scaled(128, w),
            scaled(256, w),
            scaled(1024, w),
            scaled(128, w),
        )

    def generator(self, latent_dim: int) -> nn.Module:
        return init_weights(
            nn.Sequential(
                *fc(latent_dim, self.hidden, nn.ReLU()),
                *fc(self.hidden, 8 * 8 * self.c3, nn.ReLU()),
                nn.Unflatten(1, (self.c3, 8, 8)),
                *upconv(self.c3, self.c3, bn=True, stride=1),
                *upconv(self.c3, self.c3, bn=True, stride=1),
                *upconv(self.c3, self.c2, bn=True),
                *upconv(self.c2, self.c1, bn=True),
                *image_out(self.c1, 1, self.spec.output),
            )
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        slope = self.spec.leaky_slope
        trunk = nn.Sequential(
            *conv(1, self.c1, slope, bn=False),
            *conv(self.c1, self.c2, slope, bn=True),
            *conv(self.c2, self.c3, slope, bn=True),
            *conv(self.c3, self.c3, slope, bn=True, stride=1),
            *conv(self.c3, self.c3, slope, bn=True, stride=1),
            nn.Flatten(),
            *fc(8 * 8 * self.c3, self.hidden, nn.LeakyReLU(slope)),
        )
        return with_heads(trunk, self.hidden, self.q_hidden, q_dim, self.spec)
