"""Checking a file against the checksum its source row publishes."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path
from typing import BinaryIO

from disentangle_data.sources import SourceFile

CHUNK = 1 << 20


def _digest(stream: BinaryIO, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest()


def digest_of(path: Path, algorithm: str) -> str:
    """The hex digest of a file's bytes."""
    with path.open("rb") as stream:
        return _digest(stream, algorithm)


def content_md5_of(path: Path) -> str | None:
    """The md5 of a gzip file's gunzipped bytes; None when it is not a whole gzip file."""
    try:
        with gzip.open(path, "rb") as stream:
            return _digest(stream, "md5")
    except (gzip.BadGzipFile, EOFError, zlib.error):
        return None


def mismatch(path: Path, file: SourceFile) -> tuple[str, str, str] | None:
    """(algorithm, expected, got) when `path` is not the file the row publishes, else None.

    A .gz file whose gunzipped bytes match the row's `content_md5` is the file, compressed
    again (as Debian's packages are). A row without a checksum has no mismatch: see `digest`.
    """
    if file.digest is None:
        return None
    algorithm, expected = file.digest
    got = digest_of(path, algorithm)
    if got == expected or (file.content_md5 and content_md5_of(path) == file.content_md5):
        return None
    return algorithm, expected, got
