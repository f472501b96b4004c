"""One run at a time per run folder: an advisory `flock` on `<run>/run.lock`.

Two commands started into one folder would both compute every sample and leave it with
two copies of each. The first to start takes the lock; the second is refused at once,
naming the holder (pid, host, start time) from the lock file. The kernel drops a flock
when its holder dies, however it dies, so a lock left by a killed run is simply taken
over (the stale holder is named in `taken_over`).

Modes: a single-process run and an elastic launch hold the lock exclusively in the
launching process for the whole run (ranks are its children). Ranks joined by an outside
launcher (torchrun, SLURM) share it: rank 0 claims the folder exclusively, then
downgrades to shared; the other ranks take a shared lock once the plan is agreed. A new
run is refused while any rank of the current one still holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from padt_eval.core.errors import UsageError

LOCK_FILE = "run.lock"


class RunFolderBusy(UsageError):
    """Another padt-eval run holds this run folder."""


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _describe(h: dict) -> str:
    if not h:
        return "a process that left no details"
    return f"pid {h.get('pid')} on {h.get('host')}, started {h.get('started')}"


class RunLock:
    def __init__(self, run_dir: Path, fd: int, taken_over: dict | None) -> None:
        self.run_dir, self._fd, self.taken_over = run_dir, fd, taken_over

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """The exclusive lock, or RunFolderBusy naming the holder. `run_dir` must exist."""
        path = run_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunFolderBusy(
                f"{run_dir} is in use by another padt-eval run ({_describe(_holder(path))}); "
                "wait for it to finish, or use another --out. Two runs in one folder would compute every sample twice."
            ) from None
        previous = _holder(path)
        stale = previous if previous and previous.get("pid") != os.getpid() else None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        return cls(run_dir, fd, stale)

    @classmethod
    def join_shared(cls, run_dir: Path) -> RunLock:
        """A shared lock for a rank of a joined job (rank 0 already holds one)."""
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        return cls(run_dir, fd, None)

    def share(self) -> None:
        """Exclusive → shared, so that the other ranks of a joined job can join it."""
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
