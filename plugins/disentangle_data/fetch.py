"""One file over HTTP(S), streamed into `<file>.part`: resumed with a Range request when the
connection breaks, checked, then renamed into place (so a file at its name is always whole)."""

from __future__ import annotations

import errno
import http.client
import os
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from rich.progress import Progress, TaskID

from disentangle.errors import DatasetError
from disentangle_data.checksum import mismatch
from disentangle_data.sources import SourceFile

CHUNK = 1 << 16
#: tries of one file in a row while each try brings bytes (a try that brings none ends them)
ATTEMPTS = 5
USER_AGENT = "disentangle-toolkit (disentangle data download)"


class DownloadError(DatasetError):
    """A file that could not be fetched or is not the published one."""


class _Cut(Exception):
    """A transfer that stopped before the end; `received` bytes came in this try."""

    def __init__(self, received: int, problem: str) -> None:
        super().__init__(problem)
        self.received = received


def partial(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def fetch(url: str, dest: Path, file: SourceFile, timeout: float, progress: Progress) -> None:
    """Download `url` to `dest` through `dest.part`, resuming a part left by an earlier run."""
    part = partial(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    task = progress.add_task(dest.name, total=file.size)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _transfer(url, dest, timeout, progress, task, file.size)
            break
        except DownloadError as exc:  # after bytes came in, say that they are kept
            have = part.stat().st_size if part.is_file() else 0
            if not have:
                raise
            raise DownloadError(
                f"{exc} The {have} bytes already fetched are kept in {part}: the same command "
                "resumes from there."
            ) from None
        except _Cut as cut:
            if cut.received == 0 or attempt == ATTEMPTS:
                have = part.stat().st_size if part.is_file() else 0
                raise DownloadError(
                    f"{url}: {cut}. {have} bytes are kept in {part}: run the same command "
                    "again to resume from there (or give a --mirror, or a longer --timeout)."
                ) from None
    wrong = mismatch(part, file)
    if wrong is not None:
        algorithm, expected, got = wrong
        part.unlink()
        raise DownloadError(
            f"{url}: the file downloaded is not the published one: {algorithm} expected "
            f"{expected}, got {got}. The partial file {part} was removed and nothing else "
            "changed; run the command again (or try another --mirror)."
        )
    os.replace(part, dest)


def _transfer(
    url: str, dest: Path, timeout: float, progress: Progress, task: TaskID, size: int | None
) -> None:
    """Append the rest of `url` to `dest.part` (all of it when the server ignores the Range);
    `size`: the file's published size, if known."""
    part = partial(dest)
    start = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": USER_AGENT} | ({"Range": f"bytes={start}-"} if start else {})
    try:
        response = urlopen(Request(url, headers=headers), timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and start:  # nothing after `start`: the part is whole
            return
        raise DownloadError(
            f"{url}: the server answered HTTP {exc.code} ({exc.reason}). If the file has "
            "moved, download it by hand from the dataset's page, or give a --mirror that has it."
        ) from None
    except TimeoutError:
        raise _Cut(0, f"no answer in {timeout:g} s (the server stalled)") from None
    except (URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise _Cut(0, f"no answer in {timeout:g} s (the server stalled)") from None
        raise DownloadError(
            f"could not reach {urlsplit(url).netloc} for {url} ({reason}). Without a network, "
            f"download that URL by hand (or from a mirror: --mirror URL) and put the file at "
            f"{dest}; then run the same command again: it verifies and unpacks "
            "it, downloading nothing."
        ) from None
    with response:
        if start and response.status != 206:  # the server sent the whole file again
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length else None
        progress.update(task, total=total, completed=start)
        received = 0
        try:
            with part.open("ab" if start else "wb") as out:
                while chunk := _read(response, timeout, received):
                    out.write(chunk)
                    received += len(chunk)
                    progress.advance(task, len(chunk))
        except OSError as exc:  # writing the part (reading raises _Cut)
            raise _cannot_write(exc, part, total or size) from None
    if total is not None and start + received < total:
        raise _Cut(received, f"the connection closed at byte {start + received} of {total}")


def _read(response: http.client.HTTPResponse, timeout: float, received: int) -> bytes:
    """The next chunk of the answer (b"" at its end); a broken or stalled transfer is a _Cut."""
    try:
        return response.read(CHUNK)
    except TimeoutError:
        raise _Cut(received, f"no data for {timeout:g} s (the server stalled)") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Cut(received, f"the connection broke ({exc})") from None


def _cannot_write(exc: OSError, part: Path, total: int | None) -> DownloadError:
    """A failed write of the part said as what it is: a full disk (with the bytes it needs)."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return DownloadError(f"{part}: cannot write the download ({exc.strerror or exc})")
    have = part.stat().st_size if part.is_file() else 0
    needed = (
        f"{total - have} more bytes" if total is not None else "more space (its size is unknown)"
    )
    return DownloadError(
        f"{part.parent}: the disk is full ({exc.strerror}); {part.name} needs {needed}. Free "
        "that much space there (or give another --root), then run the same command again."
    )
