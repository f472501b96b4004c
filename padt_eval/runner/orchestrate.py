"""One model run from the launching process's point of view: claim, launch, wait, merge.

    lock and claim the run folder (run_lock, fingerprint)  →  run the ranks (in-process,
    elastic launch, or as one rank of an existing torchrun job)  →  merge the shards  →
    (api scores, then releases the lock)

Everything a rank produces lives in files of the run folder, so this module never
receives predictions from the ranks, only their small summaries.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.data.split import SplitReader
from padt_eval.models.base import prompt_key_of, resolved_dtype_of
from padt_eval.results.environment import file_hashes
from padt_eval.results.run_folder import RunFolder
from padt_eval.runner.fingerprint import check_run_dir, claim_run_dir, fingerprint, model_identity
from padt_eval.runner.job import RunJob
from padt_eval.runner.launch import launch
from padt_eval.runner.merge import merge_shards
from padt_eval.runner.plan import read_plan_summary
from padt_eval.runner.run_lock import RunLock
from padt_eval.runner.shards import count_lines, damaged_note, done_ids, predicted_ids
from padt_eval.runner.timing import attempt_timing
from padt_eval.runner.worker import dist_env, run_rank, write_model_description
from padt_eval.tasks.registry import TaskSpec, get_task


@dataclass
class Outcome:
    predictions: Path | None  # None: this rank is not the one that merges
    model_description: dict[str, Any]
    runner_info: dict[str, Any]
    lock: RunLock | None = None  # held until the caller has scored the run

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def say(message: str) -> None:
    """A one-line note for the user (stderr, so it never mixes with printed results)."""
    from padt_eval.core.library_log import user_stderr

    print(f"padt-eval: {message}", file=user_stderr(), flush=True)


def _check_devices(device: str, nproc: int) -> None:
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise UsageError("--gpus needs CUDA, and torch sees no GPU here; use --workers N for CPU ranks")
    if torch.cuda.device_count() < nproc:
        raise UsageError(f"--gpus {nproc} asked, but torch sees {torch.cuda.device_count()} GPU(s)")


def _n_done(run_dir: Path, reader: SplitReader, ids=done_ids) -> int:
    """How many samples of the split are done (`predicted_ids`: have a prediction at all,
    errors included, which is what a merge needs)."""
    done = ids(run_dir)
    return sum(sid in done for sid in reader.sample_ids())


def _take_merge(run_dir: Path, attempt: str) -> bool:
    """True for exactly one caller: the rank that merges when ranks of a joined job finish
    together. The marker is part of the attempt's record (plan/), not a lock to clean up."""
    try:
        fd = os.open(RunFolder(run_dir).merged_marker(attempt), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, json.dumps({"rank": dist_env()[0], "pid": os.getpid()}).encode())
    os.close(fd)
    return True


def _claim(out_dir: Path, fp: dict[str, Any], overwrite: bool, reader: SplitReader) -> tuple[RunLock, int]:
    """Check, lock and claim the run folder; say what it holds. Returns (lock, samples done).

    The folder is checked before anything is written into it (a folder padt-eval may not
    use gets no lock file), then checked again under the lock, which a refusal removes
    again when this run created it."""
    check_run_dir(out_dir, fp, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock.acquire(out_dir)
    try:
        claim_run_dir(out_dir, fp, overwrite)
    except BaseException:
        lock.release(discard=True)
        raise
    try:
        if lock.taken_over:
            h = lock.taken_over
            say(
                f"took over the run-folder lock of a run that is gone (pid {h.get('pid')} on {h.get('host')}, started {h.get('started')})"
            )
        RunFolder(out_dir).merge_lock.unlink(missing_ok=True)  # left by versions before plan/<attempt>.merged
        damaged: list[str] = []  # shard lines that are not a prediction: named, their samples run again
        n_done = _n_done(out_dir, reader, lambda d: done_ids(d, damaged))
        n_errored = _n_done(out_dir, reader, predicted_ids) - n_done
        if damaged:
            say(damaged_note(damaged))
    except BaseException:
        lock.release()
        raise
    if n_done or n_errored:
        retry = f"; {n_errored} that ended in error run again" if n_errored else ""
        say(f"resuming: {n_done} of {len(reader)} done{retry}")
    return lock, n_done


def execute(job: RunJob, reader: SplitReader, progress: Callable[[Path, str, str], Any] | None = None) -> Outcome:
    """Run the ranks and merge. `reader` is the job's split, opened (and validated) by the
    caller; `progress(run_dir, attempt, title)` makes the live view. The returned Outcome
    holds the run-folder lock: the caller scores the run, then calls `release()` (on an
    error, execute releases it itself)."""
    rank, world, _ = dist_env()
    joined = world > 1
    nproc = job.run.nproc
    if joined and nproc > 1:
        raise UsageError(f"this process is already rank {rank} of a {world}-rank job (torchrun/SLURM); drop --gpus/--workers")
    _check_devices(job.run.device, nproc if not joined else 1)
    spec = get_task(job.task)
    split_files = file_hashes(reader.info.files)
    if job.data.gt != "official":  # same annotation file, other ground truth (OVD --gt padt-filtered)
        split_files["gt"] = job.data.gt
    fp = fingerprint(
        task=spec.task.value,
        split_files=split_files,
        model=model_identity(job.model.model),
        family=job.family,
        options=job.options,
        prompt_template_hash=spec.prompt_hash(prompt_key_of(job.family, job.options)),
        protocol=job.protocol,
        device=job.run.device,
        dtype=resolved_dtype_of(job.family, job.run.device, job.options),
    )
    held: list[RunLock] = []  # this process's hold on the run-folder lock (none yet on joined ranks > 0)
    n_done = None
    if rank == 0:  # alone, or rank 0 of a torchrun job: the others wait for its plan
        lock, n_done = _claim(job.out_dir, fp, job.run.overwrite, reader)
        held.append(lock)
    try:
        return _run_and_merge(job, spec, reader, progress, fp, held, n_done)
    except BaseException:
        for lock in held:
            lock.release()
        raise


def _run_and_merge(
    job: RunJob,
    spec: TaskSpec,
    reader: SplitReader,
    progress,
    fp: dict[str, Any],
    held: list[RunLock],
    n_done: int | None,
) -> Outcome:
    rank, world, _ = dist_env()
    joined = world > 1
    nproc = job.run.nproc
    out_dir, folder = job.out_dir, job.folder

    def on_plan(attempt: str) -> None:
        # Joined ranks share the folder lock from here on: rank 0 downgrades its own, the
        # others take one, so a new run stays refused until the last of them ends.
        if held:
            held[0].share()
        else:
            held.append(RunLock.join_shared(out_dir))

    title = f"{spec.task.value.upper()} {Path(job.split).stem} · {Path(job.model.model).name} · {nproc if not joined else world} rank(s)"
    complete = not joined and n_done == len(reader)
    if complete:
        say(f"all {len(reader)} samples already have a prediction: nothing to run, merging and scoring only")
    view = progress(out_dir, job.attempt, title) if (progress is not None and not joined and not complete) else nullcontext()
    t0 = time.perf_counter()
    with view:
        if complete:
            summaries: dict[int, Any] = {}
        elif joined:
            summaries = {rank: run_rank(job, on_plan=on_plan)}
        elif nproc > 1:
            summaries = launch(job, nproc, folder.logs)
        else:
            summaries = {0: run_rank(job)}
    seconds = time.perf_counter() - t0
    lock = held[0] if held else None
    attempt = next((s["attempt"] for s in summaries.values()), None)  # the agreed one: rank 0's
    plan = read_plan_summary(out_dir, attempt) if attempt is not None else None
    # Counted from the attempt's shard files, not from the summaries: a joined rank has
    # only its own summary, and the rank that merges must report the whole attempt.
    n_new, n_failed = _attempt_counts(folder, attempt)
    info = {
        "world_size": world if joined else nproc,
        "device": job.run.device,
        "attempt": attempt,
        "resumed": bool(plan["already_done"]) if plan is not None else complete,
        "samples_this_attempt": n_new,
        "failed_this_attempt": n_failed,
        "seconds": round(seconds, 3),
        "samples_per_s": round(n_new / seconds, 3) if seconds > 0 else None,
        "batch_size": job.run.batch_size,  # as asked: a number or "auto"
        "batch_size_resolved": next(
            (summaries[r]["batch_size"] for r in sorted(summaries) if "batch_size" in summaries[r]), job.run.batch_size
        ),
        "loader_workers": job.loader_workers,
        **({"order": plan["order"]} if plan is not None and "order" in plan else {}),  # runner/length_order.py
        "per_rank": [{k: round(v, 3) if isinstance(v, float) else v for k, v in summaries[r].items()} for r in sorted(summaries)],
    }
    if joined and not (_n_done(out_dir, reader, predicted_ids) == len(reader) and _take_merge(out_dir, attempt)):
        if lock is not None:
            lock.release()
        return Outcome(None, {}, info)
    if joined:
        # The rank that merges counts again: its first count may have run while another
        # rank was still writing its last lines (seen in CI: 45 of 49 samples).
        n_new, info["failed_this_attempt"] = _attempt_counts(folder, attempt)
        info["samples_this_attempt"], info["samples_per_s"] = n_new, round(n_new / seconds, 3) if seconds > 0 else None
    merged = merge_shards(out_dir, reader)
    note = merged.duplicates_note()
    if note:
        say(note)
        info["duplicates_kept_first"] = len(merged.duplicates)
    model_desc = _described_with_timing(folder, attempt, plan["world_size"] if plan is not None else 0)
    timing = model_desc.pop("timing", None)  # the run's, not the model's: the manifest's runner section has it
    if timing is not None and timing.get("attempt") == attempt:
        info["timing"] = timing
    if not model_desc:
        model_desc = {"family": job.family, **fp["model"]}
    model_desc.setdefault("options", job.options)
    return Outcome(merged.path, model_desc, info, lock)


def _attempt_counts(folder: RunFolder, attempt: str | None) -> tuple[int, int]:
    """(lines, failed lines) in the attempt's shard files."""
    lines = [count_lines(p) for p in folder.shards_of(attempt)] if attempt else []
    return sum(n for n, _ in lines), sum(bad for _, bad in lines)


def _described_with_timing(folder: RunFolder, attempt: str | None, world: int) -> dict[str, Any]:
    """model.json as rank 0 wrote it, with the attempt's `timing` (runner/timing.py) added
    when it ran batches; {} when there is no model.json. A resume with nothing left to
    run keeps the timing of the attempt that ran."""
    if not folder.model_json.is_file():
        return {}
    desc = json.loads(folder.model_json.read_text())
    timing = attempt_timing(folder, attempt, world) if attempt is not None else None
    if timing is not None:
        desc["timing"] = timing
        write_model_description(folder, desc)
    return desc
