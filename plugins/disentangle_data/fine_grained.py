"""The fine-grained datasets of FineGAN's comparison (Singh et al., CVPR 2019), in their real
layouts: CUB-200-2011 birds, Stanford Cars, Stanford Dogs. RGB, labelled by class.

Each image is cropped around its bounding box as FineGAN's code (from StackGAN's) crops it: a
square of side 1.5 × the box's longer side, centred on the box, clipped to the image. FineGAN
then resizes to 76/64 of the training size and crops at random; a prepared cache is fixed, so
here the crop is resized (bilinear) to 76/64 × `resolution` on its shorter side and its centre
`resolution` × `resolution` kept, the random crop's expected position.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from abc import abstractmethod
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydantic import Field
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from disentangle import Dataset, ImageData
from disentangle.errors import DatasetError
from disentangle_data.cache import CachedParams, Tensors, cache_file, cached, progress
from disentangle_data.images import Resolution, list_images, open_image
from disentangle_data.sources import download_hint

#: a box as x, y (top left), width, height, in pixels
Box = tuple[float, float, float, float]


class FineGrainedParams(CachedParams):
    root: str = Field("data", description="the folder holding the dataset's files (~ expanded)")
    resolution: Resolution = Field(128, ge=8, description="image side in pixels (FineGAN: 128)")


def box_crop(image: Image.Image, box: Box, resolution: int) -> torch.Tensor:
    """FineGAN's crop around `box`, resized as the module says: uint8 [3, res, res]."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    crop = image.crop(
        (max(0, cx - r), max(0, cy - r), min(image.width, cx + r), min(image.height, cy + r))
    )
    load = int(resolution * 76 / 64)
    scale = load / min(crop.width, crop.height)
    size = (max(load, round(crop.width * scale)), max(load, round(crop.height * scale)))
    crop = crop.resize(size, Image.Resampling.BILINEAR)
    left, top = (crop.width - resolution) // 2, (crop.height - resolution) // 2
    pixels = np.array(crop.crop((left, top, left + resolution, top + resolution)))
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


class FineGrained(Dataset):
    """What the three share: the cache, the crop, the error naming the layout."""

    name: str
    layout: str

    def __init__(self, spec: FineGrainedParams) -> None:
        self.root = Path(spec.root).expanduser().absolute()
        self.resolution, self.cache, self.map_above = spec.resolution, spec.cache, spec.map_above
        self.image_shape = (3, spec.resolution, spec.resolution)

    @property
    def prepared(self) -> Path | None:
        """The prepared cache's file (None when `cache` is off)."""
        key = f"r{self.resolution}"
        return cache_file(self.root, self.name, "", key) if self.cache else None

    def load(self) -> ImageData:
        tensors = cached(self.prepared, self._build, self.map_above)
        return ImageData(images=tensors["images"], labels=tensors["labels"], on_disk=tensors.mapped)

    def missing(self, what: str) -> DatasetError:
        return DatasetError(
            f"{self.root}: {what}; {self.name} expects {self.layout}; or run "
            f"{download_hint(self.name, self.root)}."
        )

    @abstractmethod
    def entries(self) -> list[tuple[Path, Box, int]]:
        """Each image's file, bounding box and class index."""

    def _build(self) -> Tensors:
        entries = self.entries()
        for path, (_, _, width, height), _ in entries:
            if not (width > 0 and height > 0):
                raise DatasetError(
                    f"{path}: its bounding box is empty ({width:g} × {height:g} pixels)"
                )
        images = [
            box_crop(open_image(path, "RGB", path), box, self.resolution)
            for path, box, _ in progress(entries, f"Preparing {self.name}")
        ]
        labels = torch.tensor([label for _, _, label in entries])
        return {"images": torch.stack(images), "labels": labels}


def numbered(path: Path, owner: DatasetError) -> dict[str, list[str]]:
    """A CUB list file: `<image id> <values…>` per line, by image id."""
    if not path.is_file():
        raise owner
    rows = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {row[0]: row[1:] for row in rows}


class Cub(FineGrained):
    """CUB-200-2011: 11,788 birds of 200 species."""

    name = "cub"
    layout = (
        "CUB_200_2011/ with images.txt, bounding_boxes.txt, image_class_labels.txt and "
        "images/<class>/*.jpg (CUB_200_2011.tgz from the Caltech-UCSD Birds page)"
    )

    def entries(self) -> list[tuple[Path, Box, int]]:
        base = self.root / "CUB_200_2011"
        files = numbered(base / "images.txt", self.missing("no CUB_200_2011/images.txt"))
        boxes = numbered(base / "bounding_boxes.txt", self.missing("no bounding_boxes.txt"))
        classes = numbered(
            base / "image_class_labels.txt", self.missing("no image_class_labels.txt")
        )
        out = []
        for key, row in files.items():
            if len(row) != 1:
                raise DatasetError(f"{base / 'images.txt'}: image {key}: {row} is not one name")
            box = boxes.get(key, [])
            if len(box) != 4:
                raise DatasetError(
                    f"{base / 'bounding_boxes.txt'}: image {key}: no box of 4 numbers"
                )
            where = f"{base / 'bounding_boxes.txt'}: image {key}:"
            x, y, w, h = (
                _number(v, f"{where} {name}") for v, name in zip(box, "xywh", strict=True)
            )
            label = classes.get(key, [""])[0]
            if not label.isdigit() or int(label) < 1:
                where = base / "image_class_labels.txt"
                raise DatasetError(f"{where}: image {key}: no class number (got {label!r})")
            out.append((base / "images" / row[0], (x, y, w, h), int(label) - 1))
        return out


class StanfordCars(FineGrained):
    """Stanford Cars' training set: 8,144 cars of 196 models."""

    name = "cars"
    layout = (
        "cars_train/*.jpg and the devkit's cars_train_annos.mat (in devkit/ or beside it), "
        "from the Stanford Cars page"
    )

    def entries(self) -> list[tuple[Path, Box, int]]:
        folders = (self.root / "devkit", self.root)
        found = [p for p in folders if (p / "cars_train_annos.mat").is_file()]
        if not found:
            raise self.missing("no cars_train_annos.mat")
        mat = found[0] / "cars_train_annos.mat"
        try:
            out = [self._car(a) for a in loadmat(mat)["annotations"].ravel()]
        except (OSError, ValueError, KeyError, TypeError, IndexError, MatReadError) as exc:
            raise DatasetError(
                f"{mat}: not the devkit's training annotations ({type(exc).__name__}: {exc})"
            ) from None
        if not out:
            raise self.missing("cars_train_annos.mat lists no image")
        return out

    def _car(self, a: np.void) -> tuple[Path, Box, int]:
        """One annotation record: its image, box and (0-based) class."""
        corners = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")
        x1, y1, x2, y2 = (float(a[k].item()) for k in corners)
        path = self.root / "cars_train" / str(a["fname"].item())
        return path, (x1, y1, x2 - x1, y2 - y1), int(a["class"].item()) - 1


class StanfordDogs(FineGrained):
    """Stanford Dogs: 20,580 dogs of 120 breeds (ImageNet's)."""

    name = "dogs"
    layout = (
        "Images/<wnid>-<breed>/*.jpg and Annotation/<wnid>-<breed>/<image name> (the XML "
        "boxes), from the Stanford Dogs page"
    )

    def entries(self) -> list[tuple[Path, Box, int]]:
        breeds = sorted(p for p in (self.root / "Images").glob("*") if list_images(p))
        if not breeds:
            raise self.missing("no Images/<breed>/ folder of images")
        out = []
        for label, folder in enumerate(breeds):
            for path in list_images(folder):
                note = self.root / "Annotation" / folder.name / path.stem
                out.append((path, self._box(note), label))
        return out

    def _box(self, note: Path) -> Box:
        """The first object's box of an annotation file (VOC XML)."""
        if not note.is_file():
            raise self.missing(f"no annotation {note}")
        try:
            box = ET.parse(note).find("object/bndbox")
        except (ET.ParseError, OSError) as exc:
            raise DatasetError(f"{note}: not a readable XML annotation ({exc})") from None
        if box is None:
            raise DatasetError(f"{note}: no object/bndbox")
        x1, y1, x2, y2 = (
            _number(box.findtext(k), f"{note}: <{k}> of object/bndbox") for k in CORNERS
        )
        return x1, y1, x2 - x1, y2 - y1


#: a VOC box's elements, in order
CORNERS = ("xmin", "ymin", "xmax", "ymax")


def _number(text: str | None, what: str) -> float:
    """A finite number read from an annotation, or an error naming the file and the value."""
    if text is None:
        raise DatasetError(f"{what} is missing")
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{what} is {text.strip()!r}, not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{what} is {text.strip()!r}, not a finite number")
    return value
