"""What every metric shares: the outcome counts, the interface, the query metrics' state.

A metric follows detectron2's `process`/`evaluate` split: `update(sample, prediction)`
adds one pair and returns its per-sample record, `compute()` gives the numbers. Metrics
never see a model, only (Sample, Prediction) pairs, and are never merged: a sharded run
merges its prediction files and scores them once, so per_sample.jsonl and the
predictions are the only state a run keeps.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from padt_eval.core.types import ParseStatus, Prediction, Sample, Task
from padt_eval.metrics.errors import QueryErrors
from padt_eval.metrics.estimators import Estimator, FieldSums


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

    def add_counts(self, counts: Mapping[str, int]) -> None:
        """What `add` would have counted for many samples (the columnar scoring path)."""
        self.c.update(counts)

    def as_dict(self) -> dict[str, int]:
        return {k: int(self.c.get(k, 0)) for k in self.KEYS}


class Metric(abc.ABC):
    task: Task
    #: The values that decompose over samples, each a ratio of sums of per-sample record
    #: fields (`metrics/estimators.py`). `compute` reports them from the declared state,
    #: and `padt-eval compare` recomputes them from per_sample.jsonl with the same formula.
    #: Empty for corpus-level metrics (COCO AP, caption scores).
    ESTIMATORS: ClassVar[dict[str, Estimator]] = {}

    @classmethod
    def declared(cls, task: Task) -> dict[str, Estimator]:
        """The estimators of this metric class when it scores `task` (one class may score two)."""
        return cls.ESTIMATORS

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


@dataclass
class ColumnState:
    """A query metric's state for many samples at once (`QueryMetric.add_columns`)."""

    n: int
    fields: dict[str, list[Any]]  # each declared per-sample field, in record order
    outcomes: Counter[str]  # `OutcomeCounts` keys
    error_counts: Counter[str] = field(default_factory=Counter)  # miss categories
    n_without_instances: int = 0
    task_counts: dict[str, int] = field(default_factory=dict)  # `task_counts` keys


def record_base(sample: Sample, pred: Prediction) -> dict[str, Any]:
    rec: dict[str, Any] = {"sample_id": sample.sample_id, "status": pred.parse_status.value}
    if pred.parse_reason:
        rec["reason"] = pred.parse_reason
    return rec


class QueryMetric(Metric):
    """REC and RES: one answer per query. Their state is the declared per-sample fields
    (`FieldSums`), the outcome counts, and the miss categories when `errors` is given
    (`metrics/errors.py`; tasks/metric.py's `build_metric` decides)."""

    def __init__(self, errors: QueryErrors | None = None) -> None:
        self.sums = FieldSums.declared_by(self.ESTIMATORS)
        self.outcomes = OutcomeCounts()
        self.error_counts = errors

    def _classify(self, rec: dict[str, Any], sample: Sample, pred: Prediction, answer: Any, iou: float) -> None:
        if self.error_counts is not None:
            rec.update(self.error_counts.add(sample, is_answered(pred), answer, iou))

    def add_columns(self, columns: ColumnState) -> None:
        """The state `update` would have built from these samples' records, added in one
        call by the columnar scoring path (`scoring/columnar.py`): the declared fields,
        the outcome counts, the miss categories and the task's own counts."""
        self.sums.add_columns(columns.fields, columns.n)
        self.outcomes.add_counts(columns.outcomes)
        if self.error_counts is not None:
            self.error_counts.add_counts(columns.error_counts, columns.n_without_instances)
        for name, value in columns.task_counts.items():
            setattr(self, name, getattr(self, name) + value)  # the counters `task_counts` reports

    def compute(self) -> dict[str, float]:
        return self.sums.estimate(self.ESTIMATORS)

    def errors(self) -> dict[str, Any] | None:
        return self.error_counts.summary() if self.error_counts is not None else None

    def counts(self) -> dict[str, int]:
        return {**self.outcomes.as_dict(), **self.task_counts()}

    def task_counts(self) -> dict[str, int]:
        """The task's own integer counts, reported after the outcome counts."""
        return {}
