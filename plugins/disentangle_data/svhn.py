"""SVHN digits from torchvision's .mat files, read with scipy as torchvision does, minus its md5."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from disentangle import Dataset, ImageData
from disentangle.errors import DatasetError
from disentangle_data.cache import CachedParams, Tensors, cache_file, cached
from disentangle_data.sources import download_hint

SPLIT_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}
HOME_PAGE = "http://ufldl.stanford.edu/housenumbers/"


class SvhnParams(CachedParams):
    root: str = Field("data", description="folder holding <split>_32x32.mat (~ expanded)")
    split: Literal["train", "test", "extra"] = Field(
        "train", description="train (73,257), test (26,032) or extra (531,131)"
    )
    download: bool = Field(False, description="fetch the split's file into root when missing")


class Svhn(Dataset):
    """Street View House Numbers, 32×32 RGB, labels 0-9 (the files' label 10 is the digit 0)."""

    image_shape = (3, 32, 32)

    def __init__(self, spec: SvhnParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.split, self.download, self.cache = spec.split, spec.download, spec.cache
        self.map_above = spec.map_above

    @property
    def path(self) -> Path:
        return self.root / SPLIT_FILES[self.split]

    @property
    def prepared(self) -> Path | None:
        """The prepared cache's file (None when `cache` is off)."""
        return cache_file(self.root, "svhn", self.split) if self.cache else None

    def load(self) -> ImageData:
        tensors = cached(self.prepared, self._build, self.map_above)
        return ImageData(images=tensors["images"], labels=tensors["labels"], on_disk=tensors.mapped)

    def _build(self) -> Tensors:
        # not torchvision's SVHN class: its md5 check refuses any file but the official one
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError

        if self.download and not self.path.is_file():
            self._fetch()
        if not self.path.is_file():
            raise DatasetError(self._not_found())
        try:
            mat = loadmat(self.path, variable_names=("X", "y"))
            images, labels = torch.from_numpy(mat["X"]), torch.from_numpy(mat["y"])
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            MatReadError,
        ) as exc:  # not a MATLAB file, or no X/y
            raise DatasetError(self._unreadable(f"{type(exc).__name__}: {exc}")) from None
        if (
            images.dim() != 4
            or tuple(images.shape[:3]) != (32, 32, 3)
            or images.dtype != torch.uint8
            or labels.numel() != images.shape[3]
        ):
            problem = f"X {images.dtype} {tuple(images.shape)}, y {tuple(labels.shape)}"
            raise DatasetError(self._unreadable(problem))
        labels = labels.reshape(-1).long()
        labels[labels == 10] = 0
        # X is [H, W, C, N] in MATLAB order; torchvision transposes it the same way
        return {"images": images.permute(3, 2, 0, 1).contiguous(), "labels": labels}

    def _fetch(self) -> None:
        from torchvision.datasets import SVHN
        from torchvision.datasets.utils import download_url

        url, filename, md5 = SVHN.split_list[self.split]
        try:
            download_url(url, str(self.root), filename, md5)
        except (OSError, RuntimeError) as exc:  # offline, refused, or a bad checksum
            raise DatasetError(
                f"{self._not_found()}\nThe download failed: {' '.join(str(exc).split())}"
            ) from None

    def _not_found(self) -> str:
        return (
            f"SVHN not found: expected the {self.split} split at {self.path} "
            f"(torchvision's layout: <root>/{', <root>/'.join(SPLIT_FILES.values())}).\n"
            "To get it: set `download = true` in the recipe's [dataset] table when online, or "
            f"download {SPLIT_FILES[self.split]} (format 2, cropped digits) from the Stanford SVHN "
            f"page, {HOME_PAGE}, into {self.root}/; or run {download_hint('svhn', self.root)}."
        )

    def _unreadable(self, problem: str) -> str:
        return (
            f"SVHN: {self.path} is not a valid SVHN .mat file (expected X uint8 [32, 32, 3, N] "
            f"and y [N, 1]): {problem}"
        )
