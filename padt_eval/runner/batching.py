"""Does batching change a model's answers? Run a fixed subset at batch 1 and at batch N.

Left padding, fused kernels and reduced precision can make a batched forward pass differ
from a single one in the last bits, and a greedy decoder turns a last-bit difference into
a different token. lmms-eval users found whole benchmark points moving with batch size;
this check measures it for a given model instead of assuming it away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from padt_eval.core.types import Prediction, Sample
from padt_eval.data.split import SplitReader
from padt_eval.models.base import ModelAdapter
from padt_eval.runner.prepare import predict_requests
from padt_eval.runner.worker import check_answers
from padt_eval.tasks.registry import TaskSpec

BOX_TOL_PX = 0.01
SCORE_TOL = 1e-4


@dataclass
class BatchingReport:
    n_samples: int
    batch_size: int
    n_text_differs: int = 0
    n_objects_differ: int = 0
    differing_ids: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)  # the first few, both predictions


def same_objects(a: Prediction, b: Prediction) -> bool:
    if len(a.objects) != len(b.objects) or a.parse_status != b.parse_status:
        return False
    for x, y in zip(a.objects, b.objects):
        if (x.bbox is None) != (y.bbox is None) or (x.mask != y.mask) or (x.label != y.label):
            return False
        if x.bbox is not None and max(abs(p - q) for p, q in zip(x.bbox, y.bbox)) > BOX_TOL_PX:
            return False
        if (x.score is None) != (y.score is None) or (x.score is not None and abs(x.score - y.score) > SCORE_TOL):
            return False
    return True


def _predict(adapter: ModelAdapter, task: TaskSpec, samples: list[Sample]) -> list[Prediction]:
    requests = [s.request(prompt=task.prompt(adapter.prompt_key, s)) for s in samples]
    preds = predict_requests(adapter, requests)
    check_answers(adapter, requests, preds)
    return preds


def check_batching(reader: SplitReader, adapter: ModelAdapter, task: TaskSpec, n_samples: int, batch_size: int) -> BatchingReport:
    samples = list(islice(iter(reader), n_samples))
    single = [p for s in samples for p in _predict(adapter, task, [s])]
    batched = [p for i in range(0, len(samples), batch_size) for p in _predict(adapter, task, samples[i : i + batch_size])]
    report = BatchingReport(n_samples=len(samples), batch_size=batch_size)
    for s, a, b in zip(samples, single, batched):
        text_differs = (a.text or "") != (b.text or "")
        objects_differ = not same_objects(a, b)
        report.n_text_differs += text_differs
        report.n_objects_differ += objects_differ
        if text_differs or objects_differ:
            report.differing_ids.append(s.sample_id)
            if len(report.examples) < 5:
                report.examples.append({"sample_id": s.sample_id, "batch_1": a.to_json(), f"batch_{batch_size}": b.to_json()})
    return report
