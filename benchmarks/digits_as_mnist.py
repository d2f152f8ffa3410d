"""Write scikit-learn's real handwritten digits (load_digits) as MNIST IDX files.

Offline stand-in for MNIST: 1,797 real 8×8 digits, upscaled to a 20×20 box centred in 28×28
(MNIST's own normalisation). Needs scikit-learn. Usage:
    python benchmarks/digits_as_mnist.py ROOT   # then --set dataset.root=ROOT
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import torch
import torch.nn.functional as F


def idx_bytes(array: torch.Tensor) -> bytes:
    """The IDX encoding of a uint8 tensor (magic 0x0000 08 ndim, big-endian dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.dim()) + struct.pack(
        f">{array.dim()}I", *array.shape
    )
    return header + array.contiguous().numpy().tobytes()


def main(root: str) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    box = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    images = (F.pad(box, (4, 4, 4, 4)).clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1)
    labels = torch.tensor(digits.target, dtype=torch.uint8)
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    print(f"wrote {len(images)} digits to {raw}")


if __name__ == "__main__":
    main(sys.argv[1])
