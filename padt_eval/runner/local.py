"""The single-process loop: samples in, predictions out, metric updated, files appended.

It is deliberately small: the sharded runner replaces it without touching adapters,
because both only call `ModelAdapter.predict` on batches of `ModelRequest`s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from padt_eval.metrics.base import Metric
from padt_eval.models.base import ModelAdapter
from padt_eval.tasks.registry import TaskSpec
from padt_eval.core.types import Prediction, Sample

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_batch(model: ModelAdapter, task: TaskSpec, samples: Sequence[Sample]) -> list[Prediction]:
    """Ask the model about a batch and check it answered each sample exactly once, in order."""
    requests = [s.request(prompt=task.prompt(model.prompt_key, s)) for s in samples]
    preds = model.predict(requests)
    got = [p.sample_id for p in preds]
    want = [s.sample_id for s in samples]
    if got != want:
        raise RuntimeError(f"{type(model).__name__}.predict returned sample ids {got[:5]}... for requests {want[:5]}...")
    return preds


def run_local(
    samples: Iterable[Sample],
    model: ModelAdapter,
    task: TaskSpec,
    metric: Metric,
    *,
    batch_size: int = 8,
    on_prediction: Callable[[list[Prediction]], None] | None = None,
    on_record: Callable[[dict], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Metric:
    """Drive `model` over `samples`, feeding `metric`. Callbacks see each batch's
    predictions (to persist them before scoring), each per-sample record, and progress."""
    for batch in batched(samples, batch_size):
        preds = predict_batch(model, task, batch)
        if on_prediction is not None:
            on_prediction(preds)
        records = metric.update_many(batch, preds)
        if on_record is not None:
            for record in records:
                on_record(record)
        if on_progress is not None:
            on_progress(len(batch))
    return metric
