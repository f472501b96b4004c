"""Which rank runs which samples: deterministic, balanced by length, from a snapshot.

Remaining samples (the split minus what earlier attempts already wrote, whatever world
size they ran with) are sorted by their estimated prompt length in tokens (runner/
length_order.py; `--no-length-order`: left out), then pixel count, then id, and dealt
round-robin: every rank gets a similar mix of short and long prompts, and each rank's
list is itself sorted, so its batches hold prompts of similar length (less padding,
steadier memory). The order is the plan file of each rank of each attempt
(`plan/<attempt>.rank<r>.ids`, the order its shard is written in) and the key is named in
the attempt's plan summary, so a rerun of an attempt can be traced batch by batch.

Rank 0 writes the plan into the run folder before anyone starts; the others read it.
The plan is data, not a collective: no rank ever waits on another during inference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from padt_eval.core.fileio import atomic_write
from padt_eval.core.types import Sample
from padt_eval.results.run_folder import RunFolder


def assign(
    samples: Iterable[Sample], done: set[str], world_size: int, length: Callable[[Sample], int] | None = None
) -> list[list[str]]:
    """Sample ids per rank. `done` ids are left out; `length` (None: not used) is the
    first sort key; the split order breaks no ties."""
    todo = [
        (length(s) if length is not None else 0, s.image.width * s.image.height, s.sample_id)
        for s in samples
        if s.sample_id not in done
    ]
    todo.sort(key=lambda t: (t[0], t[1], _id_key(t[2])))
    ranks: list[list[str]] = [[] for _ in range(world_size)]
    for i, (_, _, sid) in enumerate(todo):
        ranks[i % world_size].append(sid)
    return ranks


def _id_key(sid: str) -> tuple[int, int | str]:
    """Numeric ids sort as numbers, others as strings, deterministically."""
    return (0, int(sid)) if sid.isdigit() else (1, sid)


def write_plan(run_dir: Path, attempt: str, per_rank: list[list[str]], n_done: int, order: dict | None = None) -> None:
    """`order`: how the ids were sorted (`length_order.order_description`)."""
    folder = RunFolder(run_dir)
    for rank, ids in enumerate(per_rank):
        with atomic_write(folder.plan_ids(attempt, rank)) as f:
            f.write("\n".join(ids) + ("\n" if ids else ""))
    summary = {"attempt": attempt, "world_size": len(per_rank), "per_rank": [len(x) for x in per_rank], "already_done": n_done}
    if order is not None:
        summary["order"] = order
    with atomic_write(folder.plan_summary(attempt)) as f:
        json.dump(summary, f)


def read_plan(run_dir: Path, attempt: str, rank: int) -> list[str]:
    text = RunFolder(run_dir).plan_ids(attempt, rank).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line]


def read_plan_summary(run_dir: Path, attempt: str) -> dict | None:
    p = RunFolder(run_dir).plan_summary(attempt)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None
