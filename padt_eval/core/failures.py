"""How a failure reaches the user: bad input or usage, a file system that refuses a
write, and Ctrl-C.

Each reaches the user as one message that says what happened, where, and how to go on
(a `PadtEvalError`'s own exit code, 2 for a file system error, 130 for an interruption),
never as a traceback. `guarded`, applied by the CLI to every command, is the one place
that turns them into messages; the runner and the API only translate what they know
more about (how many predictions an interrupted run kept, whether a rank that left no
readable error ran out of disk).
"""

from __future__ import annotations

import errno
import functools
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
# A disk with less than this free is called full in a message about a rank that died
# without leaving a readable error (its error file could not be written either).
_NEARLY_FULL_BYTES = 1 << 20


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what was kept and how to resume."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def os_error_message(exc: OSError) -> str:
    """`No space left on device (ENOSPC): /path`, with both paths of a rename."""
    code = errno.errorcode.get(exc.errno or 0, "")
    what = exc.strerror or str(exc)
    where = " → ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    return f"{what}{f' ({code})' if code else ''}{f': {where}' if where else ''}"


def disk_full_hint(path: str | Path) -> str:
    """A sentence when the disk holding `path` is (nearly) full, else ''."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    if free >= _NEARLY_FULL_BYTES:
        return ""
    return f"\nthe disk holding {path} is full ({free:,} bytes free; ENOSPC): free some space, then rerun"


def is_interrupt(exc: BaseException) -> bool:
    """Whether torch's elastic agent stopped because this process group got Ctrl-C
    (it raises `SignalException("Process N got signal: 2")`)."""
    return getattr(exc, "sigval", None) == signal.SIGINT or isinstance(exc, KeyboardInterrupt)


def guarded(command: Callable[..., Any], print_error: Callable[[str, str], None]) -> Callable[..., Any]:
    """Wrap a CLI command: bad input or usage (`PadtEvalError`) → `error: …` and its exit
    code; Ctrl-C → its message and exit 130; an OSError → `error: …` naming the file,
    exit 2. `print_error(label, text)` prints to the error stream."""
    import typer

    from padt_eval.core.errors import PadtEvalError

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PadtEvalError as exc:
            print_error("error", str(exc))
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt as exc:
            print_error("interrupted", str(exc) if isinstance(exc, Interrupted) else "nothing was lost; rerun the same command")
            raise typer.Exit(code=INTERRUPTED_EXIT) from None
        except OSError as exc:
            print_error("error", f"{os_error_message(exc)}; what was computed before is kept")
            raise typer.Exit(code=2) from None
        except Exception as exc:
            if not is_interrupt(exc):  # torch's handler turned Ctrl-C into SignalException
                raise
            print_error("interrupted", "nothing was lost; rerun the same command")
            raise typer.Exit(code=INTERRUPTED_EXIT) from None

    return run


def guard_commands(app: Any, print_error: Callable[[str, str], None]) -> None:
    """Apply `guarded` to every command of a Typer app and its sub-apps."""
    for info in app.registered_commands:
        if not getattr(info.callback, "_padt_eval_guarded", False):
            info.callback = guarded(info.callback, print_error)
            info.callback._padt_eval_guarded = True  # type: ignore[attr-defined]
    for group in app.registered_groups:
        guard_commands(group.typer_instance, print_error)
