"""File helpers shared by every stage: the cache folder (and its one unwritable warning), hashing and atomic writes."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from padt_eval.core.failures import os_error_message
from padt_eval.core.library_log import user_stderr

_HASH_CHUNK = 1 << 20
# Set once the unwritable-cache warning is printed, so ranks started by this process do not repeat it.
_WARNED_ENV = "PADT_EVAL_CACHE_WARNED"


def cache_dir() -> Path:
    """Where derived files live (split caches, weight digests): `$PADT_EVAL_CACHE`, else
    `$XDG_CACHE_HOME/padt-eval`, else `~/.cache/padt-eval`."""
    env = os.environ.get("PADT_EVAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "padt-eval"


_SETTLED_NS = 2_000_000_000
#: digests this process has computed, by the file's identity when it was hashed
_DIGESTS: dict[tuple[int, int, int, int, int], str] = {}


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def sha256_file(path: str | Path) -> str:
    """The file's sha256. One scoring command hashes the same predictions file for its
    record and again for its report (35 MB at 50k RES answers, ~0.06 s each), so a digest
    is remembered for the rest of the process while the file's device, inode, size, mtime
    and ctime stay what they were when it was read. The kernel stamps times at clock-tick
    granularity, so two writes within a tick can leave them equal: as git does with its
    "racily clean" entries, a file changed within the last two seconds is not remembered."""
    with open(path, "rb") as f:
        before = _identity(os.fstat(f.fileno()))
        known = _DIGESTS.get(before)
        if known is not None:
            return known
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
        digest = h.hexdigest()
        settled = time.time_ns() - max(before[3], before[4]) > _SETTLED_NS
        if settled and _identity(os.fstat(f.fileno())) == before:  # not written to while being read
            _DIGESTS[before] = digest
    return digest


def cached_sha256(path: str | Path) -> str:
    """sha256 of a (large) file, cached by resolved path, size and mtime.

    Weight files are hashed for every run's identity and manifest; hashing a 7.7 GB
    checkpoint costs ~14 s even from the page cache, so a file whose path, size and
    mtime are unchanged reuses its digest. A cached entry that is not a digest is
    recomputed, and an unwritable cache only costs the rehash (with one warning a run,
    `warn_unwritable`)."""
    path = Path(path)
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    cached = cache_dir() / "weight-hashes" / key
    try:
        digest = cached.read_text(encoding="ascii").strip()
        if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
            return digest
    except (OSError, UnicodeDecodeError):
        pass  # missing or damaged: recomputed below
    digest = sha256_file(path)
    try:
        with atomic_write(cached) as f:
            f.write(digest)
    except OSError as exc:
        warn_unwritable(f"the weight-hash cache {cached.parent}", exc)
    return digest


def warn_unwritable(what: str, exc: OSError) -> None:
    """One note per run (this process and the ranks it starts) that a cache is in memory."""
    if os.environ.get(_WARNED_ENV):
        return
    os.environ[_WARNED_ENV] = "1"
    print(
        f"padt-eval: warning: cannot write {what} ({os_error_message(exc)}); derived files are kept in memory "
        "for this run, which only costs speed (set PADT_EVAL_CACHE to a writable folder to keep them)",
        file=user_stderr(),
        flush=True,
    )


@contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """An OSError raised meanwhile that names no file gets `path` as its file name.

    A write into a full disk fails at write(), flush() or close() of an open file, and
    Python's ENOSPC there names nothing: the message would not say which disk is full.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def close_quietly(f: IO) -> None:
    """Close a file after a failure: on a full disk, close() flushes what is buffered,
    fails again, and would hide the first error (and skip the cleanup after it)."""
    try:
        f.close()
    except OSError:
        pass


def unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    A reader never sees a half-written file: either the old one or the complete new one.
    On any failure the temporary file is gone and the error names `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path), staged_write(path, mode) as (f, tmp):
        yield f
        commit_staged(f, tmp, path)


@contextmanager
def staged_write(path: Path, mode: str = "w") -> Iterator[tuple[IO, Path]]:
    """(open file, its temporary path) beside `path`, for a caller that renames it later
    (`commit_staged`), maybe with other files at once. On a failure inside, the file is
    closed and removed; after a success it is the caller's."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    f = os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {}))
    try:
        yield f, Path(tmp)
    except BaseException:
        close_quietly(f)
        unlink_quietly(tmp)
        raise


def finish_staged(f: IO, tmp: Path) -> None:
    """Flush, fsync and close a staged file, with the permissions a plain open() gives
    (mkstemp creates 0600)."""
    f.flush()
    os.fsync(f.fileno())
    f.close()
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def commit_staged(f: IO, tmp: Path, path: Path) -> None:
    finish_staged(f, tmp)
    os.replace(tmp, path)
