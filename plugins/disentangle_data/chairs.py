"""Aubry et al.'s 3D Chairs renders: cropped to the chair, grayscale, elevation/azimuth factors."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch
from PIL import Image
from pydantic import Field

from disentangle import Dataset, ImageData
from disentangle.errors import DatasetError
from disentangle_data.cache import CachedParams, Tensors, cache_file, cached, progress
from disentangle_data.images import Resolution, fit, open_image
from disentangle_data.sources import download_hint
from disentangle_data.unpack import whole_tar

FOLDER, ARCHIVE = "rendered_chairs", "rendered_chairs.tar"
#: a render inside the folder or the archive: chair, elevation (p020/p030), azimuth (t000-t348)
RENDER = re.compile(r"(?:^|/)([^/]+)/renders/image_\d+_p(\d+)_t(\d+)_r\d+\.png$")
PATTERN = "<chair>/renders/image_NNN_p<elevation>_t<azimuth>_r096.png"
#: gray levels from this up count as the white background when cropping
WHITE = 250
#: space kept around the chair, as a fraction of its larger side, on each side
MARGIN = 0.05
SOURCE = (
    f"the 3D Chairs dataset of Aubry et al. (CVPR 2014): download {ARCHIVE} from "
    "https://www.di.ens.fr/willow/research/seeing3Dchairs/"
)


class ChairsParams(CachedParams):
    root: str = Field(
        "data",
        description=f"folder holding {FOLDER}/, {FOLDER}/ itself, or {ARCHIVE} (~ expanded)",
    )
    resolution: Resolution = Field(64, ge=8, description="image side in pixels after cropping")
    invert: bool = Field(
        True,
        description="a light chair on a black background, which suits G's sigmoid and zero "
        "padding (false: the renders' dark chair on white)",
    )


class Chairs(Dataset):
    """3D Chairs, 62 views per chair (2 elevations × 31 azimuths), grayscale, chair filling it."""

    #: the factor sizes (chairs, elevations, azimuths) come from the data, in load's ImageData
    factor_names = ("chair", "elevation", "azimuth")

    def __init__(self, spec: ChairsParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.resolution, self.invert, self.cache = spec.resolution, spec.invert, spec.cache
        self.map_above = spec.map_above
        self.image_shape = (1, spec.resolution, spec.resolution)

    @property
    def prepared(self) -> Path | None:
        """The prepared cache's file (None when `cache` is off)."""
        archive = self.root.name.endswith((".tar", ".tar.gz", ".tgz"))
        folder = self.root.parent if archive else self.root
        key = f"r{self.resolution}-{'inverted' if self.invert else 'plain'}"
        return cache_file(folder, "chairs", "all", key) if self.cache else None

    def load(self) -> ImageData:
        tensors = cached(self.prepared, self._build, self.map_above)
        factors = tensors["factors"]
        return ImageData(
            images=tensors["images"],
            on_disk=tensors.mapped,
            factors=factors,
            factor_names=self.factor_names,
            factor_sizes=tuple((factors.amax(0) + 1).tolist()),
        )

    def _build(self) -> Tensors:
        folder = self.root / FOLDER
        if not folder.is_dir():
            archive = self.root / ARCHIVE if (self.root / ARCHIVE).is_file() else self.root
            if archive.is_file():
                return self._read_archive(archive)
            folder = self.root
        files = {p.relative_to(folder).as_posix(): p for p in folder.glob("*/renders/*.png")}
        return self._read(list(files), files.__getitem__)

    def _read_archive(self, archive: Path) -> Tensors:
        """The renders read straight from the tar archive, without unpacking it."""
        try:
            with tarfile.open(archive) as tar:
                members = {m.name: m for m in whole_tar(tar, archive) if m.isfile()}
                return self._read(list(members), lambda name: tar.extractfile(members[name]))
        except tarfile.TarError as exc:
            raise DatasetError(
                self._not_found(f"{archive} is not a valid tar archive: {exc}")
            ) from None

    def _read(self, names: list[str], open_: Callable[[str], Path | IO[bytes]]) -> Tensors:
        """Preprocess the renders among `names` in (chair, elevation, azimuth) order."""
        views = sorted(
            (match[1], int(match[2]), int(match[3]), name)
            for name in names
            if (match := RENDER.search(name))
        )
        if not views:
            raise DatasetError(self._not_found(f"no file named like {PATTERN}"))
        index = [
            {value: i for i, value in enumerate(sorted({v[k] for v in views}))} for k in (0, 1, 2)
        ]
        factors = torch.tensor([[index[k][view[k]] for k in (0, 1, 2)] for view in views])
        images = [
            self._preprocess(open_image(open_(name), "L", name))
            for *_, name in progress(views, "Preparing 3D Chairs")
        ]
        return {"images": torch.stack(images), "factors": factors}

    def _preprocess(self, image: Image.Image) -> torch.Tensor:
        """Crop to the chair's bounding box, squared around its centre with a margin; resize."""
        box = image.point(lambda level: 255 if level < WHITE else 0).getbbox()
        if box is not None:
            left, top, right, bottom = box
            side = round(max(right - left, bottom - top) * (1 + 2 * MARGIN))
            canvas = Image.new("L", (side, side), 255)
            canvas.paste(image.crop(box), ((side - right + left) // 2, (side - bottom + top) // 2))
            image = canvas
        pixels = fit(image, self.resolution)
        return 255 - pixels if self.invert else pixels

    def _not_found(self, problem: str) -> str:
        return (
            f"3D Chairs not found at {self.root} ({problem}): expected renders named {PATTERN} "
            f"in one of\n  {self.root}/{FOLDER}/{PATTERN}\n  {self.root}/{PATTERN} (root is "
            f"{FOLDER}/ itself)\n  {self.root}/{ARCHIVE}, or root naming the archive (read "
            f"without unpacking, members {FOLDER}/{PATTERN}).\nTo get it: {SOURCE}; or run "
            f"{download_hint('chairs', self.root.parent if self.root.is_file() else self.root)}."
        )
