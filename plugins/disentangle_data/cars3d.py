"""Cars3D (Reed et al. 2015) as disentanglement_lib reads it: 183 car models, 4 × 24 views.

Each car is one MATLAB file (`car_*_mesh.mat`, from Reed et al.'s nips2015-analogy-data) with
`im` uint8 [128, 128, 3, 24 azimuths, 4 elevations]; every view is resized to 64×64 (Lanczos,
as disentanglement_lib's PIL thumbnail). Factors elevation 4, azimuth 24, object type 183 (the
files in name order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from disentangle import Params
from disentangle.errors import DatasetError
from disentangle_data.grid import GridFile
from disentangle_data.sources import download_hint

FACTOR_NAMES = ("elevation", "azimuth", "object_type")
#: where the cars may be under `root`: disentanglement_lib's folder, and the archive's
FOLDERS = ("cars", "data/cars")
SOURCE = (
    "download nips2015-analogy-data.tar.gz from http://www.scottreed.info/ (Reed et al., "
    "Deep Visual Analogy-Making) and unpack it"
)
RESOLUTION = 64


class Cars3dParams(Params):
    root: str = Field(
        "data", description="folder holding cars/ (or data/cars/) of car_*_mesh.mat, or that folder"
    )


class Cars3d(GridFile):
    """Cars3D: RGB 64×64 renders, factors elevation, azimuth, object type."""

    title = "Cars3D"
    image_shape = (3, RESOLUTION, RESOLUTION)
    factor_names = FACTOR_NAMES
    #: the published files'; after `load`, those of the files read
    factor_sizes = (4, 24, 183)

    def __init__(self, spec: Cars3dParams) -> None:
        super().__init__()
        self.root = Path(spec.root).expanduser().absolute()

    @property
    def path(self) -> Path:
        """The folder of .mat files: `root` itself if it holds them, else cars/ or data/cars/."""
        for folder in (self.root, *(self.root / f for f in FOLDERS)):
            if folder.is_dir() and any(folder.glob("*.mat")):
                return folder
        return self.root / FOLDERS[0]

    def _read(self) -> tuple[torch.Tensor, torch.Tensor]:
        files = sorted(self.path.glob("*.mat"))
        if not files:
            raise DatasetError(
                f"Cars3D not found: no .mat files in {self.root}, {self.root / FOLDERS[0]} or "
                f"{self.root / FOLDERS[1]}.\nTo get it: {SOURCE}; or run "
                f"{download_hint('cars3d', self.root)}."
            )
        cars = [self._car(path) for path in files]
        shapes = {car.shape for car in cars}
        if len(shapes) > 1:
            raise DatasetError(
                f"Cars3D: the files in {self.path} hold different view grids: {sorted(shapes)}"
            )
        views = np.stack(cars, axis=2)  # [elevation, azimuth, car, 64, 64, 3]
        elevations, azimuths, n = views.shape[:3]
        images = torch.from_numpy(views.reshape(-1, RESOLUTION, RESOLUTION, 3))
        grid = (elevations, azimuths, n)
        factors = torch.cartesian_prod(*(torch.arange(size) for size in grid))
        return images.permute(0, 3, 1, 2).contiguous(), factors

    def _car(self, path: Path) -> np.ndarray:
        """One car's views resized, [elevation, azimuth, 64, 64, 3]."""
        from scipy.io import loadmat  # on first read: loading the plugins stays fast
        from scipy.io.matlab import MatReadError

        try:
            mesh = loadmat(path, variable_names=("im",))["im"]
        except (OSError, ValueError, KeyError, TypeError, MatReadError) as exc:
            raise DatasetError(self._unreadable(path, f"{type(exc).__name__}: {exc}")) from None
        if mesh.dtype != np.uint8 or mesh.ndim != 5 or mesh.shape[2] != 3:
            raise DatasetError(self._unreadable(path, f"im {mesh.dtype} {mesh.shape}"))
        views = np.einsum("hwcae->eahwc", mesh)
        size = (RESOLUTION, RESOLUTION)
        resized = [
            np.asarray(Image.fromarray(view).resize(size, Image.LANCZOS))
            for view in views.reshape(-1, *views.shape[2:])
        ]
        return np.stack(resized).reshape(*views.shape[:2], RESOLUTION, RESOLUTION, 3)

    def _unreadable(self, path: Path, problem: str) -> str:
        return (
            f"Cars3D: {path} is not a Cars3D car (expected a MATLAB file with `im` uint8 "
            f"[128, 128, 3, 24 azimuths, 4 elevations]): {problem}"
        )
