"""Unpacking an archive into a folder: first into a hidden staging folder beside its entries
(a new one of a unique name, marked as the toolkit's), then each top-level entry renamed into
place, so nothing is left half-written at a real name."""

from __future__ import annotations

import errno
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Literal

from disentangle.errors import DatasetError

#: the file that marks a staging folder as this toolkit's; it holds the unpacking process's PID
MARK = ".disentangle-staging"


def staging_folder(archive: Path, into: Path) -> Path:
    """A new staging folder of a unique name beside `into`'s entries, marked as ours."""
    folder = Path(tempfile.mkdtemp(prefix=f".{archive.name}.unpacking-", dir=into))
    (folder / MARK).write_text(f"{os.getpid()}\n")
    return folder


def remove_leftovers(archive: Path, into: Path) -> None:
    """Remove staging folders that an interrupted unpack of `archive` left: only those that bear
    our mark with the PID of a process that is gone (a folder of yours is never one)."""
    for folder in into.glob(f".{archive.name}.unpacking-*"):
        mark = folder / MARK
        if folder.is_symlink() or not mark.is_file():
            continue
        pid = mark.read_text(errors="replace").strip()
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive: another user's process
        pass
    return True


def unpack(archive: Path, into: Path, kind: Literal["tar", "zip"]) -> None:
    """Unpack `archive` into `into` (a member that would land outside it is refused)."""
    into.mkdir(parents=True, exist_ok=True)
    remove_leftovers(archive, into)
    staging = staging_folder(archive, into)
    content = staging / "content"  # apart from the mark, whatever the archive holds
    content.mkdir()
    try:
        _extract(archive, content, kind, into)
        entries = sorted(content.iterdir())
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


def _extract(archive: Path, staging: Path, kind: Literal["tar", "zip"], into: Path) -> None:
    """Extract `archive` into `staging` (inside `into`); a full disk is said as one, with the
    bytes needed."""
    needed = 0
    try:
        if kind == "tar":
            with tarfile.open(archive) as tar:
                members = whole_tar(tar, archive)
                needed = sum(m.size for m in members)
                tar.extractall(staging, members, filter="data")  # no links, no paths out of it
            return
        with zipfile.ZipFile(archive) as zip_:
            unsafe = [n for n in zip_.namelist() if _escapes(n)]
            if unsafe:
                raise DatasetError(f"{archive}: members outside its folder: {unsafe[:3]}")
            needed = sum(info.file_size for info in zip_.infolist())
            zip_.extractall(staging)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise DatasetError(f"{archive}: not a valid {kind} archive ({exc})") from None
        raise DatasetError(
            f"{into}: the disk is full ({exc.strerror}) while unpacking "
            f"{archive.name}, whose files need {needed} bytes there. Free that much space (or "
            "give another --root), then run the same command again."
        ) from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"{archive}: not a valid {kind} archive ({exc})") from None


def whole_tar(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The members of a tar archive; one cut short at a member's end (which tarfile takes for
    the end of the archive: no end-of-archive block follows) is refused."""
    members = tar.getmembers()
    assert tar.fileobj is not None
    tar.fileobj.seek(tar.offset)
    if tar.fileobj.read(tarfile.BLOCKSIZE) != bytes(tarfile.BLOCKSIZE):
        raise DatasetError(
            f"{archive}: cut short after {len(members)} member(s) (no end-of-archive block "
            "follows them): an interrupted download? Fetch the archive again."
        )
    return members


def _escapes(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts
