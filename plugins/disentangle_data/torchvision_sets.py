"""MNIST and Fashion-MNIST from their four IDX files, as they are or gzipped, in torchvision's
layout (`<root>/<Name>/raw/`) or directly in the root (as Debian and the upstream repository
ship them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from disentangle import Dataset, ImageData, Params
from disentangle.errors import DatasetError
from disentangle_data.idx import IdxError, read_idx
from disentangle_data.sources import download_hint

#: the files a folder must hold (each as it is or as .gz), whichever split is read
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DEFAULT_ROOT = "data"


class IdxParams(Params):
    root: str = Field(
        DEFAULT_ROOT,
        description="folder holding <Name>/raw/ with the IDX files, or the files themselves "
        "(each may be gzipped; ~ expanded)",
    )
    split: Literal["train", "test"] = Field("train", description="train (60k) or test (10k)")
    download: bool = Field(False, description="fetch the files into root when they are missing")
    limit: int | None = Field(
        None,
        ge=1,
        description="train on only the first `limit` images of the train split (all when "
        "unset); the test split is always read whole, so every limit is scored on the same images",
    )


def idx_file(folder: Path, name: str) -> Path | None:
    """`name` in `folder`, as it is or gzipped (the uncompressed one first); None if neither."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return path
    return None


class IdxDataset(Dataset):
    """The four IDX files of a folder, one split read whole."""

    image_shape = (1, 28, 28)
    #: torchvision's class name, which is also its folder name under root
    source: str
    title: str
    #: the registered dataset name
    name: str
    #: where a system package puts the files, read when `root` is the default and holds none
    system_folder: Path | None = None
    system_package: str = ""

    def __init__(self, spec: IdxParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.split, self.download, self.limit = spec.split, spec.download, spec.limit
        self.default_root = spec.root == DEFAULT_ROOT

    @property
    def raw_folder(self) -> Path:
        return self.root / self.source / "raw"

    @property
    def folders(self) -> list[Path]:
        """The folders tried, in order: torchvision's layout, the root, the system package's."""
        folders = [self.raw_folder, self.root]
        if self.default_root and self.system_folder is not None:
            folders.append(self.system_folder)
        return folders

    def load(self) -> ImageData:
        folder = self._folder()
        prefix = "train" if self.split == "train" else "t10k"
        images = self._read(folder, f"{prefix}-images-idx3-ubyte")
        labels = self._read(folder, f"{prefix}-labels-idx1-ubyte")
        if images.dim() != 3 or tuple(images.shape[1:]) != self.image_shape[1:]:
            raise DatasetError(self._unreadable(folder, f"images {tuple(images.shape)}"))
        if labels.dim() != 1 or len(labels) != len(images):
            problem = f"images {tuple(images.shape)}, labels {tuple(labels.shape)}"
            raise DatasetError(self._unreadable(folder, problem))
        if self.limit is not None and self.split == "train":
            images, labels = images[: self.limit], labels[: self.limit]
        return ImageData(images=images.unsqueeze(1), labels=labels.long())

    def _folder(self) -> Path:
        """The first folder holding all four files, fetched first if asked and missing."""
        found = [f for f in self.folders if all(idx_file(f, name) for name in IDX_FILES)]
        if found:
            return found[0]
        if not self.download:
            raise DatasetError(self._not_found()) from None
        from torchvision import datasets

        try:
            getattr(datasets, self.source)(self.root, download=True)
        except (RuntimeError, OSError) as exc:  # offline, refused, or a bad checksum
            problem = " ".join(str(exc).split())
            raise DatasetError(f"{self._not_found()}\nThe download failed: {problem}") from None
        return self.raw_folder

    def _read(self, folder: Path, name: str) -> torch.Tensor:
        path = idx_file(folder, name) or folder / name
        try:
            return read_idx(path)
        except IdxError as exc:
            raise DatasetError(self._unreadable(folder, f"{path.name}: {exc}")) from None

    def _not_found(self) -> str:
        raw = self.raw_folder
        missing = [str(raw / name) for name in IDX_FILES if idx_file(raw, name) is None]
        lines = [
            f"{self.title} not found: expected all four IDX files (for either split; each as it "
            f"is or gzipped, .gz) in {raw}/ (torchvision's layout) or in {self.root}/: "
            f"{', '.join(IDX_FILES)}.",
            f"Missing: {', '.join(missing)}.",
        ]
        if self.system_folder is not None:
            lines.append(
                f"(Debian's `apt-get install {self.system_package}` puts them in "
                f"{self.system_folder}/, read when root is the default, {DEFAULT_ROOT!r}.)"
            )
        lines.append(
            f"To get them: {download_hint(self.name, self.root)}; or set `download = true` in "
            "the recipe's [dataset] table when online; or copy the IDX files there."
        )
        return "\n".join(lines)

    def _unreadable(self, folder: Path, problem: object) -> str:
        return f"{self.title}: the IDX files in {folder} are not valid: {problem}"


class Mnist(IdxDataset):
    """Handwritten digits, 28×28 grayscale, 10 classes."""

    source, title, name = "MNIST", "MNIST", "mnist"


class FashionMnist(IdxDataset):
    """Zalando's clothing images, 28×28 grayscale, 10 classes."""

    source, title, name = "FashionMNIST", "Fashion-MNIST", "fashion_mnist"
    system_folder = Path("/usr/share/datasets/fashion-mnist")
    system_package = "dataset-fashion-mnist"
