"""SmallNORB (LeCun et al. 2004) as disentanglement_lib reads it: toys under 4 factors.

The NYU files are binary matrices (a magic number for the type, the rank, the dimensions, then
the data, little-endian): `-dat` uint8 [N, 2, 96, 96] (two cameras), `-cat` int32 [N] (the
category), `-info` int32 [N, 4] (instance, elevation, azimuth 0, 2, …, 34, lighting), for the
training and the testing half. As disentanglement_lib: the first camera's image resized to
64×64 (Lanczos), factors category 5, elevation 9, azimuth 18, lighting 6; the instance (10 per
category, 5 in each half) is not a factor: rendering a combination shows one of its instances,
drawn once per combination from `seed` (disentanglement_lib draws one at each sample).
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from disentangle import GroundTruthDataset, ImageData, Params
from disentangle.errors import DatasetError
from disentangle_data.grid import checked_factors, grid_index, sample_grid
from disentangle_data.nuisance import uniform
from disentangle_data.sources import download_hint

CHUNKS = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")
PARTS = ("dat", "cat", "info")
FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
#: the binary matrices' magic numbers: ubyte, int32, float32, float64
MAGIC = {0x1E3D4C55: np.uint8, 0x1E3D4C54: np.int32, 0x1E3D4C51: np.float32, 0x1E3D4C53: np.float64}
SOURCE = "download the six smallnorb-*.mat.gz files from https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
RESOLUTION = 64
#: the factors' columns of [category, instance, elevation, azimuth, lighting]
FACTORS = [0, 2, 3, 4]


def file_name(chunk: str, part: str) -> str:
    return f"smallnorb-{chunk}-{part}.mat"


def read_matrix(path: Path) -> np.ndarray:
    """A binary matrix file (or its .gz); ValueError where it is not one."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 8:
        raise ValueError("shorter than a header")
    magic, rank = np.frombuffer(data, "<i4", 2)
    if int(magic) not in MAGIC or not 0 < rank <= 8:
        raise ValueError(f"magic {int(magic):#x} and rank {int(rank)} are not a matrix header")
    head = 8 + 4 * max(3, int(rank))
    shape = tuple(int(d) for d in np.frombuffer(data, "<i4", int(rank), 8))
    dtype = np.dtype(MAGIC[int(magic)]).newbyteorder("<")
    if len(data) != head + math.prod(shape) * dtype.itemsize:
        raise ValueError(f"{len(data) - head} bytes of data for shape {shape} of {dtype}")
    return np.frombuffer(data, dtype, offset=head).reshape(shape)


def resize(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 96, 96] -> [n, 64, 64], Lanczos, as disentanglement_lib (PIL's ANTIALIAS)."""
    size = (RESOLUTION, RESOLUTION)
    return np.stack([np.asarray(Image.fromarray(i).resize(size, Image.LANCZOS)) for i in images])


class SmallnorbParams(Params):
    root: str = Field("data", description="folder holding the six smallnorb-*.mat(.gz) files")
    seed: int = Field(0, description="which instance each factor combination renders")


class Smallnorb(GroundTruthDataset):
    """SmallNORB: gray 64×64, factors category, elevation, azimuth, lighting; the instance is
    a nuisance."""

    image_shape = (1, RESOLUTION, RESOLUTION)
    factor_names = FACTOR_NAMES
    #: the official files'; after `load`, those of the files read
    factor_sizes = (5, 9, 18, 6)

    def __init__(self, spec: SmallnorbParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.seed = spec.seed
        self._data: ImageData | None = None
        self._rows: np.ndarray | None = None  # [combinations, instances] rows of the images

    def load(self) -> ImageData:
        """Both halves, every image once, with its factors (not its instance)."""
        if self._data is None:
            images, factors = zip(*(self._chunk(chunk) for chunk in CHUNKS), strict=True)
            factors = np.concatenate(factors)
            self._rows = self._table(factors)
            self._data = ImageData(
                images=torch.from_numpy(np.concatenate(images)).unsqueeze(1),
                factors=torch.from_numpy(factors[:, FACTORS]),
                factor_names=FACTOR_NAMES,
                factor_sizes=self.factor_sizes,
            )
        return self._data

    def sample_factors(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` factor-index rows drawn uniformly and independently per factor, int64 [n, 4]."""
        return sample_grid(self.load().factor_sizes, n, generator)

    def render(self, factors: torch.Tensor) -> torch.Tensor:
        """An image of each factor row [n, 4]: the instance its combination draws from `seed`."""
        data = self.load()
        index = grid_index(checked_factors(factors, self.factor_sizes), self.factor_sizes).numpy()
        instances = self._rows.shape[1]
        pick = (uniform(self.seed, index, 1)[:, 0] * instances).astype(np.int64)
        return data.images[torch.from_numpy(self._rows[index, pick])]

    def _path(self, chunk: str, part: str) -> Path:
        plain = self.root / file_name(chunk, part)
        gz = plain.with_name(plain.name + ".gz")
        return gz if gz.is_file() and not plain.is_file() else plain

    def _chunk(self, chunk: str) -> tuple[np.ndarray, np.ndarray]:
        """One half's resized first-camera images [n, 64, 64] and [category, instance,
        elevation, azimuth / 2, lighting] [n, 5]."""
        paths = {part: self._path(chunk, part) for part in PARTS}
        missing = [p for p in paths.values() if not p.is_file()]
        if missing:
            raise DatasetError(
                f"SmallNORB not found: no {missing[0]} (nor .gz) in {self.root}, which needs "
                f"the six files smallnorb-<half>-dat/cat/info.mat(.gz).\nTo get them: {SOURCE}; "
                f"or run {download_hint('smallnorb', self.root)}."
            )
        try:
            dat, cat, info = (read_matrix(paths[part]) for part in PARTS)
        except (OSError, ValueError, EOFError) as exc:
            raise DatasetError(self._unreadable(chunk, f"{type(exc).__name__}: {exc}")) from None
        n = len(dat)
        if dat.dtype != np.uint8 or dat.shape[1:] != (2, 96, 96) or n == 0:
            raise DatasetError(self._unreadable(chunk, f"-dat {dat.dtype} {dat.shape}"))
        int32 = {cat.dtype, info.dtype} == {np.dtype(np.int32)}
        if cat.shape != (n,) or info.shape != (n, 4) or not int32:
            problem = f"-cat {cat.dtype} {cat.shape}, -info {info.dtype} {info.shape}"
            raise DatasetError(self._unreadable(chunk, f"{problem} for {n} images"))
        if (info[:, 2] % 2).any():
            raise DatasetError(self._unreadable(chunk, "-info holds an odd azimuth"))
        factors = np.column_stack([cat, info[:, 0], info[:, 1], info[:, 2] // 2, info[:, 3]])
        if (factors < 0).any():
            raise DatasetError(self._unreadable(chunk, "a negative category or -info value"))
        return resize(dat[:, 0]), factors.astype(np.int64)

    def _table(self, factors: np.ndarray) -> np.ndarray:
        """[combinations, instances]: the image row of each combination's instances, in
        instance order; the files must hold every combination with as many instances."""
        sizes = tuple(int(s) for s in factors[:, FACTORS].max(axis=0) + 1)
        index = grid_index(torch.from_numpy(factors[:, FACTORS]), sizes).numpy()
        counts = np.bincount(index, minlength=math.prod(sizes))
        if counts.min() != counts.max():
            raise DatasetError(
                f"SmallNORB in {self.root}: the factor combinations of {sizes} "
                f"({', '.join(FACTOR_NAMES)}) hold {counts.min()} to {counts.max()} instances; "
                "the official files hold each with 10 (5 in each half)"
            )
        self.factor_sizes = sizes
        order = np.lexsort((factors[:, 1], index))  # by combination, then instance
        return order.reshape(len(counts), int(counts[0]))

    def _unreadable(self, chunk: str, problem: str) -> str:
        return (
            f"SmallNORB: {self.root} does not hold the {chunk} half as NYU's binary matrices "
            "(expected -dat uint8 [N, 2, 96, 96], -cat int32 [N], -info int32 [N, 4] of "
            f"instance, elevation, azimuth 0-34 even, lighting): {problem}"
        )
