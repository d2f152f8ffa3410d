"""Hostile archives, table-driven: tar and zip members that would land outside the folder
(`../`, absolute paths, links out of it, devices) are refused or kept inside it; nothing is
written outside the folder, and no staging folder is left behind. And a disk that fills while
unpacking is said as a full disk."""

from __future__ import annotations

import errno
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from disentangle_data.unpack import unpack

from disentangle.errors import DatasetError

FILE, SYMLINK, HARDLINK, DEVICE = tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE
#: (kind, members as (name, tar type, link target), whether the archive is refused)
CASES = {
    "tar-ok": ("tar", [("inside/a.txt", FILE, None)], False),
    "tar-parent": ("tar", [("../evil.txt", FILE, None)], True),
    "tar-deep-parent": ("tar", [("inside/../../evil.txt", FILE, None)], True),
    "tar-absolute": ("tar", [("/tmp/evil-absolute.txt", FILE, None)], False),  # kept inside
    "tar-symlink-out": ("tar", [("link", SYMLINK, "../../outside")], True),
    "tar-symlink-absolute": ("tar", [("link", SYMLINK, "/etc/passwd")], True),
    "tar-hardlink-out": ("tar", [("hard", HARDLINK, "../outside.txt")], True),
    "tar-device": ("tar", [("dev", DEVICE, None)], True),
    "zip-ok": ("zip", [("inside/a.txt", FILE, None)], False),
    "zip-parent": ("zip", [("../evil.txt", FILE, None)], True),
    "zip-absolute": ("zip", [("/evil-absolute.txt", FILE, None)], True),
    "zip-backslash-parent": ("zip", [("..\\evil.txt", FILE, None)], True),
}


def write_archive(path: Path, kind: str, members: list[tuple[str, bytes, str | None]]) -> None:
    """An archive of `members`, each a small file, a link or a device."""
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as zip_:
            for name, _, _ in members:
                zip_.writestr(zipfile.ZipInfo(name), b"evil\n")
        return
    with tarfile.open(path, "w") as tar:
        for name, type_, target in members:
            info = tarfile.TarInfo(name)
            info.type = type_
            if target is not None:
                info.linkname = target
            data = b"evil\n" if type_ == FILE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def beside(tmp_path: Path) -> set[str]:
    """What lies under tmp_path but not inside the folder unpacked into (a/b)."""
    return {p for p in files(tmp_path) if not p.startswith("a/b/")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_members_stay_inside(case: str, tmp_path: Path) -> None:
    kind, members, refused = CASES[case]
    archive = tmp_path / f"archive.{kind}"
    write_archive(archive, kind, members)
    into = tmp_path / "a" / "b"
    into.mkdir(parents=True)
    before = beside(tmp_path)
    if refused:
        with pytest.raises(DatasetError, match=str(archive)):
            unpack(archive, into, kind)  # type: ignore[arg-type]
        assert files(into) == set()
    else:
        unpack(archive, into, kind)  # type: ignore[arg-type]
        assert files(into) and all(not p.startswith(".") for p in files(into))
    assert beside(tmp_path) == before  # nothing written beside the folder
    assert not Path("/tmp/evil-absolute.txt").exists()


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_a_full_disk_while_unpacking_is_said_as_one(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / f"archive.{kind}"
    write_archive(archive, kind, [("inside/a.txt", FILE, None)])

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tarfile.TarFile if kind == "tar" else zipfile.ZipFile, "extractall", full)
    into = tmp_path / "data"
    into.mkdir()
    with pytest.raises(DatasetError) as raised:
        unpack(archive, into, kind)  # type: ignore[arg-type]
    message = str(raised.value)
    assert f"{into}: the disk is full" in message and "5 bytes" in message, message
    assert "not a valid" not in message
    assert files(into) == set()  # the staging folder removed
