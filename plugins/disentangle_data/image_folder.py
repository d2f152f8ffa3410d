"""Any folder of images: the images directly in it, or one subfolder per class (the labels,
numbered by sorted subfolder name), each centre-cropped to a square and resized."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from disentangle import Dataset, ImageData
from disentangle.errors import DatasetError
from disentangle_data.cache import CachedParams, Tensors, cache_file, cached, progress
from disentangle_data.images import IMAGE_SUFFIXES, Resolution, fit, list_images, open_image


class ImageFolderParams(CachedParams):
    root: str = Field(
        ..., description="the folder: its images, or one subfolder of images per class"
    )
    resolution: Resolution = Field(64, ge=8, description="image side in pixels after resizing")
    channels: Literal[1, 3] = Field(3, description="1: grayscale, 3: RGB")


class ImageFolder(Dataset):
    """A folder's images (with class labels when they sit in subfolders)."""

    def __init__(self, spec: ImageFolderParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.resolution, self.channels, self.cache = spec.resolution, spec.channels, spec.cache
        self.map_above = spec.map_above
        self.image_shape = (spec.channels, spec.resolution, spec.resolution)

    @property
    def prepared(self) -> Path | None:
        """The prepared cache's file (None when `cache` is off)."""
        key = f"c{self.channels}-r{self.resolution}"
        return cache_file(self.root, "image_folder", "", key) if self.cache else None

    def load(self) -> ImageData:
        tensors = cached(self.prepared, self._build, self.map_above)
        labels = tensors.get("labels")
        return ImageData(images=tensors["images"], labels=labels, on_disk=tensors.mapped)

    def files(self) -> tuple[list[Path], torch.Tensor | None]:
        """The images, and each one's class index when they sit in class subfolders."""
        direct = list_images(self.root)
        if direct:
            return direct, None
        classes = sorted(p for p in self.root.iterdir() if p.is_dir() and list_images(p))
        if not classes:
            raise DatasetError(
                f"{self.root}: no images ({', '.join(IMAGE_SUFFIXES)}) in it or in its "
                "subfolders; image_folder reads ROOT/*.jpg, or ROOT/<class>/*.jpg"
            )
        files, labels = [], []
        for index, folder in enumerate(classes):
            found = list_images(folder)
            files += found
            labels += [index] * len(found)
        return files, torch.tensor(labels)

    def _build(self) -> Tensors:
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such folder (dataset.root)")
        files, labels = self.files()
        mode = "L" if self.channels == 1 else "RGB"
        images = [
            fit(open_image(path, mode, path), self.resolution)
            for path in progress(files, "Preparing the image folder")
        ]
        tensors = {"images": torch.stack(images)}
        return tensors if labels is None else {**tensors, "labels": labels}
