"""MPI3D (Gondal et al. 2019): a robot arm's object under 7 factors, toy / realistic / real.

Each kind is one .npz, `images` uint8 [N, 64, 64, 3] in grid order (the last factor varies
fastest), without factor labels: the grid is known from N. The published files hold 6 colours
× 6 shapes (1,036,800 images); disentanglement_lib's toy and realistic had 4 × 4 (460,800).
An array stored uncompressed (np.savez) is memory-mapped, never read whole.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from disentangle import Params
from disentangle.errors import DatasetError
from disentangle_data.grid import GridFile
from disentangle_data.npz import npz_array
from disentangle_data.sources import download_hint

FACTOR_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "first_dof",
    "second_dof",
)
#: the factor grids a file may hold, by image count: the published one first
GRIDS = ((6, 6, 2, 3, 3, 40, 40), (4, 4, 2, 3, 3, 40, 40))
SOURCE = (
    "download it as the rr-learning/disentanglement_dataset GitHub repository says, "
    "https://github.com/rr-learning/disentanglement_dataset"
)


class Mpi3dParams(Params):
    root: str = Field(
        "data", description="folder holding mpi3d_<kind>.npz, or the file (~ expanded)"
    )


class Mpi3d(GridFile):
    """One MPI3D kind: RGB 64×64, factors object colour, shape, size, camera height,
    background colour, and the arm's two degrees of freedom (names as disentanglement_lib's)."""

    #: "toy", "realistic" or "real"
    kind: ClassVar[str]
    image_shape = (3, 64, 64)
    factor_names = FACTOR_NAMES
    #: the published files'; after `load`, those of the file read
    factor_sizes = GRIDS[0]

    def __init__(self, spec: Mpi3dParams) -> None:
        super().__init__()
        self.root = Path(spec.root).expanduser().absolute()
        self.title = f"MPI3D {self.kind}"

    @property
    def file(self) -> str:
        return f"mpi3d_{self.kind}.npz"

    @property
    def path(self) -> Path:
        return self.root if self.root.is_file() else self.root / self.file

    def _read(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.path.is_file():
            raise DatasetError(
                f"{self.title} not found: expected {self.path} ({self.file} in the folder `root` "
                f"names, or `root` naming the file).\nTo get it: {SOURCE}; or run "
                f"{download_hint(f'mpi3d_{self.kind}', self.path.parent)}."
            )
        try:
            images, self.on_disk = npz_array(self.path, "images")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetError(self._unreadable(f"{type(exc).__name__}: {exc}")) from None
        sizes = {math.prod(grid): grid for grid in GRIDS}
        if images.dtype != np.uint8 or images.shape[1:] != (64, 64, 3) or len(images) not in sizes:
            raise DatasetError(self._unreadable(f"images {images.dtype} {images.shape}"))
        grid = sizes[len(images)]
        factors = torch.cartesian_prod(*(torch.arange(size) for size in grid))
        with warnings.catch_warnings():  # read-only on purpose: nothing writes to the data
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            return torch.from_numpy(images).permute(0, 3, 1, 2), factors

    def _unreadable(self, problem: str) -> str:
        counts = " or ".join(f"{math.prod(grid):,} ({'×'.join(map(str, grid))})" for grid in GRIDS)
        return (
            f"{self.title}: {self.path} is not the MPI3D .npz (expected `images` uint8 "
            f"[N, 64, 64, 3], N = {counts}, factors {', '.join(FACTOR_NAMES)} in grid order): "
            f"{problem}"
        )


class Mpi3dToy(Mpi3d):
    kind = "toy"


class Mpi3dRealistic(Mpi3d):
    kind = "realistic"


class Mpi3dReal(Mpi3d):
    kind = "real"
