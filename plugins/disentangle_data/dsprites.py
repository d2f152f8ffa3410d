"""dSprites (Matthey et al. 2017) from DeepMind's official .npz: 737,280 binary 64×64 sprites,
and disentanglement_lib's color- and noisy-dSprites drawn from them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from disentangle import Params
from disentangle.errors import DatasetError
from disentangle_data.grid import GridFile
from disentangle_data.nuisance import (
    CHANNELS,
    DLIB_NAMES,
    Drawn,
    Variant,
    apply_variant,
    read_painting,
)
from disentangle_data.sources import download_hint

FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SOURCE = (
    f"download {FILE} from the deepmind/dsprites-dataset GitHub repository, "
    "https://github.com/deepmind/dsprites-dataset"
)
#: where scream_dsprites finds the painting in the data folder: the download's name, and
#: disentanglement_lib's
PAINTINGS = ("scream/The_Scream.jpg", "scream/scream.jpg")
#: latents_classes' columns: color (constant, dropped), then the factors
COLUMNS = ("color", "shape", "scale", "orientation", "pos_x", "pos_y")


class DspritesParams(Params):
    root: str = Field("data", description=f"folder holding {FILE}, or the file (~ expanded)")
    variant: Drawn | None = Field(
        None,
        description="disentanglement_lib's color-dSprites (a random colour per image) or "
        "noisy-dSprites (random noise behind the sprite), RGB; none: the binary sprites",
    )
    variant_seed: int = Field(0, description="which colours or noise the variant draws")


class Dsprites(GridFile):
    """dSprites: white shapes on black (0/255), factors shape, scale, orientation, x, y; or
    one of disentanglement_lib's RGB variants of it (plugins/disentangle_data/nuisance.py)."""

    title = "dSprites"
    #: its row in the download table
    source = "dsprites"
    image_shape = (1, 64, 64)
    factor_names = COLUMNS[1:]
    #: the official file's; after `load`, those of the file read
    factor_sizes = (3, 6, 40, 32, 32)

    def __init__(self, spec: DspritesParams) -> None:
        super().__init__()
        self.root = Path(spec.root).expanduser().absolute()
        self.variant: Variant | None = spec.variant
        self.variant_seed = spec.variant_seed
        self._setup()

    def _setup(self) -> None:
        """A variant's title and RGB shape."""
        if self.variant is not None:
            self.title = f"{self.title} ({DLIB_NAMES[self.variant]})"
            self.image_shape = (CHANNELS, 64, 64)

    @property
    def path(self) -> Path:
        return self.root if self.root.is_file() else self.root / FILE

    def _read(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.path.is_file():
            raise DatasetError(
                f"dSprites not found: expected {self.path} ({FILE} in the folder `root` names, "
                f"or `root` naming the file).\nTo get it: {SOURCE}; or run "
                f"{download_hint(self.source, self.path.parent)}."
            )
        try:  # only these two keys: `metadata` is a pickle, which is never loaded
            with np.load(self.path, allow_pickle=False) as npz:
                imgs, classes = npz["imgs"], npz["latents_classes"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise DatasetError(self._unreadable(f"{type(exc).__name__}: {exc}")) from None
        if (
            imgs.dtype != np.uint8
            or imgs.ndim != 3
            or imgs.shape[1:] != self.image_shape[1:]
            or len(imgs) == 0
            or classes.shape != (len(imgs), len(COLUMNS))
            or not np.issubdtype(classes.dtype, np.integer)
        ):
            problem = f"imgs {imgs.dtype} {imgs.shape}, latents_classes {classes.dtype} "
            raise DatasetError(self._unreadable(f"{problem}{classes.shape}"))
        if imgs.max() > 1:
            raise DatasetError(self._unreadable("imgs holds values other than 0 and 1"))
        images = torch.from_numpy(imgs).unsqueeze(1).mul_(255)
        factors = torch.from_numpy(np.ascontiguousarray(classes[:, 1:], dtype=np.int64))
        if self.variant is not None:  # in grid order (load checks it): row i is combination i
            index = torch.arange(len(images))
            painting = self._painting() if self.variant == "scream" else None
            images = apply_variant(images, index, self.variant, self.variant_seed, painting)
        return images, factors

    def _painting(self) -> np.ndarray:
        """The Scream from the data folder (scream_dsprites): the download's name, else
        disentanglement_lib's."""
        folder = self.path.parent
        found = [folder / name for name in PAINTINGS if (folder / name).is_file()]
        return read_painting(found[0] if found else folder / PAINTINGS[0], self.source, 64)

    def _unreadable(self, problem: str) -> str:
        return (
            f"dSprites: {self.path} is not the dSprites .npz (expected imgs uint8 [N, 64, 64] of "
            f"0/1 and latents_classes int [N, 6], columns {', '.join(COLUMNS)}): {problem}"
        )


class ScreamDspritesParams(Params):
    root: str = Field(
        "data", description=f"folder holding {FILE} and {PAINTINGS[0]}, or the .npz (~ expanded)"
    )
    variant_seed: int = Field(0, description="which patches and colours the images draw")


class ScreamDsprites(Dsprites):
    """disentanglement_lib's scream-dSprites: dSprites on a patch of The Scream (RGB)."""

    source = "scream_dsprites"

    def __init__(self, spec: ScreamDspritesParams) -> None:
        super().__init__(DspritesParams(root=spec.root, variant_seed=spec.variant_seed))
        self.variant = "scream"
        self._setup()
