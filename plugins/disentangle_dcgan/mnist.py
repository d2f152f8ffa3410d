"""MNIST architecture (InfoGAN Table 1): 28×28 gray."""

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
    fc,
    image_out,
    init_weights,
    pair_network,
    scaled,
    upconv,
    with_heads,
)


class MnistParams(DcganParams):
    output: Output = Field(
        "sigmoid", description="G's output activation (the original code: sigmoid, data in [0, 1])"
    )
    projection_bn: Literal["feature", "channel"] = Field(
        "feature",
        description="batch norm after G's FC to its 128-channel map (7·7·128 on MNIST): per "
        "feature, as the original code (a batch norm on the flat layer), or per channel over "
        "the positions, as Natsu6767/InfoGAN-PyTorch (a 7×7 transposed conv, which is that FC, "
        "then BatchNorm2d)",
    )


class MnistBackbone(Backbone):
    """D/Q: conv64 s2 → conv128 s2 BN → FC1024 BN; G: FC1024 BN → FC 7·7·128 BN → upconv64 s2
    BN → upconv1 s2."""

    image_shape = (1, 28, 28)

    def __init__(self, spec: MnistParams) -> None:
        self.spec = spec
        self.output_range = OUTPUT_RANGE[spec.output]
        self.side = self.image_shape[1] // 4  # two stride-2 layers each way
        w = spec.width
        self.c1, self.c2, self.hidden, self.q_hidden = (
            scaled(64, w),
            scaled(128, w),
            scaled(1024, w),
            scaled(128, w),
        )

    def generator(self, latent_dim: int) -> nn.Module:
        return init_weights(
            nn.Sequential(
                *fc(latent_dim, self.hidden, nn.ReLU()),
                *self._projection(),
                *upconv(self.c2, self.c1, bn=True),
                *image_out(self.c1, 1, self.spec.output),
            )
        )

    def _projection(self) -> list[nn.Module]:
        """G's FC from the hidden layer to the c2 × side × side map, batch norm and ReLU."""
        shape = (self.c2, self.side, self.side)
        if self.spec.projection_bn == "feature":
            return [*fc(self.hidden, self.c2 * self.side**2, nn.ReLU()), nn.Unflatten(1, shape)]
        return [
            nn.Linear(self.hidden, self.c2 * self.side**2, bias=False),
            nn.Unflatten(1, shape),
            nn.BatchNorm2d(self.c2),
            nn.ReLU(),
        ]

    def _trunk(self, channels: int) -> nn.Sequential:
        slope = self.spec.leaky_slope
        return nn.Sequential(
            *conv(channels, self.c1, slope, bn=False),
            *conv(self.c1, self.c2, slope, bn=True),
            nn.Flatten(),
            *fc(self.side * self.side * self.c2, self.hidden, nn.LeakyReLU(slope)),
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        trunk = self._trunk(self.image_shape[0])
        return with_heads(trunk, self.hidden, self.q_hidden, q_dim, self.spec)

    def pair_discriminator(self, outputs: int) -> nn.Module:
        """D's trunk on two channel-stacked images, then a linear layer to `outputs` logits
        (spectrally normalised but for that last layer, if the spec asks)."""
        trunk = self._trunk(2 * self.image_shape[0])
        return pair_network(trunk, self.hidden, outputs, self.spec.spectral_norm, init_weights)
