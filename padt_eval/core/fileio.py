"""File helpers shared by every stage: the cache folder, hashing and atomic writes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_HASH_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where derived files live (split caches, weight digests): `$PADT_EVAL_CACHE`, else
    `$XDG_CACHE_HOME/padt-eval`, else `~/.cache/padt-eval`."""
    env = os.environ.get("PADT_EVAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "padt-eval"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def cached_sha256(path: str | Path) -> str:
    """sha256 of a (large) file, cached by resolved path, size and mtime.

    Weight files are hashed for every run's identity and manifest; hashing a 7.7 GB
    checkpoint costs ~14 s even from the page cache, so a file whose path, size and
    mtime are unchanged reuses its digest. A cached entry that is not a digest is
    recomputed, and an unwritable cache only costs the rehash (with one warning a run,
    `derived_cache.warn_unwritable`)."""
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
        from padt_eval.core.derived_cache import warn_unwritable  # it imports this module

        warn_unwritable(f"the weight-hash cache {cached.parent}", exc)
    return digest


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    A reader never sees a half-written file: either the old one or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
