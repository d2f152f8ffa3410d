"""One array of a NumPy .npz archive, memory-mapped where the archive stores it uncompressed."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

#: a zip local file header: signature, then 22 bytes, then the name's and the extra's lengths
_LOCAL_HEADER = struct.Struct("<4s22sHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"


def npz_array(path: Path, key: str) -> tuple[np.ndarray, bool]:
    """Array `key` of the archive and whether it is memory-mapped (np.savez's stored members
    are; np.savez_compressed's are read into memory). Raises OSError, ValueError, KeyError or
    zipfile.BadZipFile for a file that is not such an archive."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            with archive.open(info) as member:
                return np.lib.format.read_array(member, allow_pickle=False), False
    with open(path, "rb") as file:
        file.seek(info.header_offset)
        signature, _, name, extra = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
        if signature != _LOCAL_SIGNATURE:
            raise zipfile.BadZipFile(f"no local header for {info.filename}")
        file.seek(info.header_offset + _LOCAL_HEADER.size + name + extra)
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
        if dtype.hasobject:
            raise ValueError(f"{key} holds Python objects, which are never unpickled")
        offset = file.tell()
    order = "F" if fortran else "C"
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order), True
