"""3D Faces (Basel Face Model renders, as DC-IGN used them) from Torch7 batches or images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from pydantic import Field

from disentangle import Dataset, ImageData
from disentangle.errors import DatasetError
from disentangle_data.cache import CachedParams, Tensors, cache_file, cached, progress
from disentangle_data.images import Resolution, fit, list_images, open_image
from disentangle_data.sources import download_hint
from disentangle_data.torch7 import Torch7Error, read_tensor

#: each variation's folder, in the order of the "variation" factor's indices
VARIATIONS = {
    "azimuth": "th_AZ_VARIED",
    "elevation": "th_EL_VARIED",
    "lighting": "th_LIGHT_AZ_VARIED",
    "shape": "th_SHAPE_VARIED",
}
SPLIT_FOLDERS = {"train": "FT_training", "test": "FT_test"}
#: a Torch7 batch file of DC-IGN, read in the order of its number
BATCH = re.compile(r"batch(\d+)(?:\.t7)?")
SOURCE = (
    "the 3D face renders of the Basel Face Model that DC-IGN (Kulkarni et al., NeurIPS 2015) "
    "trained on, distributed with its code: https://github.com/willwhitney/dc-ign"
)


class FacesParams(CachedParams):
    root: str = Field(
        "data",
        description="folder holding th_AZ_VARIED/, th_EL_VARIED/, th_LIGHT_AZ_VARIED/ and "
        "th_SHAPE_VARIED/, or a plain folder of face images (~ expanded)",
    )
    split: Literal["train", "test"] = Field(
        "train", description="FT_training or FT_test (a plain folder has no splits)"
    )
    variation: Literal["all", "azimuth", "elevation", "lighting", "shape"] = Field(
        "all", description="the folder(s) read: all four, or the one varying that factor"
    )
    resolution: Resolution = Field(32, ge=8, description="image side in pixels after resizing")


class Faces(Dataset):
    """3D Faces, 150×150 renders resized to `resolution`, grayscale, with their variation."""

    #: which folder an image came from (an index into VARIATIONS); absent for a plain folder
    factor_names = ("variation",)
    factor_sizes = (len(VARIATIONS),)

    def __init__(self, spec: FacesParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.split, self.variation, self.resolution = spec.split, spec.variation, spec.resolution
        self.cache, self.map_above = spec.cache, spec.map_above
        self.image_shape = (1, spec.resolution, spec.resolution)

    @property
    def prepared(self) -> Path | None:
        """The prepared cache's file (None when `cache` is off)."""
        key = f"{self.variation}-r{self.resolution}"
        return cache_file(self.root, "faces", self.split, key) if self.cache else None

    def load(self) -> ImageData:
        tensors = cached(self.prepared, self._build, self.map_above)
        if "factors" not in tensors:
            return ImageData(images=tensors["images"], on_disk=tensors.mapped)
        return ImageData(
            images=tensors["images"],
            on_disk=tensors.mapped,
            factors=tensors["factors"],
            factor_names=self.factor_names,
            factor_sizes=self.factor_sizes,
        )

    def _build(self) -> Tensors:
        images, variations = [], []
        for variation, path in progress(self._sources(), "Preparing 3D Faces"):
            frames = self._frames(path)
            images.append(frames)
            variations += [variation] * len(frames)
        tensors = {"images": torch.cat(images)}
        if variations[0] is not None:
            tensors["factors"] = torch.tensor(variations).unsqueeze(1)
        return tensors

    def _sources(self) -> list[tuple[int | None, Path]]:
        """Each file to read with its variation index (None in a plain folder), in order."""
        if not any((self.root / folder).is_dir() for folder in VARIATIONS.values()):
            files = list_images(self.root)
            if not files:
                raise DatasetError(
                    self._not_found(f"no th_*_VARIED folder and no image in {self.root}")
                )
            if self.variation != "all":
                raise DatasetError(
                    f"3D Faces: variation {self.variation!r} needs the "
                    f"{VARIATIONS[self.variation]}/ folder, but {self.root} is a plain folder "
                    'of images; use variation = "all".'
                )
            return [(None, path) for path in files]
        names = list(VARIATIONS) if self.variation == "all" else [self.variation]
        sources: list[tuple[int | None, Path]] = []
        for name in names:
            folder = self.root / VARIATIONS[name] / SPLIT_FOLDERS[self.split]
            batches = sorted(
                (int(match[1]), path)
                for path in (folder.iterdir() if folder.is_dir() else ())
                if (match := BATCH.fullmatch(path.name))
            )
            files = [path for _, path in batches] or list_images(folder)
            if not files:
                raise DatasetError(self._not_found(f"no batch file or image in {folder}"))
            sources += [(list(VARIATIONS).index(name), path) for path in files]
        return sources

    def _frames(self, path: Path) -> torch.Tensor:
        """The images of one file (a Torch7 batch, or an image), resized: uint8 [n, 1, H, W]."""
        if not BATCH.fullmatch(path.name):
            return fit(open_image(path, "L", path), self.resolution)[None]
        try:
            tensor = read_tensor(path.read_bytes())
        except (OSError, Torch7Error) as exc:
            raise DatasetError(f"3D Faces: {path} is not a Torch7 tensor file: {exc}") from None
        if not (tensor.dim() in (2, 3) or (tensor.dim() == 4 and tensor.shape[1] == 1)):
            raise DatasetError(
                f"3D Faces: {path} holds a tensor of shape {tuple(tensor.shape)}; expected "
                "grayscale images [N, 1, H, W], [N, H, W] or [H, W]"
            )
        frames = tensor.reshape(-1, *tensor.shape[-2:])
        if frames.is_floating_point():  # DC-IGN's images are floats in [0, 1]
            frames = frames.mul(255).round_().clamp_(0, 255)
        frames = frames.to(torch.uint8)
        return torch.stack([fit(Image.fromarray(f.numpy()), self.resolution) for f in frames])

    def _not_found(self, problem: str) -> str:
        folders = "|".join(VARIATIONS.values())
        splits = "|".join(SPLIT_FOLDERS.values())
        return (
            f"3D Faces not found at {self.root} ({problem}): expected DC-IGN's layout\n"
            f"  {self.root}/{{{folders}}}/{{{splits}}}/batch<N>[.t7] (Torch7 tensors of 150×150 "
            "grayscale images), or .../*.png in the same folders,\n"
            f"  or a plain folder of face images, {self.root}/*.png|*.jpg.\n"
            f"To get it: {SOURCE} ({download_hint('faces', self.root)} says how)."
        )
