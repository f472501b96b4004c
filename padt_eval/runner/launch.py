"""Starting N ranks with torch's elastic launcher (the machinery behind torchrun).

`--gpus N` starts N model replicas on this machine, one per GPU; `--workers N` starts N
CPU ranks the same way. Inside an existing torchrun or SLURM job the command does not
launch anything: it is one of the ranks (see `worker.dist_env`). For several machines,
run the same padt-eval command under torchrun on each node (docs/running.md,
"Multi-GPU and multi-node").

With `max_restarts=0`, the agent stops every rank as soon as one fails and reports the
failure; since ranks share no collective during inference, none of them can hang.

**Stop signals.** A terminal's Ctrl-C reaches every process of the group at once: the
launcher, the ranks and their DataLoader workers, each wherever it happens to be. torch's
own handling went wrong in two ways (R05). Its agent passes the signal it got on to the
ranks (SIGINT), where the KeyboardInterrupt can be swallowed (the rank log of a slow try
showed it "ignored" inside logging's at-fork lock release), and then waits 30 s before it
kills them: the 31 s Ctrl-C. And its handler raises an ordinary Exception in the
launcher, which any `except Exception` on the way may catch. So the launcher alone
answers a stop signal: torch is told to leave SIGINT, SIGTERM and SIGHUP alone
(`signals_to_handle`), our handler raises a KeyboardInterrupt that nothing in between
catches, and the agent stops the ranks with SIGTERM, which they do not catch. Ranks
ignore SIGINT, and so do their loader workers, which inherit it. Each batch is on disk
before the next starts, so a rank killed at any moment loses at most the batch in flight.
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from padt_eval.core.errors import PadtEvalError
from padt_eval.core.failures import STOP_SIGNALS, Stopped, disk_full_hint, stop_signals_raise
from padt_eval.runner.job import RunJob
from padt_eval.runner.worker import run_rank

# Where torch's launcher leaves `signals_to_handle` for its agent (and leaves it set).
_TORCH_SIGNALS_ENV = "TORCHELASTIC_SIGNALS_TO_HANDLE"


class RankFailed(PadtEvalError):
    """A rank raised or died; what it wrote is kept and a rerun resumes."""

    exit_code = 1


def _root_cause(exc: Exception) -> str:
    failures = getattr(exc, "failures", None) or {}
    lines = []
    for rank, failure in sorted(failures.items()):
        data = getattr(failure, "error_file_data", None) or {}
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, dict):
            text = message.get("message", "")
            trace = (message.get("extraInfo") or {}).get("py_callstack", "")
        else:
            text, trace = str(message or ""), ""
        if not text or text == "<NONE>":  # torch's placeholder when the process left no error file
            exitcode = getattr(failure, "exitcode", None)
            if exitcode is not None and exitcode < 0:
                try:
                    name = signal.Signals(-exitcode).name
                except ValueError:
                    name = f"signal {-exitcode}"
                text = f"killed by a signal ({name})"
            else:
                text = f"exited with code {exitcode}"
        lines.append(f"rank {rank}: {text}")
        if trace:
            lines.append(trace.rstrip())
    return "\n".join(lines) or str(exc)


def launched_rank(job: RunJob) -> dict[str, Any]:
    """A rank under our launcher: Ctrl-C is the launcher's to answer (module doc)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return run_rank(job)


@contextmanager
def _signals_left_to_us() -> Iterator[None]:
    """Every signal handler torch's agent installs, and the environment variable its
    launcher sets, are put back as they were afterwards (torch leaves them behind): a
    later single-rank run in this process must get Ctrl-C as KeyboardInterrupt again."""
    handlers = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, signal.SIGQUIT)}
    saved_env = os.environ.get(_TORCH_SIGNALS_ENV)
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop(_TORCH_SIGNALS_ENV, None)
        else:
            os.environ[_TORCH_SIGNALS_ENV] = saved_env
        for sig, handler in handlers.items():
            if handler is not None:
                try:
                    signal.signal(sig, handler)
                except ValueError:  # not the main thread: torch could not install its own either
                    pass


def launch(job: RunJob, nproc: int, log_dir: Path) -> dict[int, Any]:
    """Run `run_rank(job)` on `nproc` local ranks; return each rank's summary.

    Worker output goes to `log_dir` (one file per rank) so it does not tear the live
    progress view; a failure raises RankFailed with the failing rank's error and traceback;
    a stop signal raises `Stopped` once the ranks are stopped.
    """
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    log_dir.mkdir(parents=True, exist_ok=True)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"padt-eval-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=0.2,
        start_method="spawn",
        logs_specs=DefaultLogsSpecs(log_dir=str(log_dir), redirects=Std.ALL),
        signals_to_handle="SIGQUIT",  # SIGINT, SIGTERM and SIGHUP are ours (module doc)
    )
    # torch logs each failure at ERROR with a full traceback; we report it once, ourselves.
    quiet = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.distributed.launcher", "torch.multiprocessing")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        with _signals_left_to_us(), stop_signals_raise() as received:
            try:
                summaries = elastic_launch(config, launched_rank)(job)
            except Stopped:
                raise
            except Exception as exc:  # ChildFailedError, or a rendezvous failure
                sigval = getattr(exc, "sigval", None)  # torch's own handler (SIGQUIT)
                if received or sigval is not None:  # ranks that died of the same stop signal
                    raise Stopped(received[0] if received else sigval) from None
                raise _rank_failed(exc, job, log_dir) from None
            if received:  # the stop was caught on its way (inside torch) and the run went on
                raise Stopped(received[0])
            return summaries
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)


def _rank_failed(exc: Exception, job: RunJob, log_dir: Path) -> RankFailed:
    cause, full = _root_cause(exc), disk_full_hint(job.out_dir)
    failed = RankFailed(
        f"a rank failed; the predictions already written are kept in {job.out_dir}, and rerunning "
        f"the same command completes only what is missing.\n{cause}{full}\n(worker logs: {log_dir})"
    )
    if full or "No space left on device" in cause:
        failed.exit_code = 2  # the machine's state, like any file system error, not a crash
    return failed
