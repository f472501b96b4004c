"""Errors that reach the user as a message and exit code 2, never as a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PadtEvalError(Exception):
    """Base class: bad input or bad usage, with a message that names the file, line or sample."""

    exit_code = 2


class UsageError(PadtEvalError):
    """The command line asks for something that does not exist (unknown split, model ...)."""


class DataError(PadtEvalError):
    """A data or predictions file is missing, malformed, or unsafe."""


class CheckpointError(PadtEvalError):
    """A model checkpoint does not fit the architecture it claims."""


def where(path: object, line: int | None = None) -> str:
    """Format a location as `path:line` (1-based line) for messages."""
    return f"{path}:{line}" if line is not None else str(path)


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """` (did you mean 'refcoco_val'?)` for a near miss among `choices`, else ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
