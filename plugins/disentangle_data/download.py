"""`disentangle data download NAME`: each file of a dataset's source row fetched (or found
already there), checked, unpacked into the layout its dataset reads; then the dataset loaded."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from disentangle import ImageData
from disentangle.errors import DatasetError
from disentangle.recipe.prepare import prepare_dataset
from disentangle_data.checksum import digest_of, mismatch
from disentangle_data.fetch import DownloadError, fetch
from disentangle_data.sources import Source, SourceFile, source_of, with_mirror
from disentangle_data.unpack import unpack


def download(
    name: str,
    root: Path,
    sources: dict[str, Source],
    mirror: str | None,
    timeout: float,
    console: Console,
) -> ImageData:
    """Put dataset `name`'s files under `root` in the layout its dataset reads, verified;
    then load the dataset from there, as a run would (its prepared cache written)."""
    source = source_of(name, sources)
    if source.manual is not None:
        raise DatasetError(
            f"{source.title}: nothing to download directly ({source.page}).\n"
            f"{source.manual.replace('ROOT', str(root))}"
        )
    console.print(f"{source.title} ({source.page}); licence: {source.licence}")
    if source.note:
        console.print(source.note.replace("ROOT", str(root)), style="dim")
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with progress:
        for file in source.files:
            try:
                _place(file, root, mirror, timeout, progress, console)
            except DownloadError as exc:
                raise DownloadError(f"{exc}\n{source.title}'s page: {source.page}") from None
    return prepare_dataset(name, str(root), [])


def _place(
    file: SourceFile,
    root: Path,
    mirror: str | None,
    timeout: float,
    progress: Progress,
    console: Console,
) -> None:
    """Fetch one file unless it (or what it unpacks to) is there; unpack it."""
    folder = root / file.into
    dest = folder / file.filename
    if file.creates is not None and (root / file.creates).exists():
        console.print(f"{root / file.creates}: already there (unpacked)")
        return
    found = _present(dest, file)
    if found is not None:
        console.print(f"{found}: already there, {_verified(file)}")
    else:
        fetch(with_mirror(file.url, mirror), dest, file, timeout, progress)
        if file.digest is None:
            console.print(
                f"[yellow]could not verify[/] {dest}: no checksum is published for it (the "
                f"table says unknown); its sha256 is {digest_of(dest, 'sha256')}"
            )
    if file.unpack is not None:
        unpack(dest, folder, file.unpack)
        dest.unlink()
        if not (root / str(file.creates)).exists():
            raise DatasetError(
                f"{dest.name} unpacked into {folder}, but {root / str(file.creates)} is not "
                "there: the archive is not in the layout its dataset reads."
            )


def _present(dest: Path, file: SourceFile) -> Path | None:
    """The published file already there: `dest`, or for a .gz its gunzipped twin; None if
    neither is. A file there that is not the published one raises: it is never replaced."""
    twin = dest.with_suffix("") if dest.suffix == ".gz" and file.content_md5 else None
    if twin is not None and twin.is_file():
        got = digest_of(twin, "md5")
        if got != file.content_md5:
            raise _not_published(twin, ("md5 (gunzipped)", str(file.content_md5), got))
        return twin
    if not dest.is_file():
        return None
    wrong = mismatch(dest, file)
    if wrong is not None:
        raise _not_published(dest, wrong)
    return dest


def _not_published(path: Path, wrong: tuple[str, str, str]) -> DatasetError:
    algorithm, expected, got = wrong
    return DatasetError(
        f"{path} is already there but is not the published file: {algorithm} expected "
        f"{expected}, got {got}. Move it away, then run the command again."
    )


def _verified(file: SourceFile) -> str:
    return "not verified (no checksum is published)" if file.digest is None else "verified"
