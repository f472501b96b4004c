"""Does batching (or the backend) change a model's answers? Run a fixed subset twice and compare.

Left padding, fused kernels and reduced precision can make a batched forward pass differ
from a single one in the last bits, and a greedy decoder turns a last-bit difference into
a different token. lmms-eval users found whole benchmark points moving with batch size;
this check measures it for a given model instead of assuming it away. The same comparison
answers whether the HF and vLLM backends give one model the same answers
(`api.check_backends`): lmms-eval users found their scores moving between the two.
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
class DriftReport:
    """Two runs of one model on the same samples (`first` and `second`: how each ran, e.g.
    "batch 1" and "batch 8", or "backend hf" and "backend vllm"), and where they differ."""

    n_samples: int
    first: str
    second: str
    n_text_differs: int = 0
    n_objects_differ: int = 0
    differing_ids: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)  # the first few, both predictions

    @property
    def batch_size(self) -> int | None:
        """check-batching's N (the second run's batch), None for other comparisons."""
        return int(self.second.split()[-1]) if self.second.startswith("batch ") else None

    def line(self) -> str:
        """The verdict in one line: whether the answers change, how many, and how compared."""
        n_diff = len(self.differing_ids)
        head = "no drift" if n_diff == 0 else "DRIFT"
        return (
            f"{head}: {n_diff} of {self.n_samples} answers change between {self.first} and {self.second} "
            f"(text: {self.n_text_differs}, objects: {self.n_objects_differ}; boxes compared to {BOX_TOL_PX} px, "
            f"scores to {SCORE_TOL:g})"
        )


#: check-batching's report (the name it had before backends were compared too)
BatchingReport = DriftReport


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


def compare_runs(
    samples: list[Sample], first: list[Prediction], second: list[Prediction], labels: tuple[str, str]
) -> DriftReport:
    """Where two lists of predictions of the same samples differ (text, or objects beyond
    the tolerances)."""
    report = DriftReport(n_samples=len(samples), first=labels[0], second=labels[1])
    for s, a, b in zip(samples, first, second):
        text_differs = (a.text or "") != (b.text or "")
        objects_differ = not same_objects(a, b)
        report.n_text_differs += text_differs
        report.n_objects_differ += objects_differ
        if text_differs or objects_differ:
            report.differing_ids.append(s.sample_id)
            if len(report.examples) < 5:
                report.examples.append({"sample_id": s.sample_id, labels[0]: a.to_json(), labels[1]: b.to_json()})
    return report


def predict_subset(adapter: ModelAdapter, task: TaskSpec, samples: list[Sample], batch_size: int) -> list[Prediction]:
    """The adapter's predictions of `samples`, `batch_size` at a time."""
    return [p for i in range(0, len(samples), batch_size) for p in _predict(adapter, task, samples[i : i + batch_size])]


def first_samples(reader: SplitReader, n_samples: int) -> list[Sample]:
    return list(islice(iter(reader), n_samples))


def check_batching(reader: SplitReader, adapter: ModelAdapter, task: TaskSpec, n_samples: int, batch_size: int) -> DriftReport:
    samples = first_samples(reader, n_samples)
    single = predict_subset(adapter, task, samples, 1)
    batched = predict_subset(adapter, task, samples, batch_size)
    return compare_runs(samples, single, batched, ("batch 1", f"batch {batch_size}"))
