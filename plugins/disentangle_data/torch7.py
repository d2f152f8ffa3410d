"""A reader for one tensor saved by Lua Torch7's `torch.save` (binary format, little-endian)."""

from __future__ import annotations

import struct
from typing import Any

import torch

#: the type tag Torch7 writes before a Torch class instance (tensors and storages)
TYPE_TORCH = 4
#: tensor class -> its storage class and element type
TENSOR_TYPES = {
    "torch.ByteTensor": ("torch.ByteStorage", torch.uint8),
    "torch.FloatTensor": ("torch.FloatStorage", torch.float32),
    "torch.DoubleTensor": ("torch.DoubleStorage", torch.float64),
}


class Torch7Error(ValueError):
    """Bytes that are not a single Torch7 tensor of a supported type."""


class _Reader:
    """Reads Torch7's values (int32 ints, int64 longs, length-prefixed strings) in order."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        try:
            values = struct.unpack_from(fmt, self.data, self.pos)
        except struct.error:
            raise Torch7Error(f"truncated at byte {self.pos}") from None
        self.pos += struct.calcsize(fmt)
        return values

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise Torch7Error(f"truncated at byte {self.pos}")
        self.pos += size
        return self.data[self.pos - size : self.pos]

    def string(self) -> str:
        (size,) = self.take("<i")
        return self.raw(size).decode("latin-1")

    def torch_class(self) -> str:
        """Read an object's header (type tag, reference index, version): its class name."""
        kind, _ = self.take("<ii")
        if kind != TYPE_TORCH:
            raise Torch7Error(f"expected a Torch object (type {TYPE_TORCH}), got type {kind}")
        version = self.string()
        return self.string() if version.startswith("V ") else version  # unversioned: the class


def read_tensor(data: bytes) -> torch.Tensor:
    """The tensor serialized in `data`, as a contiguous copy of its dtype."""
    reader = _Reader(data)
    name = reader.torch_class()
    if name not in TENSOR_TYPES:
        raise Torch7Error(f"expected one of {', '.join(TENSOR_TYPES)}, got {name!r}")
    storage_name, dtype = TENSOR_TYPES[name]
    (ndim,) = reader.take("<i")
    if ndim < 1:
        raise Torch7Error(f"an empty {name}")
    size, stride = reader.take(f"<{ndim}q"), reader.take(f"<{ndim}q")
    (offset,) = reader.take("<q")  # 1-based
    if reader.torch_class() != storage_name:
        raise Torch7Error(f"{name} without its {storage_name}")
    (count,) = reader.take("<q")
    if count < 1:
        raise Torch7Error(f"an empty {storage_name}")
    storage = torch.frombuffer(bytearray(reader.raw(count * dtype.itemsize)), dtype=dtype)
    try:
        return storage.as_strided(size, stride, offset - 1).clone(
            memory_format=torch.contiguous_format
        )
    except RuntimeError:
        raise Torch7Error(
            f"sizes {size}, strides {stride} and offset {offset} overrun a storage of {count}"
        ) from None
