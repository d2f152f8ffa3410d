"""A dSprites-like ground-truth dataset drawn by code: shape, scale, orientation and position."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from disentangle import GroundTruthDataset, ImageData, Params
from disentangle.bounds import at_most
from disentangle_data.grid import checked_factors, grid_index, sample_grid
from disentangle_data.images import Resolution
from disentangle_data.nuisance import CHANNELS, Variant, apply_variant, read_painting

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
#: dSprites' three shapes, in dSprites' order: what `shapes = k` draws the first k of
DSPRITES_SHAPES = ("square", "ellipse", "heart")
ShapeName = Literal["square", "ellipse", "heart", "arch", "tee"]
#: pixels per chunk when rendering: bounds the float32 temporaries to a few tens of MB each
CHUNK_PIXELS = 1 << 22
#: the most bytes the drawn images may take in memory (uint8)
MAX_BYTES = 1 << 32
#: the most steps of one factor
Steps = Annotated[
    int, at_most(4096, "more steps than pixels across a large image tell nothing apart")
]


class ProceduralParams(Params):
    resolution: Resolution = Field(64, ge=8, description="image side in pixels")
    shapes: (
        Annotated[int, Field(ge=1, le=len(DSPRITES_SHAPES))]
        | Annotated[list[ShapeName], Field(min_length=1)]
    ) = Field(
        3,
        description="k: the first k of dSprites' square, ellipse, heart; or the shapes by "
        "name, from square, ellipse, heart, arch (a horseshoe opening downwards), tee",
    )
    scales: Steps = Field(
        6, ge=1, description="scale steps from min_scale to 1 of the largest size"
    )
    min_scale: float = Field(0.5, gt=0, le=1, description="the smallest scale (dSprites: 0.5)")
    orientations: Steps = Field(40, ge=1, description="rotation steps over `rotation` degrees")
    rotation: float = Field(
        360.0,
        gt=0,
        le=360,
        description="degrees the orientations span: 360 is a full turn from upright (its end "
        "is its start); less spans ±rotation/2 about upright, both ends included",
    )
    radius: float = Field(
        0.2,
        gt=0,
        le=0.5,
        description="circumradius of a shape at the largest scale, as a fraction of the image "
        "side; positions keep this margin from the edges",
    )
    positions_x: Steps = Field(32, ge=1, description="horizontal position steps, left to right")
    positions_y: Steps = Field(32, ge=1, description="vertical position steps, top to bottom")
    supersample: int = Field(
        1,
        ge=1,
        le=8,
        description="each pixel is the mean of k×k samples inside it (anti-aliased grey "
        "edges); 1 draws binary images, as dSprites",
    )
    variant: Variant | None = Field(
        None,
        description="disentanglement_lib's color-dSprites (a random colour per image), "
        "noisy-dSprites (random noise behind the sprite) or scream-dSprites (a patch of The "
        "Scream behind it, from `painting`), RGB; none: grey sprites",
    )
    painting: str = Field(
        "data/scream/The_Scream.jpg",
        description="The Scream, for variant 'scream' (disentangle data download "
        "scream_dsprites puts it there; ~ expanded)",
    )
    variant_seed: int = Field(0, description="which colours or noise the variant draws")
    size: int | None = Field(
        None, ge=1, description="images drawn from the factor grid; none: the whole grid"
    )
    seed: int = Field(0, description="which images `size` draws")

    @property
    def shape_names(self) -> tuple[ShapeName, ...]:
        if isinstance(self.shapes, int):
            return DSPRITES_SHAPES[: self.shapes]
        return tuple(self.shapes)

    @model_validator(mode="after")
    def _size_fits(self) -> ProceduralParams:
        if len(set(self.shape_names)) < len(self.shape_names):
            raise ValueError(f"shapes: {self.shapes} names a shape twice")
        total = math.prod(
            (
                len(self.shape_names),
                self.scales,
                self.orientations,
                self.positions_x,
                self.positions_y,
            )
        )
        if self.size is not None and self.size > total:
            raise ValueError(f"size {self.size} exceeds the {total} images of the factor grid")
        channels = 1 if self.variant is None else CHANNELS
        need = (self.size or total) * channels * self.resolution**2
        if need > MAX_BYTES:
            raise ValueError(
                f"{self.size or total:,} images of {channels}×{self.resolution}×{self.resolution} "
                "would take "
                f"{need / 2**30:.0f} GiB of memory (at most {MAX_BYTES / 2**30:.0f}); draw fewer "
                "with `size` or use fewer steps"
            )
        return self


def _steps(lo: float, hi: float, n: int) -> list[float]:
    """`n` evenly spaced values from lo to hi inclusive; one step sits in the middle."""
    if n == 1:
        return [(lo + hi) / 2]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


class Procedural(GroundTruthDataset):
    """Sprites (dSprites' square, ellipse, heart, or others by name) rendered from factor
    indices, no files: binary, or anti-aliased by supersampling; grey, or one of
    disentanglement_lib's RGB variants (plugins/disentangle_data/nuisance.py)."""

    factor_names = FACTOR_NAMES

    def __init__(self, spec: ProceduralParams) -> None:
        self.resolution = res = spec.resolution
        self.shapes = tuple(SHAPES[name] for name in spec.shape_names)
        self.factor_sizes = (
            len(self.shapes),
            spec.scales,
            spec.orientations,
            spec.positions_x,
            spec.positions_y,
        )
        self.variant, self.variant_seed = spec.variant, spec.variant_seed
        self._painting_path = Path(spec.painting).expanduser().absolute()
        self._painting: np.ndarray | None = None
        self.image_shape = (1 if spec.variant is None else CHANNELS, res, res)
        self.size, self.seed = spec.size, spec.seed
        # value tables, computed once from Python floats: every render gathers the same bits
        if spec.rotation == 360:
            angles = [2 * math.pi * i / spec.orientations for i in range(spec.orientations)]
        else:
            half = math.radians(spec.rotation) / 2
            angles = _steps(-half, half, spec.orientations)
        self._cos = torch.tensor([math.cos(a) for a in angles], dtype=torch.float32)
        self._sin = torch.tensor([math.sin(a) for a in angles], dtype=torch.float32)
        radii = [spec.radius * s for s in _steps(spec.min_scale, 1.0, spec.scales)]
        self._inv_radius = torch.tensor([1 / r for r in radii], dtype=torch.float32)
        self._x = torch.tensor(_steps(spec.radius, 1 - spec.radius, spec.positions_x))
        self._y = torch.tensor(_steps(spec.radius, 1 - spec.radius, spec.positions_y))
        self.supersample = k = spec.supersample
        self._pixels = (torch.arange(res * k, dtype=torch.float32) + 0.5) / (res * k)

    def factors(self) -> torch.Tensor:
        """The factor indices of the images `load` returns, int64 [N, 5], in grid order."""
        total = math.prod(self.factor_sizes)
        if self.size is None:
            index = torch.arange(total)
        else:
            generator = torch.Generator().manual_seed(self.seed)
            index = torch.randperm(total, generator=generator)[: self.size].sort().values
        columns = []
        for size in reversed(self.factor_sizes):
            columns.append(index % size)
            index = index // size
        return torch.stack(columns[::-1], dim=1)

    def load(self) -> ImageData:
        factors = self.factors()
        return ImageData(
            images=self.render(factors),
            factors=factors,
            factor_names=self.factor_names,
            factor_sizes=self.factor_sizes,
        )

    def sample_factors(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` factor-index rows drawn uniformly and independently per factor, int64 [n, 5]."""
        return sample_grid(self.factor_sizes, n, generator)

    def render(self, factors: torch.Tensor) -> torch.Tensor:
        """Draw the images of factor-index rows [n, 5] as uint8 [n, 1, res, res]: {0, 255}, or
        coverage × 255 rounded with `supersample` > 1; with a variant, RGB [n, 3, res, res]
        whose colour or noise is that of the row's combination."""
        factors = checked_factors(factors, self.factor_sizes)
        res = self.resolution
        images = torch.empty(len(factors), 1, res, res, dtype=torch.uint8)
        chunk = max(1, CHUNK_PIXELS // (res * res * self.supersample**2))
        for start in range(0, len(factors), chunk):
            images[start : start + chunk, 0] = self._draw(factors[start : start + chunk])
        if self.variant is None:
            return images
        index = grid_index(factors, self.factor_sizes)
        if self.variant == "scream" and self._painting is None:
            self._painting = read_painting(self._painting_path, "scream_dsprites", res)
        return apply_variant(images, index, self.variant, self.variant_seed, self._painting)

    def _draw(self, factors: torch.Tensor) -> torch.Tensor:
        """uint8 images [n, res, res] for one chunk: each sample point tested in its shape's
        frame, then the k×k samples of each pixel averaged."""
        shape, scale, angle, pos_x, pos_y = factors.unbind(dim=1)
        side = len(self._pixels)
        inside = torch.empty(len(factors), side, side, dtype=torch.bool)
        for kind, (test, zoom, lift) in enumerate(self.shapes):
            rows = (shape == kind).nonzero().flatten()
            if len(rows) == 0:
                continue
            zoom_i = (self._inv_radius[scale[rows]] * zoom)[:, None, None]
            cos = self._cos[angle[rows]][:, None, None] * zoom_i
            sin = self._sin[angle[rows]][:, None, None] * zoom_i
            dx = self._pixels[None, None, :] - self._x[pos_x[rows]][:, None, None]  # rightwards
            dy = self._y[pos_y[rows]][:, None, None] - self._pixels[None, :, None]  # upwards
            # rotate the offsets by -angle (the shape turns counter-clockwise); each sum is
            # [m, 1, res] + [m, res, 1], the only full-size products before the test
            inside[rows] = test(cos * dx + sin * dy, (cos * dy + lift) - sin * dx)
        k = self.supersample
        if k == 1:
            return inside.to(torch.uint8).mul_(255)
        res = self.resolution
        covered = inside.view(len(factors), res, k, res, k).sum(dim=(2, 4), dtype=torch.int32)
        return (covered * 255 + k * k // 2).div_(k * k, rounding_mode="floor").to(torch.uint8)


def _square(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Axis-aligned square of circumradius 1."""
    return torch.maximum(x.abs(), y.abs()) <= math.sqrt(0.5)


def _ellipse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Ellipse with semi-axes 1 (horizontal) and 1/2."""
    return x * x + 4 * y * y <= 1


def _heart(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The heart (x² + y² - 1)³ ≤ x² y³, point down; its circumradius is 1.25 about (0, 0.25)."""
    r = x * x + y * y - 1
    return r * r * r <= x * x * y * y * y


def _arch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A horseshoe: the ring between radii 0.55 and 1 less a wedge of ±39° about straight down."""
    r = x * x + y * y
    return (r <= 1) & (r >= 0.3) & ~((y < 0) & (x.abs() < -0.8 * y))


def _tee(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A T inside the unit circle: a bar 1.4 wide on top of a stem 0.44 wide."""
    bar = (y >= 0.3) & (y <= 0.7) & (x.abs() <= 0.7)
    stem = (x.abs() <= 0.22) & (y >= -0.95) & (y <= 0.7)
    return bar | stem


#: per shape: its inside test, and the zoom and upward shift from the unit frame to the test's
SHAPES = {
    "square": (_square, 1.0, 0.0),
    "ellipse": (_ellipse, 1.0, 0.0),
    "heart": (_heart, 1.25, 0.25),
    "arch": (_arch, 1.0, 0.0),
    "tee": (_tee, 1.0, 0.0),
}
