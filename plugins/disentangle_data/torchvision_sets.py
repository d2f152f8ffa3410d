"""MNIST and Fashion-MNIST read by torchvision from uncompressed IDX files under a local root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from disentangle import Dataset, ImageData, Params
from disentangle.errors import DatasetError

#: the files torchvision requires under <root>/<folder>/raw/, whichever split is read
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class IdxParams(Params):
    root: str = Field(
        "data", description="folder holding <Name>/raw/ with the IDX files (~ expanded)"
    )
    split: Literal["train", "test"] = Field("train", description="train (60k) or test (10k)")
    download: bool = Field(False, description="fetch the files into root when they are missing")
    limit: int | None = Field(
        None,
        ge=1,
        description="train on only the first `limit` images of the train split (all when "
        "unset); the test split is always read whole, so every limit is scored on the same images",
    )


class IdxDataset(Dataset):
    """A torchvision IDX dataset, read whole from its `.data` and `.targets` tensors."""

    image_shape = (1, 28, 28)
    #: the torchvision class, which is also the folder name under root
    source: str
    title: str

    def __init__(self, spec: IdxParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.split, self.download, self.limit = spec.split, spec.download, spec.limit

    @property
    def raw_folder(self) -> Path:
        return self.root / self.source / "raw"

    def load(self) -> ImageData:
        from torchvision import datasets

        try:
            source = getattr(datasets, self.source)(
                self.root, train=self.split == "train", download=self.download
            )
        except (RuntimeError, OSError) as exc:  # not found, or a download that failed
            raise DatasetError(self._not_found(exc)) from None
        except (AssertionError, KeyError, IndexError, TypeError, ValueError) as exc:  # malformed
            detail = str(exc) or "a damaged header (e.g. an unknown data type code)"
            raise DatasetError(self._unreadable(detail)) from None
        images, labels = source.data, source.targets
        if tuple(images.shape[1:]) != self.image_shape[1:] or len(labels) != len(images):
            raise DatasetError(
                self._unreadable(f"images {tuple(images.shape)}, labels {tuple(labels.shape)}")
            )
        if self.limit is not None and self.split == "train":
            images, labels = images[: self.limit], labels[: self.limit]
        return ImageData(images=images.unsqueeze(1), labels=labels.long())

    def _not_found(self, exc: Exception) -> str:
        missing = [name for name in IDX_FILES if not (self.raw_folder / name).is_file()]
        if not missing:
            return self._unreadable(exc)
        lines = [
            f"{self.title} not found: torchvision needs all four uncompressed IDX files in "
            f"{self.raw_folder}/ (for either split): {', '.join(IDX_FILES)}.",
            f"Missing: {', '.join(str(self.raw_folder / name) for name in missing)}.",
        ]
        if self.download:
            lines.append(f"The download failed: {' '.join(str(exc).split())}")
            lines.append("Copy the IDX files there instead (gunzip any .gz first).")
        else:
            lines.append(
                "To get them: set `download = true` in the recipe's [dataset] table when online "
                "(it also unpacks the official .gz archives found there), or copy the IDX files "
                "there (gunzip any .gz first)."
            )
        return "\n".join(lines)

    def _unreadable(self, problem: object) -> str:
        return f"{self.title}: the IDX files in {self.raw_folder} are not valid: {problem}"


class Mnist(IdxDataset):
    """Handwritten digits, 28×28 grayscale, 10 classes."""

    source, title = "MNIST", "MNIST"


class FashionMnist(IdxDataset):
    """Zalando's clothing images, 28×28 grayscale, 10 classes."""

    source, title = "FashionMNIST", "Fashion-MNIST"
