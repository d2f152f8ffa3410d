"""disentanglement_lib's dSprites variants: a random colour, or random noise behind the sprite.

color-dSprites multiplies the sprite by a colour drawn uniformly from [0.5, 1]³; noisy-dSprites
adds uniform [0, 1) noise to each pixel and channel, clipped at 1, so the white sprite stays white
on a noisy background. The factors stay dSprites' own: the colour and the noise are nuisance.

disentanglement_lib draws them anew each time an image is sampled. Here they are drawn once per
factor combination, from a hash of (seed, the combination's grid index, channel, pixel): the
same distribution over the dataset, but a function of the factors, so that training images and
the metrics' renders agree, any subset can be drawn alone, and the numbers are the same on every
machine (integer arithmetic; no float rounding differs between CPUs).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Variant = Literal["color", "noisy"]
#: what each variant is called in disentanglement_lib (data/ground_truth/named_data.py)
DLIB_NAMES = {"color": "color_dsprites", "noisy": "noisy_dsprites"}
#: the variants' images are RGB
CHANNELS = 3

#: images coloured at once: bounds the float64 temporaries to about 100 MB
CHUNK = 1024
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-mixed 64-bit hash of each uint64."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def uniform(seed: int, index: np.ndarray, count: int) -> np.ndarray:
    """`count` numbers in [0, 1) per grid index [n] -> float64 [n, count], a function of (seed,
    index, position) alone."""
    key = _splitmix64(np.uint64(seed % 2**64) ^ _splitmix64(index.astype(np.uint64)))
    with np.errstate(over="ignore"):
        keys = key[:, None] * np.uint64(count) + np.arange(count, dtype=np.uint64)[None, :]
    return (_splitmix64(keys) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def apply_variant(
    images: torch.Tensor, index: torch.Tensor, variant: Variant, seed: int
) -> torch.Tensor:
    """Grey sprites uint8 [n, 1, H, W] with their grid indices [n] -> uint8 [n, 3, H, W]."""
    n, _, height, width = images.shape
    out = torch.empty(n, CHANNELS, height, width, dtype=torch.uint8)
    for start in range(0, n, CHUNK):
        part = slice(start, start + CHUNK)
        out[part] = _apply(images[part], index[part].numpy(), variant, seed)
    return out


def _apply(images: torch.Tensor, index: np.ndarray, variant: Variant, seed: int) -> torch.Tensor:
    n, _, height, width = images.shape
    grey = images.numpy().astype(np.float64) / 255
    if variant == "color":
        rgb = grey * (0.5 + 0.5 * uniform(seed, index, CHANNELS))[:, :, None, None]
    else:
        noise = uniform(seed, index, CHANNELS * height * width)
        rgb = np.minimum(grey + noise.reshape(n, CHANNELS, height, width), 1.0)
    return torch.from_numpy(np.rint(rgb * 255).astype(np.uint8))
