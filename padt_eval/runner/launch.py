"""Starting N ranks with torch's elastic launcher (the machinery behind torchrun).

`--gpus N` starts N model replicas on this machine, one per GPU; `--workers N` starts N
CPU ranks the same way. Inside an existing torchrun or SLURM job the command does not
launch anything: it is one of the ranks (see `worker.dist_env`). For several machines,
run the same padt-eval command under torchrun on each node (docs/running.md,
"Multi-GPU and multi-node").

With `max_restarts=0`, the agent stops every rank as soon as one fails and reports the
failure; since ranks share no collective during inference, none of them can hang.
"""

from __future__ import annotations

import logging
import signal
import uuid
from pathlib import Path
from typing import Any

from padt_eval.core.errors import PadtEvalError
from padt_eval.core.failures import disk_full_hint, is_interrupt
from padt_eval.runner.worker import RunJob, run_rank


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


def launch(job: RunJob, nproc: int, log_dir: Path) -> dict[int, Any]:
    """Run `run_rank(job)` on `nproc` local ranks; return each rank's summary.

    Worker output goes to `log_dir` (one file per rank) so it does not tear the live
    progress view; a failure raises RankFailed with the failing rank's error and traceback.
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
    )
    # torch logs each failure at ERROR with a full traceback; we report it once, ourselves.
    quiet = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.distributed.launcher", "torch.multiprocessing")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    # torch's agent installs its own SIGINT/SIGTERM handlers and leaves them behind; a later
    # single-rank run in this process must get Ctrl-C as KeyboardInterrupt again.
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return elastic_launch(config, run_rank)(job)
    except Exception as exc:  # ChildFailedError, or a rendezvous failure
        if is_interrupt(exc):  # Ctrl-C: the caller says what was kept
            raise KeyboardInterrupt from None
        cause, full = _root_cause(exc), disk_full_hint(job.run_dir)
        failed = RankFailed(
            f"a rank failed; the predictions already written are kept in {job.run_dir}, and rerunning "
            f"the same command completes only what is missing.\n{cause}{full}\n(worker logs: {log_dir})"
        )
        if full or "No space left on device" in cause:
            failed.exit_code = 2  # the machine's state, like any file system error, not a crash
        raise failed from None
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
        for sig, handler in handlers.items():
            if handler is not None:
                try:
                    signal.signal(sig, handler)
                except ValueError:  # not the main thread: torch could not install its own either
                    pass
