"""What every metric shares: the outcome counts, the interface, the query metrics' state.

A metric follows detectron2's `process`/`evaluate` split: `update(sample, prediction)`
adds one pair and returns its per-sample record, `compute()` gives the numbers. Metrics
never see a model, only (Sample, Prediction) pairs, and are never merged: a sharded run
merges its prediction files and scores them once, so per_sample.jsonl and the
predictions are the only state a run keeps.
"""

from __future__ import annotations

import abc
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from padt_eval.core.types import ParseStatus, Prediction, Sample, Task
from padt_eval.metrics.errors import QueryErrors


def is_answered(pred: Prediction) -> bool:
    """A prediction counts only when the output was read; failures and gaps are misses."""
    return pred.parse_status == ParseStatus.OK


class OutcomeCounts:
    """How many samples were answered, missing, unparseable, errored or empty, and how
    many answers carried a score on every object (`n_with_scores`)."""

    KEYS = ("n_samples", "n_predicted", "n_missing", "n_parse_failed", "n_error", "n_no_object", "n_with_scores")

    def __init__(self) -> None:
        self.c: Counter[str] = Counter()

    def add(self, pred: Prediction, has_object: bool) -> None:
        self.c["n_samples"] += 1
        status = pred.parse_status
        if status == ParseStatus.OK:
            self.c["n_predicted"] += 1
            if not has_object:
                self.c["n_no_object"] += 1
            elif all(o.score is not None for o in pred.objects):
                # Whether the model gave confidences decides REC/RES selection and OVD
                # ranking; tables say so next to the numbers.
                self.c["n_with_scores"] += 1
        elif status == ParseStatus.MISSING:
            self.c["n_missing"] += 1
        elif status == ParseStatus.FAILED:
            self.c["n_parse_failed"] += 1
        else:
            self.c["n_error"] += 1

    def as_dict(self) -> dict[str, int]:
        return {k: int(self.c.get(k, 0)) for k in self.KEYS}


class IouValues:
    """The per-query IoUs of REC/RES and their mean. The mean is rounded once from their
    exact sum (`math.fsum`), so it does not depend on the order the samples came in."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[float] = []

    def add(self, iou: float) -> None:
        iou = float(iou)
        if not math.isfinite(iou):
            raise ValueError(f"an IoU must be finite, got {iou}")
        self.values.append(iou)

    @property
    def count(self) -> int:
        return len(self.values)

    def mean(self) -> float:
        """0.0 when nothing was added."""
        return math.fsum(self.values) / len(self.values) if self.values else 0.0


class Metric(abc.ABC):
    task: Task

    @abc.abstractmethod
    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        """Score one pair; return its per-sample record (JSON-ready)."""

    def update_many(self, samples: Sequence[Sample], preds: Sequence[Prediction]) -> list[dict[str, Any]]:
        """Score a batch; metrics that can share work across a batch override this."""
        return [self.update(s, p) for s, p in zip(samples, preds)]

    @abc.abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric values, as fractions in [0, 1]."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]: ...

    def protocol(self) -> dict[str, Any]:
        """The scoring choices, written next to the numbers in metrics.json."""
        return {}

    def final_records(self) -> list[dict[str, Any]]:
        """Per-sample records that can only be written once every sample is in (metrics
        whose per-sample value depends on other samples, such as the PaDT release's
        key pooling). Streaming metrics return theirs from `update` and nothing here."""
        return []

    def details(self) -> dict[str, Any]:
        """Findings beside the numbers that are neither metrics nor counts (e.g. the most
        frequent unmapped OVD labels, whether scores were given). JSON-ready; may be empty."""
        return {}

    def notes(self) -> list[str]:
        """Plain-language warnings a report must show next to the numbers."""
        return []

    def errors(self) -> dict[str, Any] | None:
        """Why the misses happened (metrics.json `errors`), for metrics that classify
        them (REC/RES: `metrics/errors.py`; OVD: `metrics/tide.py`); None otherwise."""
        return None


def record_base(sample: Sample, pred: Prediction) -> dict[str, Any]:
    rec: dict[str, Any] = {"sample_id": sample.sample_id, "status": pred.parse_status.value}
    if pred.parse_reason:
        rec["reason"] = pred.parse_reason
    return rec


class QueryMetric(Metric):
    """REC and RES: one answer per query. Their state is the per-query IoUs, the outcome
    counts, and a few task-specific integers (`COUNTERS`; those named `n_*` are also
    reported in `counts()`)."""

    COUNTERS: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.iou_sum = IouValues()
        self.outcomes = OutcomeCounts()
        # The miss categories, when the caller asked for them (`track_errors`).
        self.error_counts: QueryErrors | None = None
        for name in self.COUNTERS:
            setattr(self, name, 0)

    def track_errors(self, errors: QueryErrors) -> None:
        """Classify every scored answer into a miss category (`metrics/errors.py`)."""
        self.error_counts = errors

    def _classify(self, rec: dict[str, Any], sample: Sample, pred: Prediction, answer: Any, iou: float) -> None:
        if self.error_counts is not None:
            rec.update(self.error_counts.add(sample, is_answered(pred), answer, iou))

    def errors(self) -> dict[str, Any] | None:
        return self.error_counts.summary() if self.error_counts is not None else None

    def counts(self) -> dict[str, int]:
        d = self.outcomes.as_dict()
        d.update({name: getattr(self, name) for name in self.COUNTERS if name.startswith("n_")})
        return d
