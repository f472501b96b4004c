"""The members of a downloaded archive, zip or gzipped tar, read one way for the unpacker.

`open_archive` tells the format by the file's first bytes, not its name. Each member comes
as an `Entry`, in archive order, with its name, what it is (a file, a folder, a
link, something else) and, for a file, a way to read its bytes. A zip is read through its
central directory; a tar.gz as one stream, front to back: going back in a gzip stream
means decompressing it again from the start, so nothing here seeks. `done` counts how far
the reading has got, up to `total(wanted)`: the bytes of the wanted members of a zip, the
archive's own bytes for a tar.gz (read whole, and the only measure a stream has up front),
for the progress bar.

A corrupt archive raises `CorruptArchive` naming the member being read (or the last one
read whole), whichever format it is.
"""

from __future__ import annotations

import gzip
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from padt_eval.fetch.errors import FetchError

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
GZIP_MAGIC = b"\x1f\x8b"
_DRAIN = 1 << 20
#: what a broken zip or tar.gz raises while its members are read
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)
_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile)


class CorruptArchive(FetchError):
    pass


@dataclass(frozen=True)
class Entry:
    name: str  # as stored, less a tar's leading "./" ("" for the tar's own "." folder)
    kind: str  # file | dir | link | other
    size: int
    link: str = ""  # where a link points
    open: Callable[[], IO[bytes]] | None = None  # a file's bytes (a tar's only while it is the current member)


def _zip_kind(info: zipfile.ZipInfo) -> str:
    kind = stat.S_IFMT(info.external_attr >> 16)  # the Unix file type, where the zip says one (0: it does not)
    if info.is_dir():
        return "dir"
    if kind == stat.S_IFLNK:
        return "link"
    return "file" if kind in (0, stat.S_IFREG) else "other"


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.isfile():
        return "file"
    if info.isdir():
        return "dir"
    return "link" if info.issym() or info.islnk() else "other"


class ZipArchive:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FetchError(f"cannot open archive {path}: {exc}") from None
        self.done = 0

    def total(self, wanted: Callable[[str], bool]) -> int:
        """The bytes of the members `wanted` takes: what `done` counts up to."""
        return sum(i.file_size for i in self.zf.infolist() if wanted(i.filename))

    def entries(self) -> Iterator[Entry]:
        for info in self.zf.infolist():
            kind = _zip_kind(info)
            link = self.zf.read(info).decode("utf-8", "replace") if kind == "link" else ""
            name = info.filename.rstrip("/") if kind == "dir" else info.filename
            yield Entry(name, kind, info.file_size, link, lambda i=info: _Member(self.zf.open(i), self, i.filename, _ZIP_ERRORS))

    def close(self) -> None:
        self.zf.close()


class TarGzArchive:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw = open(path, "rb")
        self.last = ""  # the member read last, for the message when the stream breaks
        # gzip.GzipFile checks the stream's CRC-32 and length at its end; tarfile's own "r|gz"
        # does not, so a damaged stored block would unpack wrong bytes without a word
        self.gz = gzip.GzipFile(fileobj=self.raw, mode="rb")
        try:
            self.tar = tarfile.open(fileobj=self.gz, mode="r|")
        except _TAR_ERRORS as exc:
            self.raw.close()
            raise CorruptArchive(f"archive {path} is corrupt at its start: {exc}") from None

    @property
    def done(self) -> int:
        return self.raw.tell()

    def total(self, wanted: Callable[[str], bool]) -> int:
        """The archive's size: a stream is read whole whatever is wanted of it."""
        return self.path.stat().st_size

    def entries(self) -> Iterator[Entry]:
        members = iter(self.tar)
        while True:
            try:
                info = next(members)
            except StopIteration:
                self._drain()
                return
            except _TAR_ERRORS as exc:
                raise self._corrupt(exc) from None
            name = info.name
            while name.startswith("./"):
                name = name[2:]
            name = "" if name == "." else (name.rstrip("/") if info.isdir() else name)
            kind = _tar_kind(info)
            opener = None
            if kind == "file":
                opener = lambda i=info, n=name: _Member(self.tar.extractfile(i), self, n, _TAR_ERRORS)  # noqa: E731
            yield Entry(name, kind, info.size, info.linkname, opener)
            self.last = name

    def _corrupt(self, exc: BaseException) -> CorruptArchive:
        where = f"after member {self.last}" if self.last else "at its first member"
        return CorruptArchive(f"archive {self.path} is corrupt {where}: {exc}")

    def _drain(self) -> None:
        """Read the gzip stream to its end (tar stops at its end-of-archive blocks), which is
        where its CRC-32 is checked."""
        try:
            while self.gz.read(_DRAIN):
                pass
        except _TAR_ERRORS as exc:
            raise self._corrupt(exc) from None

    def close(self) -> None:
        self.tar.close()
        self.gz.close()
        self.raw.close()


class _Member:
    """A member's bytes: counted for a zip's `done`, and named in the message when they break."""

    def __init__(self, f: IO[bytes] | None, archive: ZipArchive | TarGzArchive, name: str, errors: tuple) -> None:
        self.f, self.archive, self.name, self.errors = f, archive, name, errors

    def read(self, n: int) -> bytes:
        assert self.f is not None
        try:
            chunk = self.f.read(n)
        except self.errors as exc:
            raise CorruptArchive(f"archive {self.archive.path} is corrupt at member {self.name}: {exc}") from None
        if isinstance(self.archive, ZipArchive):
            self.archive.done += len(chunk)
        return chunk

    def __enter__(self) -> _Member:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.f is not None:
            self.f.close()


def open_archive(path: Path) -> ZipArchive | TarGzArchive:
    """The archive at `path`, by its first bytes: a zip or a gzipped tar."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise FetchError(f"cannot open archive {path}: {exc}") from None
    if head.startswith(ZIP_MAGIC):
        return ZipArchive(path)
    if head.startswith(GZIP_MAGIC):
        return TarGzArchive(path)
    raise FetchError(f"cannot open archive {path}: neither a zip nor a gzipped tar (it starts with {head!r})")
