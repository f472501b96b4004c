"""Where a rank's time goes, batch by batch: waiting for data, or in the model.

A rank that waits on its DataLoader (image decoding, resizing, a slow disk) wastes the
accelerator; one whose model time dominates is as fast as its model. Each batch's time is
split at the boundaries the rank sees:

    data wait   blocked in the loader's `next()`: the batch was not prepared in time
    model       inside the adapter (`predict_stream`), the data wait within it taken out
    write       appending and fsyncing the batch's shard lines

With the time, each rank counts what it produced, for metrics.json's `cost` throughput
(results/cost.py): the samples it wrote and the tokens its model generated (the answers'
`completion_tokens`, core/answer_cost.py), and it names its device (the GPU's name, or
the CPU's model and torch's thread count).

The first batch's wait is the loader's start-up (its workers spawned, the first batch
prepared): it is `first_batch_seconds` of the rank summary, not data wait, so a short run
is not dominated by a cost paid once.

Ranks report nothing to anyone (runner/progress.py): each rewrites its own small file
`plan/<attempt>.rank<r>.timing` (at most once a second, and at the end), which the
progress view polls and the launching process sums into `model.json`'s `timing`. (In a
joined torchrun job, the rank that merges may read another rank's file before that rank's
final save: its last second of timing may be missing there, never its predictions.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from padt_eval.core.fileio import atomic_write
from padt_eval.results.run_folder import RunFolder

T = TypeVar("T")

WRITE_EVERY_S = 1.0  # how stale the progress view's timing may be


@dataclass
class RankTiming:
    batches: int = 0
    data_wait_s: float = 0.0
    model_s: float = 0.0
    write_s: float = 0.0
    samples: int = 0
    generated_tokens: int = 0
    device: str | None = None  # `device_name`: what the rank ran on

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def data_wait_share(data_wait_s: float, model_s: float) -> float | None:
    """Of the time a rank spent waiting for data or in the model, the waiting part."""
    total = data_wait_s + model_s
    return round(data_wait_s / total, 4) if total > 0 else None


class BatchClock:
    """Times one rank's loop. `loader(batches)` wraps the DataLoader; call `answered()`
    when the adapter returned a batch and `written()` once its shard lines are on disk."""

    def __init__(self, folder: RunFolder, attempt: str, rank: int, device: str | None = None) -> None:
        self.path = folder.timing(attempt, rank)
        self.timing = RankTiming(device=device)
        self.first_batch_at: float | None = None
        self._waited = 0.0  # data wait since the last answered batch
        self._mark = time.perf_counter()  # the last answered or written batch
        self._saved_at = 0.0

    def loader(self, batches: Iterable[T]) -> Iterator[T]:
        it = iter(batches)
        while True:
            t = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            now = time.perf_counter()
            if self.first_batch_at is None:
                self.first_batch_at = now  # the loader's start-up: not data wait (module doc)
                self._mark = now
            else:
                self._waited += now - t
            yield batch

    def answered(self) -> None:
        now = time.perf_counter()
        self.timing.model_s += max(0.0, now - self._mark - self._waited)
        self.timing.data_wait_s += self._waited
        self._waited, self._mark = 0.0, now

    def written(self, samples: int = 0, generated_tokens: int = 0) -> None:
        """The batch's shard lines are on disk: `samples` of them, whose answers took
        `generated_tokens` decode steps in all."""
        now = time.perf_counter()
        self.timing.write_s += now - self._mark
        self.timing.batches += 1
        self.timing.samples += samples
        self.timing.generated_tokens += generated_tokens
        self._mark = now
        if now - self._saved_at >= WRITE_EVERY_S:
            self.save()

    def save(self) -> None:
        self._saved_at = time.perf_counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path) as f:
            json.dump(self.timing.to_json(), f)


def read_rank_timing(folder: RunFolder, attempt: str, rank: int) -> RankTiming | None:
    """A rank's timing so far; None before its first save (or when unreadable: the view
    and the summary only show it, nothing depends on it)."""
    try:
        doc = json.loads(folder.timing(attempt, rank).read_text(encoding="utf-8"))
        device = doc.get("device")
        return RankTiming(
            int(doc["batches"]),
            float(doc["data_wait_s"]),
            float(doc["model_s"]),
            float(doc["write_s"]),
            int(doc.get("samples", 0)),  # absent in a file of an earlier padt-eval
            int(doc.get("generated_tokens", 0)),
            device if isinstance(device, str) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def attempt_timing(folder: RunFolder, attempt: str, world: int) -> dict[str, Any] | None:
    """`model.json`'s `timing`: the attempt's ranks summed, and each rank's own; None when
    no rank of it ran a batch."""
    ranks = [(r, t) for r in range(world) if (t := read_rank_timing(folder, attempt, r)) is not None]
    if not ranks:
        return None
    total = RankTiming(
        sum(t.batches for _, t in ranks),
        sum(t.data_wait_s for _, t in ranks),
        sum(t.model_s for _, t in ranks),
        sum(t.write_s for _, t in ranks),
        sum(t.samples for _, t in ranks),
        sum(t.generated_tokens for _, t in ranks),
    )
    summed = total.to_json()
    del summed["device"]  # each rank names its own
    return {
        "attempt": attempt,
        **summed,
        "data_wait_share": data_wait_share(total.data_wait_s, total.model_s),
        "per_rank": [{"rank": r, **t.to_json()} for r, t in ranks],
    }


def device_name(device: str) -> str:
    """What a rank runs on, in words: the GPU's name for "cuda:N", else the CPU's model
    with torch's thread count (a CPU's speed depends on both)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_name(_cpu_model(), torch.get_num_threads())


def cpu_name(model: str, threads: int) -> str:
    """ "CPU <model> (<n> threads)", "thread" for one."""
    return f"CPU {model} ({threads} thread{'' if threads == 1 else 's'})"


def _cpu_model() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
