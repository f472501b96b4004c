"""What every metric shares: the outcome counts, the interface, the query metrics' state.

A metric is a small mergeable state (detectron2's `process`/`evaluate` split, with
torchmetrics' merge rule): `update(sample, prediction)` adds one pair and returns its
per-sample record, `merge(other)` folds in another shard's state exactly, `compute()`
gives the numbers. Metrics never see a model, only (Sample, Prediction) pairs.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Sequence
from typing import Any

from padt_eval.metrics.errors import QueryErrors
from padt_eval.metrics.stats import ExactSum
from padt_eval.core.types import ParseStatus, Prediction, Sample, Task

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

    def merge(self, other: OutcomeCounts) -> None:
        self.c.update(other.c)

    def as_dict(self) -> dict[str, int]:
        return {k: int(self.c.get(k, 0)) for k in self.KEYS}

    @classmethod
    def from_dict(cls, d: dict[str, int]) -> OutcomeCounts:
        out = cls()
        out.c.update({k: int(v) for k, v in d.items()})
        return out


class Metric(abc.ABC):
    task: Task

    @abc.abstractmethod
    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        """Score one pair; return its per-sample record (JSON-ready)."""

    def update_many(self, samples: Sequence[Sample], preds: Sequence[Prediction]) -> list[dict[str, Any]]:
        """Score a batch; metrics that can share work across a batch override this."""
        return [self.update(s, p) for s, p in zip(samples, preds)]

    @abc.abstractmethod
    def merge(self, other: Metric) -> None:
        """Fold another shard's state into this one; the result equals one unsharded run."""

    @abc.abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric values, as fractions in [0, 1]."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        ...

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        ...

    @classmethod
    @abc.abstractmethod
    def from_state_dict(cls, d: dict[str, Any]) -> Metric:
        ...

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
    """REC and RES: one answer per query. Their state is a sum of per-query IoUs, the
    outcome counts, and a few task-specific integers (`COUNTERS`, merged by addition;
    those named `n_*` are also reported in `counts()`)."""

    COUNTERS: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.iou_sum = ExactSum()
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

    def merge(self, other: QueryMetric) -> None:  # type: ignore[override]
        self.iou_sum.merge(other.iou_sum)
        self.outcomes.merge(other.outcomes)
        if self.error_counts is not None and other.error_counts is not None:
            self.error_counts.merge(other.error_counts)
        for name in self.COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def counts(self) -> dict[str, int]:
        d = self.outcomes.as_dict()
        d.update({name: getattr(self, name) for name in self.COUNTERS if name.startswith("n_")})
        return d

    def state_dict(self) -> dict[str, Any]:
        d = {"iou_sum": self.iou_sum.to_json(), "outcomes": self.outcomes.as_dict(), **{n: getattr(self, n) for n in self.COUNTERS}}
        if self.error_counts is not None:
            d["errors"] = self.error_counts.state_dict()
        return d

    @classmethod
    def from_state_dict(cls, d: dict[str, Any]) -> QueryMetric:
        m = cls()
        m.iou_sum = ExactSum.from_json(d["iou_sum"])
        m.outcomes = OutcomeCounts.from_dict(d["outcomes"])
        for name in cls.COUNTERS:
            setattr(m, name, int(d.get(name, 0)))
        if "errors" in d:
            m.error_counts = QueryErrors.from_state_dict(d["errors"])
        return m
