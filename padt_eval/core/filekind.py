"""What a path is, told without opening it: a FIFO or a device must never be opened.

Opening a FIFO blocks until a writer appears, and `/dev/zero` never ends, so every file
padt-eval reads that a user or an annotation names (images, predictions files, split
files) is checked with `os.stat` first, which answers at once for any kind of file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from padt_eval.core.errors import DataError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(path: str | Path) -> str | None:
    """None for a regular file (after following symlinks); else what the path is, in words
    ("missing", "a FIFO (named pipe)", "a character device" ...)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def require_regular_file(path: str | Path, what: str) -> None:
    """Raise a DataError naming `what` and `path` unless it is a regular file."""
    kind = file_kind(path)
    if kind == "missing":
        raise DataError(f"{what} not found: {path}")
    if kind is not None:
        raise DataError(f"{what} {path} is {kind}, not a regular file; padt-eval reads only regular files")
