"""A reader for the IDX files of MNIST and Fashion-MNIST, as they are or gzipped (`.gz`)."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import torch

#: the data type code of unsigned bytes, the only one MNIST's files use
UNSIGNED_BYTE = 0x08


class IdxError(ValueError):
    """Bytes that are not an IDX file of unsigned bytes."""


def read_idx(path: Path) -> torch.Tensor:
    """The uint8 tensor in an IDX file (gunzipped first when its name ends in `.gz`)."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IdxError(f"not a whole gzip file ({exc or 'cut short'})") from None
    except OSError as exc:  # unreadable, or a folder
        raise IdxError(exc.strerror or str(exc)) from None
    return parse_idx(data)


def parse_idx(data: bytes) -> torch.Tensor:
    """Parse IDX bytes: two zero bytes, the type code, the dimension count, big-endian sizes."""
    if len(data) < 4 or data[:2] != b"\0\0":
        raise IdxError("no IDX header (it starts with two zero bytes)")
    kind, ndim = data[2], data[3]
    if kind != UNSIGNED_BYTE:
        raise IdxError(f"data type code {kind:#04x}; these files hold unsigned bytes (0x08)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise IdxError(f"a header of {ndim} dimension(s) cut short")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(torch.tensor(shape, dtype=torch.int64).prod())
    if len(data) != expected:
        raise IdxError(f"{len(data)} bytes where its header {shape} means {expected}")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).view(shape)
