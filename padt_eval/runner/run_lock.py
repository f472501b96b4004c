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

A run that ends cleanly empties the lock file's record on release (the last holder
does), so the next run into the folder does not report a "run that is gone". A run that
created the lock file and is then refused the folder removes it again (`discard`): a
refused command leaves nothing behind. Removing a lock file is safe because a process
that locked a file that was meanwhile unlinked notices (its inode is no longer the
path's) and locks the new one instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from padt_eval.core.errors import UsageError
from padt_eval.results.run_folder import RunFolder

LOCK_FILE = RunFolder.RUN_LOCK


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


def _open(path: Path) -> tuple[int, bool]:
    """(fd, whether this call created the file)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), True
    except FileExistsError:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644), False


def _still_linked(fd: int, path: Path) -> bool:
    """Whether the locked file is still the one at `path` (not removed by a refused run)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _locked(path: Path, how: int) -> tuple[int, bool]:
    """Open and flock the lock file at `path`; retried when the file was unlinked between
    the open and the flock (a refused run discarding the lock file it created)."""
    while True:
        fd, created = _open(path)
        try:
            fcntl.flock(fd, how)
        except BaseException:
            os.close(fd)
            raise
        if _still_linked(fd, path):
            return fd, created
        os.close(fd)


class RunLock:
    def __init__(self, run_dir: Path, fd: int, taken_over: dict | None, created: bool = False) -> None:
        self.run_dir, self._fd, self.taken_over, self.created = run_dir, fd, taken_over, created

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """The exclusive lock, or RunFolderBusy naming the holder. `run_dir` must exist."""
        path = RunFolder(run_dir).run_lock
        try:
            fd, created = _locked(path, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderBusy(
                f"{run_dir} is in use by another padt-eval run ({_describe(_holder(path))}); "
                "wait for it to finish, or use another --out. Two runs in one folder would compute every sample twice."
            ) from None
        previous = _holder(path)
        stale = previous if previous and previous.get("pid") != os.getpid() else None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        return cls(run_dir, fd, stale, created)

    @classmethod
    def join_shared(cls, run_dir: Path) -> RunLock:
        """A shared lock for a rank of a joined job (rank 0 already holds one)."""
        fd, _ = _locked(RunFolder(run_dir).run_lock, fcntl.LOCK_SH)
        return cls(run_dir, fd, None)

    def share(self) -> None:
        """Exclusive → shared, so that the other ranks of a joined job can join it."""
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self, discard: bool = False) -> None:
        """Unlock. The last holder empties the record (a clean end is not a "run that is
        gone"); with `discard`, a lock file this run created is removed (a refused run)."""
        if self._fd < 0:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only when no other rank still holds it
        except BlockingIOError:
            pass
        else:
            if discard and self.created:
                RunFolder(self.run_dir).run_lock.unlink(missing_ok=True)
            else:
                os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
