"""A command started with stdin, stdout or stderr closed (`padt-eval ... >&-`).

Python then sets `sys.stdout` (or the others) to None, and every library that asks it
`isatty()` fails before any work is done. Worse, the first file the run opens would get
descriptor 1, so anything a library or a child process prints would land inside a
results file. Each closed descriptor is reopened on the null device first: the run
writes its results as usual, and what it prints goes nowhere, as the user asked.
"""

from __future__ import annotations

import os
import sys

_STREAMS = ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY))


def reopen_closed_std_streams() -> list[str]:
    """Put the null device on each closed standard descriptor; return the names reopened."""
    reopened = []
    for fd, name, flags in _STREAMS:
        try:
            os.fstat(fd)
            closed = False
        except OSError:
            closed = True
        if closed:
            null = os.open(os.devnull, flags)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            reopened.append(name)
        if closed or getattr(sys, name) is None:
            mode = "r" if fd == 0 else "w"
            setattr(sys, name, open(fd, mode, encoding="utf-8", errors="replace", closefd=False, buffering=1))
    return reopened
