"""A 128×128 colour InfoGAN on FineGAN's single-stage network (Singh et al., CVPR 2019).

FineGAN's comparison lists InfoGAN at 128×128 on CUB, Stanford Cars and Stanford Dogs; their
repository (kkanshul/finegan) holds FineGAN's code only, not the baseline's. So this backbone is
our choice, said as such: FineGAN's own one-stage layers (code/model.py), the StackGAN-v2 style
that a baseline in their comparison would share, with Q as their code head on D's trunk:

G: FC → BN → GLU to 4·4·1024; five up-blocks (nearest ×2, 3×3 conv, BN, GLU) to 1024 → 512 →
256 → 128 → 64 → 64 channels at 128×128; 3×3 conv to RGB, tanh (INIT_STAGE_G + GET_IMAGE_G).
D: 4×4 stride-2 convs 64 → 128 BN → 256 BN → 512 BN (8×8), a down-block to 1024 BN (4×4), a
3×3 conv to 512 BN, leaky ReLU 0.2 after each (encode_parent_and_child_img, img_code_s32,
img_code_s32_1); D's logit a 4×4 conv over the 4×4 map (uncond_logits), Q's head a 3×3 conv
512 BN lReLU then a 4×4 conv to Q's outputs (jointConv, logits). Their initialisation:
orthogonal conv and linear weights, BN γ ~ N(1, 0.02).
"""

from __future__ import annotations

from pydantic import Field
from torch import nn

from disentangle import Backbone, Discriminator
from disentangle_dcgan.layers import (
    OUTPUT_RANGE,
    DcganParams,
    Output,
    init_weights,
    output_activation,
    scaled,
    spectrally_normed,
)

#: G's channels after its FC layer (4×4) and after each up-block, at width 1 (theirs: gf_dim 64)
G_CHANNELS = (1024, 512, 256, 128, 64, 64)
#: D's channels after each 4×4 stride-2 conv, at width 1 (theirs: df_dim 64)
D_CHANNELS = (64, 128, 256, 512, 1024)


class FineganParams(DcganParams):
    leaky_slope: float = Field(0.2, ge=0, lt=1, description="leaky-ReLU slope of D (FineGAN: 0.2)")
    output: Output = Field("tanh", description="G's output activation (FineGAN: tanh)")


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)


def up_block(c_in: int, c_out: int) -> list[nn.Module]:
    """Their upBlock: nearest ×2, 3×3 conv to 2·c_out, BN, GLU over channels (c_out out)."""
    scale = nn.Upsample(scale_factor=2, mode="nearest")
    return [scale, conv3x3(c_in, 2 * c_out), nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1)]


def down(c_in: int, c_out: int, slope: float, bn: bool = True) -> list[nn.Module]:
    """4×4 stride-2 conv without bias, BN (if `bn`), leaky ReLU."""
    norm: list[nn.Module] = [nn.BatchNorm2d(c_out)] if bn else []
    return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), *norm, nn.LeakyReLU(slope)]


def same(c_in: int, c_out: int, slope: float) -> list[nn.Module]:
    """3×3 conv without bias, BN, leaky ReLU (their Block3x3_leakRelu)."""
    return [conv3x3(c_in, c_out), nn.BatchNorm2d(c_out), nn.LeakyReLU(slope)]


def orthogonal_init(module: nn.Module) -> nn.Module:
    """FineGAN's weights_init: orthogonal conv and linear weights (gain 1), biases 0,
    batch-norm γ ~ N(1, 0.02) and β = 0."""
    return init_weights(module, weight=lambda w: nn.init.orthogonal_(w, 1.0))


class FineganBackbone(Backbone):
    """128×128 RGB; see the module's docstring for the layers."""

    image_shape = (3, 128, 128)

    def __init__(self, spec: FineganParams) -> None:
        self.spec = spec
        self.output_range = OUTPUT_RANGE[spec.output]
        self.g_channels = [scaled(c, spec.width) for c in G_CHANNELS]
        self.d_channels = [scaled(c, spec.width) for c in D_CHANNELS]

    def generator(self, latent_dim: int) -> nn.Module:
        first, *rest = self.g_channels
        ups = [
            layer
            for c_in, c_out in zip(self.g_channels, rest, strict=False)
            for layer in up_block(c_in, c_out)
        ]
        return orthogonal_init(
            nn.Sequential(
                nn.Linear(latent_dim, 2 * 4 * 4 * first, bias=False),
                nn.BatchNorm1d(2 * 4 * 4 * first),
                nn.GLU(dim=1),
                nn.Unflatten(1, (first, 4, 4)),
                *ups,
                conv3x3(rest[-1], 3),
                output_activation(self.spec.output),
            )
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        slope, (c1, c2, c3, c4, c5) = self.spec.leaky_slope, self.d_channels
        trunk = nn.Sequential(
            *down(3, c1, slope, bn=False),
            *down(c1, c2, slope),
            *down(c2, c3, slope),
            *down(c3, c4, slope),
            *down(c4, c5, slope),
            *same(c5, c4, slope),
        )
        d_head = nn.Sequential(nn.Conv2d(c4, 1, 4, 4), nn.Flatten())
        q_head = (
            nn.Sequential(*same(c4, c4, slope), nn.Conv2d(c4, q_dim, 4, 4), nn.Flatten())
            if q_dim
            else nn.Sequential()  # a plain GAN: no codes, no Q
        )
        d = orthogonal_init(Discriminator(trunk, d_head, q_head))
        return spectrally_normed(d) if self.spec.spectral_norm else d
