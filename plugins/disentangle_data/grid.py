"""Ground-truth datasets read from a file that holds each factor combination once, in grid order."""

from __future__ import annotations

import math
from abc import abstractmethod
from pathlib import Path

import torch

from disentangle import GroundTruthDataset, ImageData
from disentangle.errors import DatasetError


def grid_index(factors: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Each row's position in the grid: the mixed-radix number of its factor indices, [n]."""
    index = torch.zeros(len(factors), dtype=torch.int64)
    for k, size in enumerate(sizes):
        index = index * size + factors[:, k]
    return index


def sample_grid(sizes: tuple[int, ...], n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` factor-index rows drawn uniformly and independently per factor, int64 [n, K]."""
    return torch.stack([torch.randint(size, (n,), generator=generator) for size in sizes], 1)


def checked_factors(factors: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Factor-index rows as int64 on the CPU; a wrong shape or index raises ValueError."""
    factors = factors.to("cpu", torch.int64)
    if factors.dim() != 2 or factors.shape[1] != len(sizes):
        raise ValueError(f"factors must be [n, {len(sizes)}], got {tuple(factors.shape)}")
    if ((factors < 0) | (factors >= torch.tensor(sizes))).any():
        raise ValueError(f"factor indices out of range for sizes {sizes}")
    return factors


class GridFile(GroundTruthDataset):
    """A file of every factor combination in grid order: `render` looks the images up by index."""

    #: the dataset's name in messages
    title: str

    def __init__(self) -> None:
        self._data: ImageData | None = None
        #: whether `_read` memory-mapped the images from the file
        self.on_disk = False

    @property
    @abstractmethod
    def path(self) -> Path:
        """The file read."""

    @abstractmethod
    def _read(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The file's images, uint8 [N, C, H, W], and factor indices, int64 [N, K], in its order."""

    def load(self) -> ImageData:
        """The whole file, read once and kept for `render`; the factor sizes are the file's own."""
        if self._data is None:
            images, factors = self._read()
            sizes = tuple((factors.amax(0) + 1).tolist())
            whole = len(factors) == math.prod(sizes) and (factors >= 0).all()
            if not (whole and torch.equal(grid_index(factors, sizes), torch.arange(len(factors)))):
                raise DatasetError(
                    f"{self.title}: {self.path} does not hold each combination of its factors "
                    f"{self.factor_names} once, in grid order (the official file's: the last "
                    "factor varies fastest)."
                )
            self.factor_sizes = sizes
            self._data = ImageData(
                images=images,
                factors=factors,
                factor_names=self.factor_names,
                factor_sizes=sizes,
                on_disk=self.on_disk,
            )
        return self._data

    def sample_factors(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` factor-index rows drawn uniformly and independently per factor, int64 [n, K]."""
        return sample_grid(self.load().factor_sizes, n, generator)

    def render(self, factors: torch.Tensor) -> torch.Tensor:
        """The file's images of factor-index rows [n, K], uint8 [n, C, H, W]."""
        data = self.load()
        factors = checked_factors(factors, data.factor_sizes)
        return data.images[grid_index(factors, data.factor_sizes)]
