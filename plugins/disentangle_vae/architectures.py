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
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from disentangle import Backbone, Discriminator, Params


class DlibConvParams(Params):
    channels: Literal[1, 3] = Field(1, description="image channels (dSprites 1, 3D Shapes 3)")


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
        self.channels = spec.channels
        self.image_shape = (spec.channels, 64, 64)

    def generator(self, latent_dim: int) -> nn.Module:
        return glorot(
            nn.Sequential(
                nn.Linear(latent_dim, 256),
                nn.ReLU(),
                nn.Linear(256, 1024),
                nn.ReLU(),
                nn.Unflatten(1, (64, 4, 4)),
                nn.ConvTranspose2d(64, 64, 4, 2, 1),
                nn.ReLU(),
                nn.ConvTranspose2d(64, 32, 4, 2, 1),
                nn.ReLU(),
                nn.ConvTranspose2d(32, 32, 4, 2, 1),
                nn.ReLU(),
                nn.ConvTranspose2d(32, self.channels, 4, 2, 1),
                nn.Sigmoid(),
            )
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        trunk = nn.Sequential(
            nn.Conv2d(self.channels, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 2, 2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 2, 2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(1024, 256),
            nn.ReLU(),
        )
        return glorot(Discriminator(trunk, nn.Linear(256, 1), nn.Linear(256, q_dim)))
