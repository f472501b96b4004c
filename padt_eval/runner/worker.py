"""What one rank does: agree on a plan, load the model, run its samples, write its shard.

The same function runs in every launch mode: in-process (one rank), under our elastic
launcher (`--gpus N` / `--workers N`), or inside an existing torchrun / SLURM job (the
environment's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR). The only collective is one
broadcast at start-up, after the ranks met at one store (`rendezvous`: every wait there
is bounded by --rank-timeout and says whom it waits for), so every rank reads the same
plan; inference itself never waits on another rank, and a failed rank cannot hang the
others.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from padt_eval.data.registry import open_split
from padt_eval.results.cost import generated_tokens
from padt_eval.results.run_folder import RunFolder
from padt_eval.runner import plan as planmod
from padt_eval.runner import rendezvous
from padt_eval.runner.auto_batch import resolve_batch_size
from padt_eval.runner.children import die_with_parent, loader_context, loader_worker_init
from padt_eval.runner.job import RunJob
from padt_eval.runner.length_order import plan_order
from padt_eval.runner.prepare import predict_prepared, prepare
from padt_eval.runner.shards import ShardWriter, done_ids
from padt_eval.runner.timing import BatchClock, device_name
from padt_eval.tasks.registry import get_task

# Test hook: "RANK:BATCHES:kill|raise" makes that rank ("*": any rank) SIGKILL itself (or
# raise) after writing that many batches. Used by the tests that prove resume loses nothing.
FAULT_ENV = "PADT_EVAL_FAULT"


def dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the launcher's environment; (0, 1, 0) alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _agree_on_plan(job: RunJob, reader, rank: int, world: int) -> str:
    """Rank 0 snapshots what is done, deals the rest and writes the plan; everyone gets
    the attempt name from rank 0. Returns the attempt name."""
    attempt = job.attempt
    if world > 1:
        import torch.distributed as dist

        meeting = rendezvous.meeting(job.run.rank_timeout_s)
        if meeting is None:  # no MASTER_ADDR/MASTER_PORT: whatever else env:// reads
            dist.init_process_group("gloo", timeout=timedelta(seconds=job.run.rank_timeout_s))
        else:
            store = rendezvous.open_store(meeting)
            rendezvous.meet(store, meeting)
            pg_store = dist.PrefixStore("pg/", store)
            dist.init_process_group(
                "gloo", store=pg_store, rank=rank, world_size=world, timeout=timedelta(seconds=job.run.rank_timeout_s)
            )
    try:
        if rank == 0:
            done = done_ids(job.out_dir)
            length, order = plan_order(job)
            planmod.write_plan(job.out_dir, attempt, planmod.assign(reader, done, world, length), len(done), order)
        if world > 1:
            box = [attempt]
            dist.broadcast_object_list(box, src=0)  # after rank 0 wrote the plan
            attempt = box[0]
    finally:
        if world > 1:
            dist.destroy_process_group()
            rendezvous.mark_joined()
    return attempt


class _Samples:
    """Map-style dataset for the DataLoader: a rank's sample ids → (request, prepared input).

    Workers read samples from the split and run the adapter's preprocessor (open the
    image, resize, tokenise ...) ahead of the model. A sample that cannot be prepared, or
    lacks the prompt its adapter needs, carries a `PrepFailure` (runner/prepare.py), which
    becomes that sample's ERROR: the adapter only ever sees clean inputs.
    """

    def __init__(self, reader, ids: list[str], task, prompt_key, preprocess) -> None:
        self.reader, self.ids, self.task, self.prompt_key, self.preprocess = reader, ids, task, prompt_key, preprocess

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        sample = self.reader.get(self.ids[i])
        request = sample.request(prompt=self.task.prompt(self.prompt_key, sample))
        return request, prepare(request, self.preprocess, takes_prompt=self.prompt_key is not None)


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
        if kind in ("sigint", "sigterm"):  # Ctrl-C, or `kill`, at this batch boundary
            os.kill(os.getpid(), signal.SIGINT if kind == "sigint" else signal.SIGTERM)
            return
        if kind == "enospc":  # a full disk under the shard being written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"rank {rank}'s shard file")
        raise RuntimeError(f"injected failure on rank {rank} after {batches_written} batches ({FAULT_ENV})")


def run_rank(job: RunJob, on_plan: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one rank to completion; return a small summary (the agreed attempt, samples,
    seconds, where the loop's time went). `on_plan(attempt)` runs once the plan is agreed
    (joined ranks take their share of the run-folder lock there)."""
    from torch.utils.data import DataLoader

    from padt_eval.models.loading import load_model

    rank, world, local_rank = dist_env()
    if world > 1:
        die_with_parent()  # a rank whose launcher (our agent, torchrun) is killed goes with it
    spec = get_task(job.task)
    data = job.data
    reader = open_split(
        job.split, spec.task, data_root=data.data_root, image_root=data.image_root, layout=data.layout, gt=data.gt
    )
    attempt = _agree_on_plan(job, reader, rank, world)
    if on_plan is not None:
        on_plan(attempt)
    ids = planmod.read_plan(job.out_dir, attempt, rank)
    t0 = time.perf_counter()
    if not ids:
        return {"rank": rank, "attempt": attempt, "samples": 0, "seconds": 0.0, "load_seconds": 0.0, "loop_seconds": 0.0}
    device = f"cuda:{local_rank}" if job.run.device == "cuda" else "cpu"
    if job.run.device == "cpu" and world > 1:
        _share_cpu_threads()
    batch_size = resolve_batch_size(
        job.run.batch_size, device=device, model=job.model.model, family=job.family, task=job.task, options=job.options
    )  # before loading: the plan counts the weights against the free memory itself
    adapter = load_model(job.model.model, job.family, device=device, **job.options)
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
        if job.run.batch_size == "auto":
            desc["batch_size_requested"] = "auto"
        write_model_description(job.folder, desc)
    writer = ShardWriter(job.out_dir, attempt, rank)
    clock = BatchClock(job.folder, attempt, rank, device=device_name(device))
    n = batches = 0
    try:
        _fault(rank, batches)
        for requests, preds in predict_prepared(adapter, clock.loader(loader)):
            clock.answered()
            check_answers(adapter, requests, preds)
            writer.write(preds)
            clock.written(len(preds), generated_tokens(preds))
            n += len(preds)
            batches += 1
            _fault(rank, batches)
    finally:
        writer.close()
        adapter.close()
    clock.save()
    t_end = time.perf_counter()
    timing = clock.timing
    return {
        "rank": rank,
        "attempt": attempt,
        "samples": n,
        "seconds": t_end - t0,
        "load_seconds": t_loaded - t0,
        "first_batch_seconds": (clock.first_batch_at or t_end) - t_loaded,
        "loop_seconds": t_end - t_loaded,
        "batch_size": batch_size,
        "data_wait_seconds": timing.data_wait_s,
        "model_seconds": timing.model_s,
        "write_seconds": timing.write_s,
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


def write_model_description(folder: RunFolder, desc: dict[str, Any]) -> None:
    import json

    from padt_eval.core.fileio import atomic_write

    with atomic_write(folder.model_json) as f:
        json.dump(desc, f, indent=1, default=str)
