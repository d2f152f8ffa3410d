"""3D Shapes (Burgess & Kim 2018) from DeepMind's 3dshapes.h5: 480,000 RGB 64×64 scenes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from pydantic import Field

from disentangle import Params
from disentangle.errors import DatasetError
from disentangle_data.cache import progress
from disentangle_data.grid import GridFile
from disentangle_data.sources import download_hint

if TYPE_CHECKING:
    import h5py

FILE = "3dshapes.h5"
SOURCE = (
    f"download {FILE} as the deepmind/3d-shapes GitHub repository says, "
    "https://github.com/deepmind/3d-shapes"
)
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
#: each label column's values in the file: first, step and count (index = (value - first) / step)
GRIDS = (
    (0.0, 0.1, 10),
    (0.0, 0.1, 10),
    (0.0, 0.1, 10),
    (0.75, 0.5 / 7, 8),
    (0.0, 1.0, 4),
    (-30.0, 60 / 14, 15),
)
#: a label further than this many steps from its grid value is not one of the file's values
TOLERANCE = 0.01
#: images read from the file at a time (the HDF5 reads decompress chunk by chunk)
CHUNK = 10_000


class Shapes3dParams(Params):
    root: str = Field("data", description=f"folder holding {FILE}, or the file (~ expanded)")


class Shapes3d(GridFile):
    """3D Shapes: an object in a room, RGB, factors floor/wall/object hue, scale, shape, angle."""

    title = "3D Shapes"
    image_shape = (3, 64, 64)
    factor_names = FACTOR_NAMES
    #: the official file's; after `load`, those of the file read
    factor_sizes = tuple(count for *_, count in GRIDS)

    def __init__(self, spec: Shapes3dParams) -> None:
        super().__init__()
        self.root = Path(spec.root).expanduser().absolute()

    @property
    def path(self) -> Path:
        return self.root if self.root.is_file() else self.root / FILE

    def _read(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            import h5py
        except ImportError:
            raise DatasetError(f"3D Shapes needs h5py to read {FILE}: pip install h5py") from None
        if not self.path.is_file():
            raise DatasetError(
                f"3D Shapes not found: expected {self.path} ({FILE} in the folder `root` names, "
                f"or `root` naming the file).\nTo get it: {SOURCE}; or run "
                f"{download_hint('shapes3d', self.path.parent)}."
            )
        try:
            with h5py.File(self.path, "r") as file:
                return self._read_file(file["images"], file["labels"])
        except (OSError, KeyError, TypeError) as exc:  # not HDF5, or no images/labels datasets
            raise DatasetError(self._unreadable(f"{type(exc).__name__}: {exc}")) from None

    def _read_file(
        self, images: h5py.Dataset, labels: h5py.Dataset
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The images as [N, 3, 64, 64], copied a chunk at a time, and the labels' indices."""
        n = len(images)
        if (
            images.dtype != np.uint8
            or images.shape[1:] != (*self.image_shape[1:], 3)
            or n == 0
            or labels.shape != (n, len(GRIDS))
        ):
            problem = f"images {images.dtype} {images.shape}, labels {labels.shape}"
            raise DatasetError(self._unreadable(problem))
        factors = self._factors(labels[:])
        out = torch.empty(n, *self.image_shape, dtype=torch.uint8)
        for start in progress(range(0, n, CHUNK), "Reading 3D Shapes"):
            chunk = torch.from_numpy(images[start : start + CHUNK])
            out[start : start + CHUNK] = chunk.permute(0, 3, 1, 2)
        return out, factors

    def _factors(self, labels: np.ndarray) -> torch.Tensor:
        """Each label's index in its factor's grid, int64 [N, 6]."""
        first, step, count = (np.array(column) for column in zip(*GRIDS, strict=True))
        steps = (labels - first) / step
        index = np.rint(steps)
        on_grid = (np.abs(steps - index) <= TOLERANCE) & (index >= 0) & (index < count)
        if not on_grid.all():
            raise DatasetError(
                self._unreadable(
                    "labels off the factor grids (hues 0, 0.1, …, 0.9; 8 scales from 0.75 to "
                    "1.25; shapes 0-3; 15 orientations from -30 to 30)"
                )
            )
        return torch.from_numpy(index.astype(np.int64))

    def _unreadable(self, problem: str) -> str:
        return (
            f"3D Shapes: {self.path} is not the 3D Shapes file (expected HDF5 datasets images "
            f"uint8 [N, 64, 64, 3] and labels [N, 6], columns {', '.join(FACTOR_NAMES)}): "
            f"{problem}"
        )
