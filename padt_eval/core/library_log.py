"""Library chatter goes to a log file, not into the run view.

Python warnings (transformers' FutureWarnings ...), transformers' and the Hub's progress
bars ("Loading weights"), and whatever libraries or the Java caption tools write to the
process's stderr (the PTB tokenizer's "tokenized N tokens" line) are sent to one log file
while a run or a scoring pass is going. The run's own progress view and messages are
untouched: stdout, our errors printed after it, and the runner's notes, which go through
`user_stderr()` to the real stderr. The output collects in a temporary file (the run
folder may not exist yet, or be replaced by --overwrite meanwhile) and is appended to
the log at the end, when there is any.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

_HUB_BARS = "HF_HUB_DISABLE_PROGRESS_BARS"
_terminal: TextIO | None = None  # the real stderr while library output is redirected


def user_stderr() -> TextIO:
    """Where padt-eval's own notes to the user go: the real stderr, also while the
    process's stderr is redirected to the library log."""
    return _terminal if _terminal is not None else sys.stderr


@contextmanager
def library_output_to(log_path: Path) -> Iterator[Path]:
    """Send warnings, library progress bars and fd-level stderr to `log_path` meanwhile."""
    import tempfile

    log = tempfile.NamedTemporaryFile("w+", encoding="utf-8", buffering=1, prefix="padt-eval-", suffix=".log", delete=False)
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    warn_logger = logging.getLogger("py.warnings")
    saved_propagate = warn_logger.propagate
    warn_logger.addHandler(handler)
    warn_logger.propagate = False
    logging.captureWarnings(True)
    saved_bars = os.environ.get(_HUB_BARS)
    os.environ[_HUB_BARS] = "1"  # read by transformers and the Hub when they are imported
    bars_were_on = _transformers_bars(enable=False)
    global _terminal
    sys.stderr.flush()
    saved_fd = os.dup(2)
    os.dup2(log.fileno(), 2)
    outer, _terminal = _terminal, os.fdopen(os.dup(saved_fd), "w", encoding="utf-8", buffering=1)
    try:
        yield log_path  # the warning filters in force stay as they are (-W, pytest's ...)
    finally:
        sys.stderr.flush()
        _terminal.close()
        _terminal = outer
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        logging.captureWarnings(False)
        warn_logger.removeHandler(handler)
        warn_logger.propagate = saved_propagate
        if saved_bars is None:
            os.environ.pop(_HUB_BARS, None)
        else:
            os.environ[_HUB_BARS] = saved_bars
        if bars_were_on:
            _transformers_bars(enable=True)
        log.close()
        _move_into(Path(log.name), log_path)


def _move_into(tmp: Path, log_path: Path) -> None:
    """Append what `tmp` collected to `log_path` (if anything), then remove `tmp`."""
    try:
        text = tmp.read_bytes()
        if text:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as out:
                out.write(text)
    except OSError:
        pass  # a log is never worth failing a run for (the disk may be full)
    finally:
        tmp.unlink(missing_ok=True)


def _transformers_bars(enable: bool) -> bool:
    """Switch transformers' progress bars (when it is loaded); return whether they were on."""
    module = sys.modules.get("transformers.utils.logging")
    if module is None:
        return False
    was_on = bool(module.is_progress_bar_enabled())
    if enable:
        module.enable_progress_bar()
    else:
        module.disable_progress_bar()
    return was_on
