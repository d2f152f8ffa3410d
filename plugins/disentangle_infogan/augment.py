"""Differentiable augmentation of D's inputs (DiffAugment; Zhao et al., 2020).

On a small dataset D learns the training images by heart and wins. DiffAugment applies the same
random, differentiable transformations to every image D sees, real and generated, in D's step
and in G's step, so D cannot tell real from fake by details a transformation moves, and G's
gradient flows back through the transformation. The two transformations here are the paper's
`translation` (each image shifted by up to 1/8 of its size in x and y, zeros shifted in) and
`cutout` (a square of half the image's side, at a random centre, set to zero). Each image draws
its own shift and square from the given generator.
"""

from __future__ import annotations

from typing import Literal

import torch

Policy = Literal["translation", "cutout"]

#: the largest shift, as a fraction of the image's side (the paper's 1/8)
TRANSLATION = 0.125
#: the cut square's side, as a fraction of the image's side (the paper's 1/2)
CUTOUT = 0.5


def translate(
    images: torch.Tensor, rng: torch.Generator, ratio: float = TRANSLATION
) -> torch.Tensor:
    """Each image shifted by its own (dy, dx) in [−s, s]², s = round(ratio · side), zero-filled."""
    n, _, h, w = images.shape
    sy, sx = round(h * ratio), round(w * ratio)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), generator=rng, device=rng.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=rng, device=rng.device)
    padded = torch.nn.functional.pad(images, (sx, sx, sy, sy))
    # output pixel (i, j) reads input pixel (i − dy, j − dx): padded (i − dy + sy, j − dx + sx)
    rows = torch.arange(h, device=images.device).view(1, h, 1) - dy.to(images.device) + sy
    cols = torch.arange(w, device=images.device).view(1, 1, w) - dx.to(images.device) + sx
    batch = torch.arange(n, device=images.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, rng: torch.Generator, ratio: float = CUTOUT) -> torch.Tensor:
    """Each image with a square of side round(ratio · side) at its own random centre set to 0
    (clipped at the border)."""
    n, _, h, w = images.shape
    ch, cw = round(h * ratio), round(w * ratio)
    cy = torch.randint(0, h, (n, 1, 1), generator=rng, device=rng.device).to(images.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=rng, device=rng.device).to(images.device)
    i = torch.arange(h, device=images.device).view(1, h, 1)
    j = torch.arange(w, device=images.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (i >= top) & (i < top + ch) & (j >= left) & (j < left + cw)
    return images * (~inside).unsqueeze(1).to(images.dtype)


TRANSFORMS = {"translation": translate, "cutout": cutout}


def augment(images: torch.Tensor, policy: list[Policy], rng: torch.Generator) -> torch.Tensor:
    """The policy's transformations in order (none: the images themselves)."""
    for name in policy:
        images = TRANSFORMS[name](images, rng)
    return images
