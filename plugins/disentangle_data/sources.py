"""Where each dataset's files come from: the table in sources.toml, read into checked models."""

from __future__ import annotations

import difflib
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from disentangle.errors import DatasetError

#: the table shipped with the plugin
SOURCES_FILE = Path(__file__).with_name("sources.toml")
#: the guide's section on getting data, named by the messages
GUIDE = 'docs/guide.md, "Getting data"'


class SourceFile(BaseModel):
    """One file to fetch: where from, how to check it, where it goes under the root."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    name: str | None = Field(None, description="the file's name on disk (default: the URL's)")
    size: int | None = Field(None, ge=1, description="bytes, as upstream serves it")
    md5: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    checksum: Literal["unknown"] | None = Field(
        None, description='"unknown" where no checksum is published (never left out silently)'
    )
    content_md5: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="md5 of a .gz file's gunzipped bytes: a copy compressed again (as Debian's "
        "packages are) verifies by its content",
    )
    into: str = Field("", description="the folder under the root the file goes into")
    unpack: Literal["tar", "zip"] | None = Field(None, description="unpacked into `into`")
    creates: str | None = Field(
        None, description="a path under the root that the unpacked archive makes"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SourceFile:
        named = [k for k in ("md5", "sha256", "checksum") if getattr(self, k) is not None]
        if len(named) != 1:
            raise ValueError(f"{self.url}: give one of md5, sha256 or checksum = 'unknown'")
        if (self.unpack is None) != (self.creates is None):
            raise ValueError(f"{self.url}: an archive to unpack names what it `creates`")
        if self.content_md5 is not None and not self.filename.endswith(".gz"):
            raise ValueError(f"{self.url}: content_md5 is for .gz files")
        for path in (self.into, self.creates or ""):
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"{path}: a path under the root, without '..'")
        return self

    @property
    def filename(self) -> str:
        return self.name or urlsplit(self.url).path.rsplit("/", 1)[-1]

    @property
    def digest(self) -> tuple[str, str] | None:
        """(algorithm, hex digest) upstream publishes, or None where it publishes none."""
        if self.sha256 is not None:
            return "sha256", self.sha256
        if self.md5 is not None:
            return "md5", self.md5
        return None


class Source(BaseModel):
    """A dataset's files, its page and licence, or what to do by hand where nothing is direct."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    page: str
    licence: str
    note: str = Field("", description="what to know before downloading (a host's quirks)")
    files: tuple[SourceFile, ...] = ()
    manual: str | None = Field(None, description="the steps by hand, when no file is direct")

    @model_validator(mode="after")
    def _files_or_manual(self) -> Source:
        if bool(self.files) == bool(self.manual):
            raise ValueError(f"{self.title}: give either files or manual steps")
        return self


def read_sources(path: Path) -> dict[str, Source]:
    """Every dataset's source in a table file, checked."""
    try:
        table = tomllib.loads(path.read_text())
        return {name: Source.model_validate(row) for name, row in table.items()}
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise DatasetError(f"{path}: not a valid table of dataset sources: {exc}") from None


@cache
def shipped_sources() -> dict[str, Source]:
    return read_sources(SOURCES_FILE)


def source_of(name: str, sources: dict[str, Source]) -> Source:
    """The source of dataset `name`, or an error naming those that have one."""
    if name in sources:
        return sources[name]
    close = difflib.get_close_matches(name, sources, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DatasetError(
        f"{name!r} has no download source.{hint} Datasets with one: {', '.join(sources)} "
        "(procedural is drawn by code; image_folder reads a folder of your own)."
    )


def with_mirror(url: str, mirror: str | None) -> str:
    """`url` with its scheme and host replaced by the mirror's (its path put before url's)."""
    if mirror is None:
        return url
    base, original = urlsplit(mirror), urlsplit(url)
    path = base.path.rstrip("/") + original.path
    return urlunsplit((base.scheme, base.netloc, path, original.query, ""))


def download_hint(name: str, root: Path) -> str:
    """The command that downloads dataset `name` into `root`, for not-found messages."""
    return f"disentangle data download {name} --root {root} ({GUIDE})"
