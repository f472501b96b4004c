"""One model run from the launching process's point of view: claim, launch, wait, merge.

    claim the run folder (fingerprint)  →  run the ranks (in-process, elastic launch,
    or as one rank of an existing torchrun job)  →  merge the shards  →  (api scores)

Everything a rank produces lives in files of the run folder, so this module never
receives predictions from the ranks, only their small summaries.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from padt_eval.data.split import SplitReader
from padt_eval.errors import UsageError
from padt_eval.report.manifest import file_hashes
from padt_eval.runner.fingerprint import claim_run_dir, fingerprint, model_identity
from padt_eval.runner.launch import launch
from padt_eval.runner.merge import merge_shards
from padt_eval.runner.shards import SHARD_DIR, count_lines, done_ids
from padt_eval.runner.worker import RunJob, dist_env, run_rank
from padt_eval.tasks.registry import TaskSpec

MERGE_LOCK = "merge.lock"


@dataclass
class Outcome:
    predictions: Path | None  # None: this rank is not the one that merges
    model_description: dict[str, Any]
    runner_info: dict[str, Any]


def _check_devices(device: str, nproc: int) -> None:
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise UsageError("--gpus needs CUDA, and torch sees no GPU here; use --workers N for CPU ranks")
    if torch.cuda.device_count() < nproc:
        raise UsageError(f"--gpus {nproc} asked, but torch sees {torch.cuda.device_count()} GPU(s)")


def _all_done(run_dir: Path, reader: SplitReader) -> bool:
    done = done_ids(run_dir)
    return all(sid in done for sid in reader.sample_ids())


def _take_merge_lock(run_dir: Path) -> bool:
    """True for exactly one caller: the rank that merges when ranks finish together."""
    try:
        fd = os.open(run_dir / MERGE_LOCK, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def execute(
    *,
    spec: TaskSpec,
    split: str,
    reader: SplitReader,
    model: str,
    family: str,
    options: dict[str, Any],
    out_dir: Path,
    nproc: int,
    device: str,
    batch_size: int,
    loader_workers: int,
    overwrite: bool,
    data_root,
    image_root,
    layout: str,
    progress: Callable[[Path, str, str], Any] | None,
    gt: str = "official",
) -> Outcome:
    rank, world, _ = dist_env()
    joined = world > 1
    if joined and nproc > 1:
        raise UsageError(f"this process is already rank {rank} of a {world}-rank job (torchrun/SLURM); drop --gpus/--workers")
    _check_devices(device, nproc if not joined else 1)
    split_files = file_hashes(reader.info.files)
    if gt != "official":  # same annotation file, other ground truth (OVD --gt padt-filtered)
        split_files["gt"] = gt
    fp = fingerprint(
        task=spec.task.value,
        split_files=split_files,
        model=model_identity(model),
        family=family,
        options=options,
        prompt_template_hash=spec.prompt_hash(family),
    )
    resumed = True
    if rank == 0:  # alone, or rank 0 of a torchrun job: the others wait for its plan
        resumed = claim_run_dir(out_dir, fp, overwrite)
        (out_dir / MERGE_LOCK).unlink(missing_ok=True)
    job = RunJob(
        task=spec.task.value,
        split=split,
        model=model,
        family=family,
        run_dir=str(out_dir),
        options=options,
        data_root=str(data_root) if data_root is not None else None,
        image_root=str(image_root) if image_root is not None else None,
        layout=layout,
        gt=gt,
        device=device,
        batch_size=batch_size,
        loader_workers=loader_workers,
    )
    title = f"{spec.task.value.upper()} {Path(split).stem} · {Path(model).name} · {nproc if not joined else world} rank(s)"
    view = progress(out_dir, job.attempt, title) if (progress is not None and not joined) else nullcontext()
    t0 = time.perf_counter()
    with view:
        if joined:
            summaries = {rank: run_rank(job)}
        elif nproc > 1:
            summaries = launch(job, nproc, out_dir / "logs")
        else:
            summaries = {0: run_rank(job)}
    seconds = time.perf_counter() - t0
    n_new = sum(s["samples"] for s in summaries.values())
    n_failed = sum(count_lines(p)[1] for p in (out_dir / SHARD_DIR).glob(f"{job.attempt}.rank*.jsonl"))
    info = {
        "world_size": world if joined else nproc,
        "device": device,
        "attempt": job.attempt,
        "resumed": resumed,
        "samples_this_attempt": n_new,
        "failed_this_attempt": n_failed,
        "seconds": round(seconds, 3),
        "samples_per_s": round(n_new / seconds, 3) if seconds > 0 else None,
        "batch_size": batch_size,
        "loader_workers": loader_workers,
        "per_rank": [{k: round(v, 3) if isinstance(v, float) else v for k, v in summaries[r].items()} for r in sorted(summaries)],
    }
    if joined and not (_all_done(out_dir, reader) and _take_merge_lock(out_dir)):
        return Outcome(None, {}, info)
    merged = merge_shards(out_dir, reader)
    desc_file = out_dir / "model.json"
    model_desc = json.loads(desc_file.read_text()) if desc_file.is_file() else {"family": family, **fp["model"]}
    model_desc.setdefault("options", options)
    return Outcome(merged, model_desc, info)
