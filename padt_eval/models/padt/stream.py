"""The runner's batches through PaDT's continuous batching (`PadtAdapter.predict_stream`).

The runner hands batches of (requests, prepared images) and writes each batch's
predictions in order. Here every batch's samples join one stream through the decode
slots (as many as the runner's batch, or the `batch_size` load option), so a slot freed
by a short answer takes the next sample, from this batch or the next; a batch is handed
back once all its samples have ended, batches in the order they came.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from padt_eval.core.types import ModelRequest, Prediction

from .continuous import StreamItem


class _Batch:
    def __init__(self, requests: list[ModelRequest]):
        self.requests = requests
        self.out: list[Prediction | None] = [None] * len(requests)
        self.waiting = len(requests)

    def put(self, i: int, pred: Prediction) -> None:
        self.out[i] = pred
        self.waiting -= 1


def sample_seed(base: int, sample_id: str) -> int:
    """A sample's sampling seed: the run's seed and its id, never its place in the stream."""
    return (int(base) * 0x9E3779B1 + zlib.crc32(sample_id.encode("utf-8"))) & 0xFFFFFFFF


def stream_predictions(
    adapter, batches: Iterable[tuple[list[ModelRequest], list[Any]]]
) -> Iterator[tuple[list[ModelRequest], list[Prediction]]]:
    """`adapter` is a `PadtAdapter` (its pipeline, preprocessor and `_prediction`)."""
    pipe = adapter.pipeline
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    pending: deque[_Batch] = deque()
    seed = pipe.settings.seed

    def items() -> Iterator[StreamItem]:
        # clean inputs (runner/prepare.py): every request here has its prompt and its image
        for requests, prepared in _chain(first, batches):
            batch = _Batch(list(requests))
            pending.append(batch)
            for i, (req, image) in enumerate(zip(batch.requests, prepared)):
                yield StreamItem((batch, i), image, req.prompt, sample_seed(seed, req.sample_id))

    slots = adapter.batch_size or max(1, len(first[0]))
    t0 = time.perf_counter()
    for (batch, i), run in pipe.run_stream(items(), slots):
        batch.put(i, adapter._prediction(batch.requests[i].sample_id, run, 0, 0.0))
        while pending and pending[0].waiting == 0:
            t0 = yield from _hand_back(pending.popleft(), t0)
    while pending:  # empty batches (every sample of theirs failed its preparation)
        t0 = yield from _hand_back(pending.popleft(), t0)


def _hand_back(batch: _Batch, t0: float):
    """Yield a finished batch; `meta.seconds` is the stream's time since the last batch
    handed back, shared by its samples (they decode side by side with others)."""
    now = time.perf_counter()
    share = round((now - t0) / max(1, len(batch.out)), 6)
    for p in batch.out:
        if p is not None and p.meta is not None and "seconds" in p.meta:
            p.meta["seconds"] = share
    yield batch.requests, [p for p in batch.out if p is not None]
    return now


def _chain(first, rest):
    yield first
    yield from rest
