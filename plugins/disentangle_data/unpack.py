"""Unpacking an archive into a folder: first into a hidden staging folder beside its entries,
then each top-level entry renamed into place, so nothing is left half-written at a real name."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Literal

from disentangle.errors import DatasetError


def staging_folder(archive: Path, into: Path) -> Path:
    return into / f".{archive.name}.unpacking"


def unpack(archive: Path, into: Path, kind: Literal["tar", "zip"]) -> None:
    """Unpack `archive` into `into` (a member that would land outside it is refused)."""
    staging = staging_folder(archive, into)
    if staging.exists():  # left by an unpack that was interrupted: ours to remove
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        _extract(archive, staging, kind)
        entries = sorted(staging.iterdir())
        taken = [str(into / e.name) for e in entries if (into / e.name).exists()]
        if taken:
            raise DatasetError(
                f"{archive}: unpacking it would replace {', '.join(taken)}, which is already "
                "there (an earlier copy?); move it away, then run the command again."
            )
        for entry in entries:
            entry.rename(into / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: Path, staging: Path, kind: Literal["tar", "zip"]) -> None:
    try:
        if kind == "tar":
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")  # refuses links and paths out of it
            return
        with zipfile.ZipFile(archive) as zip_:
            unsafe = [n for n in zip_.namelist() if _escapes(n)]
            if unsafe:
                raise DatasetError(f"{archive}: members outside its folder: {unsafe[:3]}")
            zip_.extractall(staging)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetError(f"{archive}: not a valid {kind} archive ({exc})") from None


def _escapes(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts
