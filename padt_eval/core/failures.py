"""How a failure reaches the user: bad input or usage, a file system that refuses a
write, and a stop signal (Ctrl-C, `kill`, a closed terminal).

Each reaches the user as one message that says what happened, where, and how to go on
(a `PadtEvalError`'s own exit code, 2 for a file system error, 128 + the signal for a
stop: 130 for Ctrl-C, 143 for SIGTERM), never as a traceback. `guarded`, applied by the CLI to every command, is the one place
that turns them into messages; the runner and the API only translate what they know
more about (how many predictions an interrupted run kept, whether a rank that left no
readable error ran out of disk).
"""

from __future__ import annotations

import errno
import functools
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
# The signals that stop a command with a message: Ctrl-C, `kill` (a scheduler's
# preemption, systemd), and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A disk with less than this free is called full in a message about a rank that died
# without leaving a readable error (its error file could not be written either).
_NEARLY_FULL_BYTES = 1 << 20


class Stopped(KeyboardInterrupt):
    """A stop signal, raised in the main thread by `stop_signals_raise`. A KeyboardInterrupt,
    so that no `except Exception` on the way (torch's agent has several) can swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interrupted(KeyboardInterrupt):
    """A stop signal (Ctrl-C by default), with what was kept and how to resume."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.message = message
        self.signum = signum

    def __str__(self) -> str:
        return self.message


def signal_of(exc: BaseException) -> int:
    """The stop signal behind an interruption: SIGINT unless it says otherwise."""
    return getattr(exc, "signum", None) or getattr(exc, "sigval", None) or signal.SIGINT


def stop_label(signum: int) -> str:
    """How a stop is named to the user: Ctrl-C is an interruption, the others by name."""
    return "interrupted" if signum == signal.SIGINT else f"terminated by {signal.Signals(signum).name}"


def stop_exit_code(signum: int) -> int:
    return 128 + int(signum)


@contextmanager
def stop_signals_raise() -> Iterator[list[int]]:
    """Meanwhile, SIGINT, SIGTERM and SIGHUP raise `Stopped` in the main thread, and the
    signals received are listed in the yielded list (a caller can check it after code that
    might have caught the exception). Without it SIGTERM kills the process with no word
    said. Outside the main thread (where Python allows no handler) it changes nothing."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001 — the signal module's signature
        received.append(signum)
        raise Stopped(signum)

    saved = {}
    for sig in STOP_SIGNALS:
        previous = signal.getsignal(sig)
        if previous is signal.SIG_IGN:  # started with the signal ignored (nohup): keep it so
            continue
        saved[sig] = previous
        signal.signal(sig, handler)
    try:
        yield received
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


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
    """Whether `exc` is a stop signal: a KeyboardInterrupt (ours included), or torch's
    elastic agent stopping on one (`SignalException("Process N got signal: 2")`)."""
    return getattr(exc, "sigval", None) in STOP_SIGNALS or isinstance(exc, KeyboardInterrupt)


def guarded(command: Callable[..., Any], print_error: Callable[[str, str], None]) -> Callable[..., Any]:
    """Wrap a CLI command: bad input or usage (`PadtEvalError`) → `error: …` and its exit
    code; a stop signal → its message and exit 128 + the signal (130 for Ctrl-C); an
    OSError → `error: …` naming the file, exit 2. `print_error(label, text)` prints to the
    error stream."""
    import typer

    from padt_eval.core.errors import PadtEvalError

    def stopped(exc: BaseException) -> typer.Exit:
        signum = signal_of(exc)
        print_error(stop_label(signum), str(exc) if isinstance(exc, Interrupted) else "nothing was lost; rerun the same command")
        return typer.Exit(code=stop_exit_code(signum))

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            with stop_signals_raise():
                return command(*args, **kwargs)
        except PadtEvalError as exc:
            print_error("error", str(exc))
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt as exc:
            raise stopped(exc) from None
        except OSError as exc:
            print_error("error", f"{os_error_message(exc)}; what was computed before is kept")
            raise typer.Exit(code=2) from None
        except Exception as exc:
            if not is_interrupt(exc):  # torch's handler turned the signal into SignalException
                raise
            raise stopped(exc) from None

    return run


def guard_commands(app: Any, print_error: Callable[[str, str], None]) -> None:
    """Apply `guarded` to every command of a Typer app and its sub-apps."""
    for info in app.registered_commands:
        if not getattr(info.callback, "_padt_eval_guarded", False):
            info.callback = guarded(info.callback, print_error)
            info.callback._padt_eval_guarded = True  # type: ignore[attr-defined]
    for group in app.registered_groups:
        guard_commands(group.typer_instance, print_error)
