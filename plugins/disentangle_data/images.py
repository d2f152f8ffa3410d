"""Image helpers shared by the file-based datasets: listing, decoding, cropping and resizing."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Annotated

import numpy as np
import torch
from PIL import Image

from disentangle.bounds import at_most
from disentangle.errors import DatasetError

#: file name endings read as images, compared in lower case
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

#: an image side in pixels, bounded so that a dataset of such images fits in memory
Resolution = Annotated[int, at_most(1024, "larger images would not fit in memory")]


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, sorted by name (none when it is not a folder)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def open_image(source: Path | IO[bytes], mode: str, name: object) -> Image.Image:
    """Decode an image file completely, converted to PIL `mode` ("L" or "RGB")."""
    try:
        with Image.open(source) as image:
            return image.convert(mode)
    except (OSError, ValueError, SyntaxError) as exc:  # not an image, truncated, malformed
        raise DatasetError(f"{name}: not a readable image ({exc})") from None
    except Image.DecompressionBombError as exc:  # a header that claims billions of pixels
        raise DatasetError(f"{name}: not an image to decode ({exc})") from None


def fit(image: Image.Image, resolution: int, crop: int | None = None) -> torch.Tensor:
    """A centred square (side `crop`, at most the short side), resized: uint8 [C, res, res]."""
    side = min(crop or image.width, image.width, image.height)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    pixels = np.array(square.resize((resolution, resolution), Image.Resampling.LANCZOS))
    return torch.from_numpy(pixels).view(resolution, resolution, -1).permute(2, 0, 1)
