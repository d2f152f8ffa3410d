"""One writer per run folder: an exclusive OS lock (`flock`) on RUN/.disentangle.lock, taken
before a command writes anything into the folder and held until it is done. The OS releases it
when the process ends however it ends (a SIGKILL leaves no stale lock); the file holds the PID of
the process that holds it, so that a second writer can name it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from disentangle.errors import RunDirError

#: the lock file's name in a run folder (the toolkit's own: removed when released)
LOCK_NAME = ".disentangle.lock"

#: the run folders this process holds, and how many holders nest in it (resume -> train)
_held: dict[Path, int] = {}


@contextmanager
def lock_run(folder: str | Path, *, create: bool = False) -> Iterator[None]:
    """Hold `folder`'s writer lock for the block; another process holding it is refused at
    once, naming the folder and its PID. `create`: make the folder (a new run's) if it is not
    there; folders made for the lock and left empty are removed again.

    Under torchrun only rank 0 writes into the run folder, so the other ranks take no lock.
    """
    folder = Path(folder)
    key = folder.resolve()
    if os.environ.get("RANK", "0") != "0" or key in _held:
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    if folder.exists() and not folder.is_dir():
        raise RunDirError(f"{folder}: a file, not a run folder")
    made = _make(folder) if create else []
    if not folder.is_dir():
        raise RunDirError(f"{folder}: no such run folder")
    try:
        fd = _acquire(folder)
    except BaseException:
        _remove_empty(made)
        raise
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        (folder / LOCK_NAME).unlink(missing_ok=True)  # while still held: see _acquire
        os.close(fd)
        _remove_empty(made)


def _make(folder: Path) -> list[Path]:
    """Make `folder` and its missing parents; the folders made, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{folder}: cannot make the run folder ({exc.strerror})") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for made in folders:
        if made.is_dir() and not any(made.iterdir()):
            made.rmdir()


def _acquire(folder: Path) -> int:
    """The open, locked lock file, with this process's PID written into it."""
    path = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(f"{path}: cannot make the lock file ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            pid = f" (PID {holder})" if holder.isdigit() else ""  # it may not have written it yet
            raise RunDirError(
                f"{folder}: another disentangle process{pid} is writing into this run "
                "folder; one run folder takes one writer at a time: wait for it to finish (or "
                "stop it), then run the command again"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its holder unlinked on release after we opened it
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
