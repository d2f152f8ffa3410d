"""Sample grids and latent traversals (paper convention: one code varies left → right)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.utils import make_grid, save_image

from disentangle.recipe.build import Components


def scale_images(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """uint8 images (0..255) as floats in `value_range`."""
    low, high = value_range
    return images.float().mul_((high - low) / 255.0).add_(low)


def sample_latents(comps: Components, n: int, seed: int) -> torch.Tensor:
    """`n` latent vectors (noise then codes), from a generator of their own."""
    g = torch.Generator().manual_seed(seed)
    parts = [comps.noise.sample(n, g, torch.device("cpu"))]
    parts += [c.sample(n, g, torch.device("cpu")) for c in comps.codes]
    return torch.cat(parts, dim=1)


def traversal_latents(
    comps: Components, code: int, rows: int, steps: int, span: tuple[float, float], seed: int
) -> tuple[torch.Tensor, int]:
    """Latents for one code's traversal, row-major, and the number of columns.

    Each row keeps its noise and other codes fixed; the same seed gives the same rows for every
    code. Categorical codes show every category; continuous ones `steps` values over `span`.
    """
    base = sample_latents(comps, rows, seed)
    values = comps.codes[code].traversal(steps, span)
    cols = values.shape[0]
    latents = base.repeat_interleave(cols, dim=0)
    latents[:, comps.layout.codes[code].input] = values.repeat(rows, 1)
    return latents, cols


@torch.no_grad()
def render(
    generator: nn.Module, latents: torch.Tensor, value_range: tuple[float, float], batch: int = 256
) -> torch.Tensor:
    """Images in [0, 1] from a generator in eval mode (its train mode is restored)."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    out = torch.cat([generator(chunk.to(device)).float().cpu() for chunk in latents.split(batch)])
    generator.train(was_training)
    low, high = value_range
    return ((out - low) / (high - low)).clamp(0, 1)


def as_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as the uint8 pixels datasets hold and encoders read."""
    return (images * 255).round().to(torch.uint8)


def save_grid(images: torch.Tensor, path: Path, nrow: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, str(path), nrow=nrow, padding=2, pad_value=0.5)
    return path


def traversal_sheet(panels: list[tuple[str, torch.Tensor, int]], path: Path) -> Path:
    """Every code's traversal in one PNG: a block of rows per code, labelled on the left.

    `panels` holds (label, images in [0, 1] row-major, columns) per code.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = [make_grid(images, nrow=cols, padding=2, pad_value=0.5) for _, images, cols in panels]
    width = max(g.shape[2] for g in grids)
    heights = [g.shape[1] for g in grids]
    inches = 1 / 40  # 40 image pixels an inch: 28-pixel images stay legible
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(width * inches + 2.6, sum(heights) * inches + 0.25 * len(panels)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (label, _, _), grid in zip(axes[:, 0], panels, grids, strict=True):
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def traversal_frames(images: torch.Tensor, cols: int, nrow: int) -> list[np.ndarray]:
    """A traversal (row-major, `cols` values) as frames: frame k shows every row at the
    code's k-th value, `nrow` images across; uint8 pixels, height × width × channels."""
    frames = []
    for k in range(cols):
        grid = make_grid(images[k::cols], nrow=nrow, padding=2, pad_value=0.5)
        frames.append(as_uint8(grid).permute(1, 2, 0).numpy())
    return frames


def save_gif(images: torch.Tensor, rows: int, cols: int, path: Path, frame_ms: int = 250) -> Path:
    """A traversal as an animation: frame k shows every row at the code's k-th value."""
    from PIL import Image

    side = max(1, round(math.sqrt(rows)))
    frames = [Image.fromarray(a) for a in traversal_frames(images, cols, side)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return path
