"""Child processes of a rank: how DataLoader workers start, and that they die with it.

**Start method.** A rank started by torch's elastic launcher is a *spawned* process, and
a spawned process inherits "spawn" as its default start method; DataLoader workers then
start as fresh interpreters that import torch, transformers and the adapter again (tens
of seconds per worker). So the loader gets an explicit context:

* CPU ranks: ``fork``. The worker is a copy of the rank with everything already imported;
  torch on the CPU is fork-safe (no CUDA context to corrupt).
* CUDA ranks: ``forkserver``, with the heavy modules preloaded. Forking a process that has
  initialised CUDA (the model is on the GPU before the loader starts) is unsafe: the
  child inherits a CUDA context it cannot use, and any CUDA call there hangs or fails.
  The fork server is a clean process started before any worker, imports torch and the
  adapter's modules once (`set_forkserver_preload`), and forks every worker from itself:
  one import in total instead of one per worker, and no CUDA state in the children.

``PADT_EVAL_LOADER_START_METHOD=spawn|fork|forkserver`` overrides the choice (for a library
that misbehaves under fork, and for benchmarks/bench_rank_startup.py).

**Dying together.** A SIGKILLed rank cannot stop its children: without help, its loader
workers and multiprocessing's resource tracker are re-parented to init and live on,
holding shared memory. Each loader worker (and each rank under a launcher) asks the
kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``, Linux). The
resource tracker exits by itself once every process holding its pipe is gone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

START_METHOD_ENV = "PADT_EVAL_LOADER_START_METHOD"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; no-op elsewhere).
    If the parent is already gone (re-parented to init), exit now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


def loader_worker_init(worker_id: int) -> None:  # noqa: ARG001 — DataLoader's signature
    die_with_parent()


def loader_context(device: str, preload: list[str]):
    """The multiprocessing context for a rank's DataLoader workers (see the module doc)."""
    method = os.environ.get(START_METHOD_ENV) or ("forkserver" if device.startswith("cuda") else "fork")
    if method not in ("fork", "forkserver", "spawn"):
        from padt_eval.core.errors import UsageError

        raise UsageError(f"{START_METHOD_ENV} must be fork, forkserver or spawn, got {method!r}")
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(sorted(set(["torch", "padt_eval.runner.worker", *preload])))
    return ctx
