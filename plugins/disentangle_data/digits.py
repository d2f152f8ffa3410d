"""Real handwritten digits offline: scikit-learn's `load_digits` written as MNIST IDX files.

1,797 real 8×8 digits, upscaled to a 20×20 box centred in 28×28 (MNIST's own normalisation),
written where the `mnist` dataset reads them. A stand-in for checks when MNIST cannot be
downloaded; say so when reporting numbers from it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import torch
import torch.nn.functional as F


def write_idx(path: Path, data: torch.Tensor) -> None:
    """Write uint8 `data` in the IDX format: magic 0x0803 / 0x0801, big-endian dims, bytes."""
    header = struct.pack(f">I{data.dim()}I", 0x0800 | data.dim(), *data.shape)
    path.write_bytes(header + data.contiguous().numpy().tobytes())


def write_digits_as_mnist(root: Path) -> int:
    """Write both MNIST splits (the same 1,797 digits) under `root/MNIST/raw/`; returns N."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    box = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    images = (F.pad(box, (4, 4, 4, 4)).clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1)
    labels = torch.tensor(digits.target, dtype=torch.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return len(images)
