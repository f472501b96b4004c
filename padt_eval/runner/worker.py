"""What one rank does: agree on a plan, load the model, run its samples, write its shard.

The same function runs in every launch mode: in-process (one rank), under our elastic
launcher (`--gpus N` / `--workers N`), or inside an existing torchrun / SLURM job (the
environment's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR). The only collective is one
broadcast at start-up, with a timeout, so every rank reads the same plan; inference
itself never waits on another rank, and a failed rank cannot hang the others.
"""

from __future__ import annotations

import errno
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from padt_eval.data.registry import open_split
from padt_eval.runner import plan as planmod
from padt_eval.runner.auto_batch import resolve_batch_size
from padt_eval.runner.children import die_with_parent, loader_context, loader_worker_init
from padt_eval.runner.shards import ShardWriter, done_ids
from padt_eval.tasks.registry import get_task

# Test hook: "RANK:BATCHES:kill|raise" makes that rank ("*": any rank) SIGKILL itself (or
# raise) after writing that many batches. Used by the tests that prove resume loses nothing.
FAULT_ENV = "PADT_EVAL_FAULT"


@dataclass
class RunJob:
    """Everything a rank needs, picklable (workers are spawned processes)."""

    task: str
    split: str
    model: str
    family: str
    run_dir: str
    attempt: str = field(default_factory=lambda: time.strftime("a%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6])
    options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    image_root: str | None = None
    layout: str = "auto"
    gt: str = "official"  # OVD ground truth (official | padt-filtered)
    device: str = "cpu"  # "cpu" or "cuda" (each rank takes cuda:LOCAL_RANK)
    batch_size: int | str = 8  # or "auto": resolved per rank (runner.auto_batch)
    loader_workers: int = 2  # api.run_model sets it from the CPU count unless told
    plan_timeout_s: int = 1800


def dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the launcher's environment; (0, 1, 0) alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _agree_on_plan(job: RunJob, reader, rank: int, world: int) -> str:
    """Rank 0 snapshots what is done, deals the rest and writes the plan; everyone gets
    the attempt name from rank 0. Returns the attempt name."""
    run_dir = Path(job.run_dir)
    attempt = job.attempt
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", timeout=timedelta(seconds=job.plan_timeout_s))
    try:
        if rank == 0:
            done = done_ids(run_dir)
            planmod.write_plan(run_dir, attempt, planmod.assign(reader, done, world), len(done))
        if world > 1:
            box = [attempt]
            dist.broadcast_object_list(box, src=0)  # after rank 0 wrote the plan
            attempt = box[0]
    finally:
        if world > 1:
            dist.destroy_process_group()
    return attempt


class _Samples:
    """Map-style dataset for the DataLoader: a rank's sample ids → (request, prepared input).

    Workers read samples from the split and run the adapter's preprocessor (open the
    image, resize, tokenise ...) ahead of the model. A sample that cannot be prepared
    carries the exception; the adapter turns it into that sample's ERROR status.
    """

    def __init__(self, reader, ids: list[str], task, prompt_key, preprocess) -> None:
        self.reader, self.ids, self.task, self.prompt_key, self.preprocess = reader, ids, task, prompt_key, preprocess

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        sample = self.reader.get(self.ids[i])
        request = sample.request(prompt=self.task.prompt(self.prompt_key, sample))
        if self.preprocess is None:
            return request, None
        try:
            return request, self.preprocess(request)
        except Exception as exc:  # noqa: BLE001 — reported per sample, never fatal to the batch
            return request, exc


def check_answers(adapter, requests, preds) -> None:
    """An adapter must answer each request exactly once, in order: the shard line of a
    prediction is matched to its sample by id, and a shifted answer would score against
    another sample's ground truth."""
    got, want = [p.sample_id for p in preds], [r.sample_id for r in requests]
    if got != want:
        raise RuntimeError(f"{type(adapter).__name__}.predict returned sample ids {got[:5]}... for requests {want[:5]}...")


def _collate(items):
    return [r for r, _ in items], [p for _, p in items]


def _fault(rank: int, batches_written: int) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    f_rank, f_after, kind = spec.split(":")
    if (f_rank == "*" or int(f_rank) == rank) and int(f_after) == batches_written:
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "sigint":  # Ctrl-C at this batch boundary
            os.kill(os.getpid(), signal.SIGINT)
            return
        if kind == "enospc":  # a full disk under the shard being written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"rank {rank}'s shard file")
        raise RuntimeError(f"injected failure on rank {rank} after {batches_written} batches ({FAULT_ENV})")


def run_rank(job: RunJob, on_plan: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one rank to completion; return a small summary (the agreed attempt, samples,
    seconds). `on_plan(attempt)` runs once the plan is agreed (joined ranks take their
    share of the run-folder lock there)."""
    from torch.utils.data import DataLoader

    from padt_eval.models.loading import load_model

    rank, world, local_rank = dist_env()
    if world > 1:
        die_with_parent()  # a rank whose launcher (our agent, torchrun) is killed goes with it
    spec = get_task(job.task)
    reader = open_split(job.split, spec.task, data_root=job.data_root, image_root=job.image_root, layout=job.layout, gt=job.gt)
    attempt = _agree_on_plan(job, reader, rank, world)
    if on_plan is not None:
        on_plan(attempt)
    ids = planmod.read_plan(Path(job.run_dir), attempt, rank)
    t0 = time.perf_counter()
    if not ids:
        return {"rank": rank, "attempt": attempt, "samples": 0, "seconds": 0.0, "load_seconds": 0.0, "loop_seconds": 0.0}
    device = f"cuda:{local_rank}" if job.device == "cuda" else "cpu"
    if job.device == "cpu" and world > 1:
        _share_cpu_threads()
    batch_size = resolve_batch_size(
        job.batch_size, device=device, model=job.model, family=job.family, task=job.task, options=job.options
    )  # before loading: the plan counts the weights against the free memory itself
    adapter = load_model(job.model, job.family, device=device, **job.options)
    t_loaded = time.perf_counter()
    preprocess = adapter.preprocessor()
    workers = job.loader_workers > 0
    loader = DataLoader(
        _Samples(reader, ids, spec, adapter.prompt_key, preprocess),
        batch_size=max(batch_size, adapter.window or 0),  # vLLM: one window per generate call
        shuffle=False,
        num_workers=job.loader_workers,
        collate_fn=_collate,
        prefetch_factor=2 if workers else None,
        persistent_workers=False,
        multiprocessing_context=loader_context(
            device, [type(adapter).__module__, getattr(preprocess, "__module__", None) or __name__]
        )
        if workers
        else None,
        worker_init_fn=loader_worker_init if workers else None,
    )
    if rank == 0:
        desc = _with_batch_size(adapter.describe(), batch_size)
        if job.batch_size == "auto":
            desc["batch_size_requested"] = "auto"
        _write_model_description(Path(job.run_dir), desc)
    writer = ShardWriter(Path(job.run_dir), attempt, rank)
    n = batches = 0
    try:
        _fault(rank, batches)
        t_first = None

        def prepared_batches():
            nonlocal t_first
            for batch in loader:
                if t_first is None:  # the loader's start-up: its workers up and the first batch prepared
                    t_first = time.perf_counter()
                yield batch

        for requests, preds in adapter.predict_stream(prepared_batches()):
            check_answers(adapter, requests, preds)
            writer.write(preds)
            n += len(preds)
            batches += 1
            _fault(rank, batches)
    finally:
        writer.close()
        adapter.close()
    t_end = time.perf_counter()
    return {
        "rank": rank,
        "attempt": attempt,
        "samples": n,
        "seconds": t_end - t0,
        "load_seconds": t_loaded - t0,
        "first_batch_seconds": (t_first or t_end) - t_loaded,
        "loop_seconds": t_end - t_loaded,
        "batch_size": batch_size,
    }


def _share_cpu_threads() -> None:
    """CPU ranks on one machine split its cores; N ranks each using every core would
    oversubscribe them and run slower than one."""
    import torch

    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))


def _with_batch_size(desc: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """The samples per model call that actually ran: the runner's -b, or an adapter's own
    smaller split of it (an adapter that splits batches says so in `describe`)."""
    own = desc.get("batch_size")
    return {**desc, "batch_size": min(int(own), batch_size) if own else batch_size}


def _write_model_description(run_dir: Path, desc: dict[str, Any]) -> None:
    import json

    from padt_eval.core.fileio import atomic_write

    with atomic_write(run_dir / "model.json") as f:
        json.dump(desc, f, indent=1, default=str)
