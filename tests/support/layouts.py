"""Tiny datasets written in their real on-disk formats, shared by the dataset and recipe tests."""

from __future__ import annotations

import gzip
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import scipy.io
import torch
from disentangle_data.digits import write_idx
from PIL import Image


def write_split(raw: Path, prefix: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(256, (n, 28, 28), generator=generator, dtype=torch.uint8)
    labels = torch.randint(10, (n,), generator=generator, dtype=torch.uint8)
    write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return images, labels


def write_svhn(root: Path, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A .mat file as the Stanford page serves it: X uint8 [32, 32, 3, N], y uint8 [N, 1]."""
    rng = np.random.default_rng(n)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n, dtype=np.uint8) % 10 + 1).reshape(n, 1)  # 1..10, 10 is the digit 0
    scipy.io.savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
    return x, y


def write_faces_jpegs(folder: Path, n: int) -> None:
    """Aligned-CelebA-sized JPEGs (178×218): green in the centred 150 square, red outside."""
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        image = Image.new("RGB", (178, 218), (255, 0, 0))
        image.paste((0, 255, 0), (14, 34, 164, 184))
        image.paste((0, 0, 40 * i), (79, 99, 99, 119))  # a blue mark in the middle, its own shade
        image.save(folder / f"{i:06d}.jpg", quality=95)


CHAIRS = ("1a6f615e8b1b5ae4dbbc9440457e303e", "2b1af04045c8c823f51f77a6d7299806")


ELEVATIONS, AZIMUTHS = (20, 30), (0, 120, 240)


def chair_level(chair: int, elevation: int, azimuth: int) -> int:
    """The gray level of a view's chair: distinct per view, all far from white."""
    return 10 + 20 * (chair * 6 + elevation * 3 + azimuth)


def chair_render(chair: int, elevation: int, azimuth: int) -> Image.Image:
    """A 300×300 RGB render: a small dark box (120×90) somewhere off-centre on white."""
    image = Image.new("RGB", (300, 300), (255, 255, 255))
    left, top = 20 + 60 * azimuth, 150 - 100 * elevation + 5 * chair
    level = chair_level(chair, elevation, azimuth)
    image.paste((level, level, level), (left, top, left + 120, top + 90))
    return image


def chair_renders() -> dict[str, Image.Image]:
    """Each render by its path under the folder that holds rendered_chairs/."""
    renders = {}
    for c, chair in enumerate(CHAIRS):
        for e, elevation in enumerate(ELEVATIONS):
            for a, azimuth in enumerate(AZIMUTHS):
                view = 1 + e * 3 + a
                name = f"image_{view:03d}_p{elevation:03d}_t{azimuth:03d}_r096.png"
                renders[f"rendered_chairs/{chair}/renders/{name}"] = chair_render(c, e, a)
    return renders


def write_chairs_folder(base: Path) -> None:
    for name, image in chair_renders().items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        image.save(base / name)


def write_chairs_tar(path: Path) -> None:
    scratch = path.parent / "scratch"
    write_chairs_folder(scratch)
    (scratch / "rendered_chairs" / "all_chair_names.mat").write_bytes(b"ignored")
    with tarfile.open(path, "w") as tar:
        tar.add(scratch / "rendered_chairs", arcname="rendered_chairs")
    shutil.rmtree(scratch)


FACE_FOLDERS = ("th_AZ_VARIED", "th_EL_VARIED", "th_LIGHT_AZ_VARIED", "th_SHAPE_VARIED")


TORCH7_NAMES = {torch.uint8: "Byte", torch.float32: "Float", torch.float64: "Double"}


def torch7_bytes(
    storage: torch.Tensor,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int = 0,
    versioned: bool = True,
) -> bytes:
    """A tensor viewing a 1-D `storage` as Lua Torch7's torch.save writes it (little-endian)."""

    def string(text: str) -> bytes:
        return struct.pack("<i", len(text)) + text.encode()

    def header(index: int, name: str) -> bytes:
        version = string("V 1") if versioned else b""
        return struct.pack("<ii", 4, index) + version + string(name)

    kind, n = TORCH7_NAMES[storage.dtype], len(size)
    tensor = struct.pack(f"<i{n}q{n}qq", n, *size, *stride, offset + 1)
    data = struct.pack("<q", storage.numel()) + storage.numpy().tobytes()
    return header(1, f"torch.{kind}Tensor") + tensor + header(2, f"torch.{kind}Storage") + data


def save_torch7(path: Path, tensor: torch.Tensor) -> None:
    tensor = tensor.contiguous()
    path.write_bytes(torch7_bytes(tensor.flatten(), tuple(tensor.shape), tensor.stride()))


def face_level(variation: int, batch: int, image: int) -> int:
    return 5 + 40 * variation + 12 * batch + 3 * image


def write_face_batches(root: Path, split: str, images: int = 3) -> None:
    """Two batches per variation folder: batch1 (float [n, 1, 150, 150]), batch2.t7 (byte)."""
    for v, folder in enumerate(FACE_FOLDERS):
        target = root / folder / split
        target.mkdir(parents=True)
        levels = torch.tensor([[face_level(v, b, i) for i in range(images)] for b in (0, 1)])
        frames = levels[:, :, None, None, None].expand(2, images, 1, 150, 150)
        save_torch7(target / "batch1", frames[0].float() / 255)
        save_torch7(target / "batch2.t7", frames[1, :, 0].to(torch.uint8))


#: latents_classes' sizes of the tiny dSprites file: color, shape, scale, orientation, x, y
DSPRITES_SIZES = (1, 3, 2, 2, 2, 2)


def grid_rows(sizes: tuple[int, ...]) -> np.ndarray:
    """Every combination of factor indices, the last varying fastest, int64 [prod(sizes), K]."""
    return np.stack(np.unravel_index(np.arange(np.prod(sizes)), sizes), axis=1).astype(np.int64)


def marked_images(n: int, channels: int = 0) -> np.ndarray:
    """`n` 64×64 images, image i with one pixel set at (i // 64, i % 64): [n, 64, 64(, C)]."""
    images = np.zeros((n, 64, 64, channels) if channels else (n, 64, 64), np.uint8)
    images[np.arange(n), np.arange(n) // 64, np.arange(n) % 64] = 1
    return images


def write_dsprites(path: Path, sizes: tuple[int, ...] = DSPRITES_SIZES) -> np.ndarray:
    """The official .npz's keys (and a pickled `metadata`) for a small grid; its classes."""
    classes = grid_rows(sizes)
    np.savez_compressed(
        path,
        imgs=marked_images(len(classes)),
        latents_classes=classes,
        latents_values=classes.astype(np.float64),
        metadata=np.array({"latents_sizes": np.array(sizes)}, dtype=object),
    )
    return classes


#: each 3D Shapes factor's values in the official file (hues, scale, shape, orientation)
SHAPES3D_VALUES = (
    np.linspace(0, 0.9, 10),
    np.linspace(0, 0.9, 10),
    np.linspace(0, 0.9, 10),
    np.linspace(0.75, 1.25, 8),
    np.arange(4.0),
    np.linspace(-30, 30, 15),
)


def write_shapes3d(path: Path, sizes: tuple[int, ...] = (2, 1, 2, 3, 2, 2)) -> np.ndarray:
    """3dshapes.h5 for the first `sizes` values of each factor, gzipped as the official file."""
    import h5py

    classes = grid_rows(sizes)
    labels = np.stack([SHAPES3D_VALUES[k][classes[:, k]] for k in range(6)], axis=1)
    images = marked_images(len(classes), channels=3) * np.array([255, 128, 1], np.uint8)
    with h5py.File(path, "w") as file:
        file.create_dataset("images", data=images, compression="gzip")
        file.create_dataset("labels", data=labels, compression="gzip")
    return classes


# The fine-grained datasets of FineGAN's comparison: each picture black with FineGAN's crop
# square of its box (x, y, w, h) painted green.
GREEN = (0, 220, 0)
FINE_GRAINED_BOXES = ((50, 20, 40, 40), (60, 30, 30, 20))


def box_picture(
    path: Path, box: tuple[int, int, int, int], size: tuple[int, int] = (200, 100)
) -> None:
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[max(0, cy - r) : cy + r, max(0, cx - r) : cx + r] = GREEN
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=100)


def write_cub(root: Path) -> None:
    """CUB_200_2011/: its list files and images/<class>/*.jpg; classes 1 and 2."""
    base = root / "CUB_200_2011"
    files = {"1": "001.Albatross/a.jpg", "2": "002.Auklet/b.jpg"}
    boxes = dict(zip(files, FINE_GRAINED_BOXES, strict=True))
    for key, name in files.items():
        box_picture(base / "images" / name, boxes[key])
    (base / "images.txt").write_text("".join(f"{k} {v}\n" for k, v in files.items()))
    lines = "".join(f"{k} {' '.join(f'{v:.1f}' for v in b)}\n" for k, b in boxes.items())
    (base / "bounding_boxes.txt").write_text(lines)
    (base / "image_class_labels.txt").write_text("1 1\n2 2\n")


def write_cars(root: Path) -> None:
    """cars_train/*.jpg and devkit/cars_train_annos.mat; classes 14 and 3 (1-based)."""
    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"]
    annotations = np.zeros((1, 2), dtype=[(f, "O") for f in fields])
    for i, (name, box, label) in enumerate(
        [("00001.jpg", (50, 20, 40, 40), 14), ("00002.jpg", (70, 30, 50, 30), 3)]
    ):
        box_picture(root / "cars_train" / name, box)
        x, y, w, h = box
        corners = [np.array([[v]], dtype=np.uint16) for v in (x, y, x + w, y + h)]
        annotations[0, i] = (*corners, np.array([[label]], dtype=np.uint8), np.array([name]))
    (root / "devkit").mkdir()
    scipy.io.savemat(root / "devkit" / "cars_train_annos.mat", {"annotations": annotations})


def write_dogs(root: Path) -> None:
    """Images/<wnid>-<breed>/*.jpg and Annotation/<wnid>-<breed>/<stem> (VOC XML); 2 breeds."""
    for breed, stem, box in (
        ("n02085620-Chihuahua", "n02085620_1", (50, 20, 40, 40)),
        ("n02085782-Japanese_spaniel", "n02085782_2", (80, 10, 30, 60)),
    ):
        box_picture(root / "Images" / breed / f"{stem}.jpg", box)
        x, y, w, h = box
        note = root / "Annotation" / breed / stem
        note.parent.mkdir(parents=True)
        note.write_text(
            f"<annotation><object><name>{breed}</name><bndbox><xmin>{x}</xmin><ymin>{y}</ymin>"
            f"<xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object></annotation>"
        )


def write_png_folder(root: Path, n: int) -> Path:
    """An image folder of `n` random 28×28 grey PNGs (00.png, 01.png, …)."""
    gen = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = gen.integers(0, 256, (28, 28), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{i:02d}.png")
    return root


#: a small MPI3D grid (the published one is 6×6×2×3×3×40×40); tests add it to mpi3d.GRIDS
MPI3D_TINY_GRID = (2, 1, 2, 1, 1, 2, 3)


def write_mpi3d(
    path: Path, grid: tuple[int, ...] = MPI3D_TINY_GRID, compress: bool = False
) -> None:
    """The published .npz's one array, `images` uint8 [N, 64, 64, 3] in grid order, stored
    uncompressed as np.savez writes it (or deflated); image i is marked at pixel i."""
    images = marked_images(int(np.prod(grid)), channels=3)
    (np.savez_compressed if compress else np.savez)(path, images=images)


#: the tiny SmallNORB files' grid: category, elevation, azimuth, lighting; instances per half
SMALLNORB_TINY = ((2, 1, 2, 3), 1)
SMALLNORB_HALVES = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")


def write_norb_matrix(path: Path, array: np.ndarray) -> None:
    """NYU's binary matrix: magic (ubyte or int32), rank, max(3, rank) dims, data."""
    magic = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}[array.dtype]
    dims = [*array.shape, *[1] * (3 - array.ndim)]
    header = np.array([magic, array.ndim, *dims], dtype="<i4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder("<")).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def norb_level(combination: int, instance: int) -> int:
    """The gray level of the first camera's image of a combination's instance."""
    return 10 + 20 * combination + 7 * instance


def write_smallnorb(root: Path, gz: bool = False) -> None:
    """Both halves in the real format for SMALLNORB_TINY's grid, instance 2c + h in half h of
    category c; each first-camera image one gray level (norb_level), the second its inverse."""
    sizes, per_half = SMALLNORB_TINY
    rows = grid_rows(sizes)
    for h, half in enumerate(SMALLNORB_HALVES):
        dat, cat, info = [], [], []
        for combination, (category, elevation, azimuth, lighting) in enumerate(rows):
            for k in range(per_half):
                instance = 2 * per_half * category + per_half * h + k
                level = norb_level(combination, instance - 2 * per_half * category)
                dat.append(np.stack([np.full((96, 96), level), np.full((96, 96), 255 - level)]))
                cat.append(category)
                info.append([instance, elevation, 2 * azimuth, lighting])
        suffix = ".mat.gz" if gz else ".mat"
        arrays = {
            "dat": np.array(dat, dtype=np.uint8),
            "cat": np.array(cat, dtype=np.int32),
            "info": np.array(info, dtype=np.int32),
        }
        for part, array in arrays.items():
            write_norb_matrix(root / f"smallnorb-{half}-{part}{suffix}", array)


#: the tiny Cars3D files' views: elevations, azimuths (the published ones: 4, 24), and cars
CARS3D_TINY = (2, 3, 2)


def cars3d_level(elevation: int, azimuth: int, car: int) -> int:
    """The gray level of a tiny Cars3D view (all three channels)."""
    return 20 + 60 * car + 15 * azimuth + 7 * elevation


def write_cars3d(folder: Path) -> None:
    """car_<i>_mesh.mat files with `im` uint8 [128, 128, 3, azimuths, elevations], each view
    one flat gray level (cars3d_level)."""
    elevations, azimuths, cars = CARS3D_TINY
    folder.mkdir(parents=True, exist_ok=True)
    for car in range(cars):
        im = np.zeros((128, 128, 3, azimuths, elevations), np.uint8)
        for a in range(azimuths):
            for e in range(elevations):
                im[:, :, :, a, e] = cars3d_level(e, a, car)
        scipy.io.savemat(folder / f"car_{car:03d}_mesh.mat", {"im": im})


def write_painting(path: Path, size: tuple[int, int] = (120, 96)) -> None:
    """A stand-in for The Scream: a JPEG of smooth colour ramps, `size` (width, height)."""
    width, height = size
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    rgb = np.stack([x, y, (x + y) / 2], axis=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(path, quality=95)
