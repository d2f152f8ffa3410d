"""disentanglement_lib's standard 64×64 convolutional encoder and decoder (its
`conv_encoder` and `deconv_decoder`, methods/shared/architectures.py; β-VAE paper, Table 1,
row 3), as a backbone.

- Encoder: 4×4 stride-2 convs with 32 and 32 channels, 2×2 stride-2 convs with 64 and 64
  ("same" padding: 64 → 32 → 16 → 8 → 4), each → ReLU; FC256 → ReLU; then the means and log
  variances (here one linear layer of 2 × latent outputs, the means first).
- Decoder: FC256 → ReLU, FC1024 → ReLU, reshaped to 64×4×4; 4×4 stride-2 transposed convs to
  64, 32, 32 (each → ReLU) and to the image's channels: logits, then a sigmoid.
- Initialisation as TensorFlow's layers default: Glorot-uniform weights, zero biases.

As a `Backbone`, the encoder is D's trunk with its Q head (`discriminator(q_dim)`, the D head
unused by the VAEs) and the decoder is G.

For MNIST-sized data (`resolution` 32 or 28; disentanglement_lib has 64×64 only, so these are
ours): at 32 the first stride-2 conv and the last transposed conv are left out (32 → 16 → 8 →
4); at 28, two 4×4 stride-2 convs (32, 64 channels: 28 → 14 → 7) feed FC256, and the decoder
mirrors them from a 64×7×7 FC layer.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field
from torch import nn

from disentangle import Backbone, Discriminator, Params


class DlibConvParams(Params):
    channels: Literal[1, 3] = Field(1, description="image channels (dSprites 1, 3D Shapes 3)")
    resolution: Literal[28, 32, 64] = Field(
        64, description="image side: 64 is disentanglement_lib's; 32 and 28 for MNIST-sized data"
    )


def glorot(module: nn.Module) -> nn.Module:
    """Glorot-uniform weights and zero biases on every conv and linear layer."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return module


class DlibConvBackbone(Backbone):
    """disentanglement_lib's conv_encoder (as D's trunk and Q head) and deconv_decoder (G)."""

    output_range = (0.0, 1.0)

    def __init__(self, spec: DlibConvParams) -> None:
        self.channels, self.resolution = spec.channels, spec.resolution
        self.image_shape = (spec.channels, spec.resolution, spec.resolution)
        #: the feature map between the convolutions and the FC layers: (channels, side)
        self.grid = (64, 7) if spec.resolution == 28 else (64, 4)

    def _convs(self) -> list[nn.Module]:
        """The encoder's convolutions, each → ReLU."""
        c = self.channels
        if self.resolution == 28:
            shapes = [(c, 32, 4, 2, 1), (32, 64, 4, 2, 1)]
        else:
            shapes = [(c, 32, 4, 2, 1), (32, 32, 4, 2, 1), (32, 64, 2, 2, 0), (64, 64, 2, 2, 0)]
            if self.resolution == 32:
                shapes = [(c, 32, 4, 2, 1), *shapes[2:]]
        return [m for shape in shapes for m in (nn.Conv2d(*shape), nn.ReLU())]

    def _upconvs(self) -> list[nn.Module]:
        """The decoder's 4×4 stride-2 transposed convolutions, each → ReLU but the last."""
        widths = {64: [64, 64, 32, 32], 32: [64, 64, 32], 28: [64, 32]}[self.resolution]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.ReLU()]
        return [*layers, nn.ConvTranspose2d(widths[-1], self.channels, 4, 2, 1)]

    def generator(self, latent_dim: int) -> nn.Module:
        channels, side = self.grid
        return glorot(
            nn.Sequential(
                nn.Linear(latent_dim, 256),
                nn.ReLU(),
                nn.Linear(256, channels * side * side),
                nn.ReLU(),
                nn.Unflatten(1, (channels, side, side)),
                *self._upconvs(),
                nn.Sigmoid(),
            )
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        channels, side = self.grid
        trunk = nn.Sequential(
            *self._convs(),
            nn.Flatten(),
            nn.Linear(channels * side * side, 256),
            nn.ReLU(),
        )
        return glorot(Discriminator(trunk, nn.Linear(256, 1), nn.Linear(256, q_dim)))
