"""CelebA's aligned faces, centre-cropped and resized as in the InfoGAN paper (32×32 RGB)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from disentangle import Dataset, ImageData
from disentangle.errors import DatasetError
from disentangle_data.cache import CachedParams, Tensors, cache_file, cached, progress
from disentangle_data.images import Resolution, fit, list_images, open_image
from disentangle_data.sources import download_hint

IMAGE_FOLDER = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
#: the split column of list_eval_partition.txt
SPLITS = {"train": "0", "valid": "1", "test": "2"}
SOURCES = (
    "the official CelebA page, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    f"(Img/{IMAGE_FOLDER}.zip and Eval/{PARTITION_FILE}), or torchvision.datasets.CelebA(root, "
    "download=True)"
)


class CelebaParams(CachedParams):
    root: str = Field(
        "data",
        description=f"folder holding celeba/{IMAGE_FOLDER}/ (torchvision's layout), "
        f"{IMAGE_FOLDER}/, or the aligned JPEGs themselves (~ expanded)",
    )
    split: Literal["all", "train", "valid", "test"] = Field(
        "all", description=f"every image, or a split of {PARTITION_FILE} (which it then needs)"
    )
    crop: int = Field(
        140, ge=1, description="side of the centred square kept (the aligned images are 178×218)"
    )
    resolution: Resolution = Field(32, ge=8, description="image side in pixels after resizing")


class Celeba(Dataset):
    """CelebA faces, a centred square resized to `resolution`, RGB, no labels."""

    def __init__(self, spec: CelebaParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.split, self.crop, self.resolution = spec.split, spec.crop, spec.resolution
        self.cache, self.map_above = spec.cache, spec.map_above
        self.image_shape = (3, spec.resolution, spec.resolution)

    @property
    def layouts(self) -> tuple[tuple[Path, Path], ...]:
        """(image folder, partition file) of each layout accepted, in the order tried."""
        torchvision = self.root / "celeba"
        return (
            (torchvision / IMAGE_FOLDER, torchvision / PARTITION_FILE),
            (self.root / IMAGE_FOLDER, self.root / PARTITION_FILE),
            (self.root, self.root / PARTITION_FILE),
        )

    @property
    def prepared(self) -> Path | None:
        """The prepared cache's file (None when `cache` is off)."""
        key = f"c{self.crop}-r{self.resolution}"
        return cache_file(self.root, "celeba", self.split, key) if self.cache else None

    def load(self) -> ImageData:
        tensors = cached(self.prepared, self._build, self.map_above)
        return ImageData(images=tensors["images"], on_disk=tensors.mapped)

    def _build(self) -> Tensors:
        files = self._files()
        images = [
            fit(open_image(path, "RGB", path), self.resolution, self.crop)
            for path in progress(files, "Preparing CelebA")
        ]
        return {"images": torch.stack(images)}

    def _files(self) -> list[Path]:
        """The JPEGs of the split, from the first layout that has any."""
        for folder, partition in self.layouts:
            files = list_images(folder)
            if not files:
                continue
            if self.split == "all":
                return files
            if not partition.is_file():
                raise DatasetError(
                    f"CelebA: split {self.split!r} needs {partition} (lines `000001.jpg 0`: "
                    '0 train, 1 valid, 2 test), which is missing; use split = "all", or get '
                    f"{PARTITION_FILE} from {SOURCES}."
                )
            return self._split_files(folder, partition)
        raise DatasetError(self._not_found())

    def _split_files(self, folder: Path, partition: Path) -> list[Path]:
        rows = [line.split() for line in partition.read_text().splitlines() if line.strip()]
        if any(len(row) != 2 or row[1] not in SPLITS.values() for row in rows):
            raise DatasetError(
                f"CelebA: {partition} is not a partition list (lines `000001.jpg 0`: "
                "0 train, 1 valid, 2 test)."
            )
        files = [folder / name for name, split in rows if split == SPLITS[self.split]]
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise DatasetError(
                f"CelebA: {len(missing)} image(s) of {partition} missing from {folder}/, "
                f"e.g. {', '.join(missing[:3])}."
            )
        return files

    def _not_found(self) -> str:
        patterns = "\n".join(
            f"  {folder}/*.jpg (splits need {partition})" for folder, partition in self.layouts
        )
        return (
            f"CelebA not found under {self.root}: expected aligned JPEGs in one of\n{patterns}\n"
            f"(torchvision's layout, the official archives unpacked, or a plain folder).\n"
            f"To get them: download {IMAGE_FOLDER}.zip from {SOURCES}; or run "
            f"{download_hint('celeba', self.root)}."
        )
