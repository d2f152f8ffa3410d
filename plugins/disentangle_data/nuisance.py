"""disentanglement_lib's dSprites variants: a random colour, random noise or a patch of Munch's
The Scream behind the sprite.

color-dSprites multiplies the sprite by a colour drawn uniformly from [0.5, 1]³; noisy-dSprites
adds uniform [0, 1) noise to each pixel and channel, clipped at 1, so the white sprite stays white
on a noisy background; scream-dSprites takes a random patch of the painting (shrunk to fit
350 × 274), averages it with a random colour, and inverts it where the sprite is. The factors
stay dSprites' own: the colour, noise and patch are nuisance.

disentanglement_lib draws them anew each time an image is sampled. Here they are drawn once per
factor combination, from a hash of (seed, the combination's grid index, channel, pixel): the
same distribution over the dataset, but a function of the factors, so that training images and
the metrics' renders agree, any subset can be drawn alone, and the numbers are the same on every
machine (integer arithmetic; no float rounding differs between CPUs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from disentangle.errors import DatasetError
from disentangle_data.sources import download_hint

Variant = Literal["color", "noisy", "scream"]
#: the variants that need no file beside the sprites
Drawn = Literal["color", "noisy"]
#: what each variant is called in disentanglement_lib (data/ground_truth/named_data.py)
DLIB_NAMES = {"color": "color_dsprites", "noisy": "noisy_dsprites", "scream": "scream_dsprites"}
#: the box disentanglement_lib shrinks the painting into (PIL's thumbnail: aspect kept)
PAINTING_BOX = (350, 274)
#: the variants' images are RGB
CHANNELS = 3

#: images drawn at once: bounds the float64 temporaries to about 100 MB
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


def load_painting(path: Path) -> np.ndarray:
    """The Scream shrunk into PAINTING_BOX as disentanglement_lib does, float64 [h, w, 3] in
    [0, 1]; OSError (or PIL's UnidentifiedImageError) where it cannot be read."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail(PAINTING_BOX)
        return np.asarray(image, dtype=np.float64) / 255


def read_painting(path: Path, source: str, side: int) -> np.ndarray:
    """load_painting, or a DatasetError naming the file and the download of `source` where it
    is missing, unreadable, or too small for side × side patches."""
    if not path.is_file():
        raise DatasetError(
            f"scream-dSprites needs Munch's The Scream: expected {path}.\nTo get it: run "
            f"{download_hint(source, path.parent.parent)}."
        )
    try:
        painting = load_painting(path)
    except OSError as exc:  # PIL's UnidentifiedImageError is one
        raise DatasetError(f"{path} is not an image PIL reads ({exc})") from None
    if min(painting.shape[:2]) <= side:
        raise DatasetError(
            f"{path} is {painting.shape[1]}×{painting.shape[0]} once fit into 350 × 274: too "
            f"small for {side}×{side} patches (The Scream is about 221×274)"
        )
    return painting


def apply_variant(
    images: torch.Tensor,
    index: torch.Tensor,
    variant: Variant,
    seed: int,
    painting: np.ndarray | None = None,
) -> torch.Tensor:
    """Grey sprites uint8 [n, 1, H, W] with their grid indices [n] -> uint8 [n, 3, H, W];
    `painting` (load_painting) for "scream", larger than H × W."""
    n, _, height, width = images.shape
    out = torch.empty(n, CHANNELS, height, width, dtype=torch.uint8)
    for start in range(0, n, CHUNK):
        part = slice(start, start + CHUNK)
        grey = images[part].numpy().astype(np.float64) / 255
        key = index[part].numpy()
        if variant == "color":
            rgb = grey * (0.5 + 0.5 * uniform(seed, key, CHANNELS))[:, :, None, None]
        elif variant == "noisy":
            noise = uniform(seed, key, CHANNELS * height * width)
            rgb = np.minimum(grey + noise.reshape(len(key), CHANNELS, height, width), 1.0)
        else:
            background = _patches(painting, seed, key, height, width)
            rgb = background * (1 - grey) + (1 - background) * grey
        out[part] = torch.from_numpy(np.rint(rgb * 255).astype(np.uint8))
    return out


def _patches(
    painting: np.ndarray, seed: int, index: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Per grid index, a patch of the painting (its corner uniform over the positions
    disentanglement_lib draws it from) averaged with a colour uniform on [0, 1)³: [n, 3, H, W]."""
    draws = uniform(seed, index, 2 + CHANNELS)
    top = (draws[:, 0] * (painting.shape[0] - height)).astype(np.int64)
    left = (draws[:, 1] * (painting.shape[1] - width)).astype(np.int64)
    rows = top[:, None] + np.arange(height)[None, :]
    cols = left[:, None] + np.arange(width)[None, :]
    patches = painting[rows[:, :, None], cols[:, None, :]]  # [n, H, W, 3]
    return ((patches + draws[:, None, None, 2:]) / 2).transpose(0, 3, 1, 2)
