"""A metric's per-sample declaration: which record fields make which number.

Every metric value that decomposes over samples is a ratio of sums over the per-sample
records, Σnum / Σden (a mean has den = the number of records):

    acc@0.5 = mean(hit@0.5)        ciou = ratio(intersection, union)

A metric class declares these once (`Metric.ESTIMATORS`), and everything that needs the
formula reads it from there: the metric's own `compute` (exactly, from its declared state,
`FieldSums`), `padt-eval compare`'s paired bootstrap, permutation test and McNemar test
(`ratio_data`, from per_sample.jsonl), and the PaDT release protocol's aggregates. So
metrics.json and a comparison cannot use two different formulas for one number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from padt_eval.core.errors import UsageError
from padt_eval.metrics.paired import RatioData


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


#: `Estimator.empty`: with nothing to count, the metric leaves the value out of metrics.json.
OMIT: Any = _Omit()


@dataclass(frozen=True)
class Estimator:
    """value = Σ record[num] / Σ record[den] over the records (den None: over the number of records)."""

    num: str
    den: str | None = None
    binary: bool = False  # a per-sample hit/miss: McNemar's test applies
    optional: bool = False  # a record without the fields adds 0 to both sums (RIC's mask counts)
    # The value when the denominator sums to 0: a number, None (null in metrics.json) or
    # OMIT. What a metric reports for an empty split, not part of the formula: two runs
    # whose estimators differ only here define the metric the same way (`compare`).
    empty: Any = field(default=0.0, compare=False)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.num,) if self.den is None else (self.num, self.den)

    def value(self, totals: Mapping[str, int | float], n: int) -> Any:
        """The value from the fields' totals over `n` records (see `FieldSums.totals`)."""
        den = totals[self.den] if self.den is not None else n
        return totals[self.num] / den if den else self.empty

    def ratio_data(self, records: Sequence[Mapping[str, Any]]) -> RatioData:
        """The per-record numerators and denominators, for the paired statistics."""
        if self.optional:
            num = np.array([float(r.get(self.num, 0)) for r in records], dtype=np.float64)
            den = np.array([float(r.get(self.den, 0)) for r in records], dtype=np.float64) if self.den else np.ones(len(records))
            return RatioData(num, den)
        try:
            num = np.fromiter((float(r[self.num]) for r in records), dtype=np.float64, count=len(records))
            den = (
                np.fromiter((float(r[self.den]) for r in records), dtype=np.float64, count=len(records))
                if self.den
                else np.ones(len(records))
            )
        except KeyError as exc:
            raise UsageError(f"per-sample records lack the field {exc} needed for this metric") from None
        return RatioData(num, den)


def mean(name: str, *, binary: bool = False, empty: Any = 0.0) -> Estimator:
    """The mean of a per-sample field over all records (a share, when the field is a hit)."""
    return Estimator(name, binary=binary, empty=empty)


def ratio(num: str, den: str, *, optional: bool = False, empty: Any = 0.0) -> Estimator:
    """Σ num / Σ den over all records (cIoU, GP/GR, N-acc, T-acc)."""
    return Estimator(num, den, optional=optional, empty=empty)


def fields_of(estimators: Mapping[str, Estimator]) -> tuple[str, ...]:
    """Every field the estimators read, in declaration order."""
    return tuple(dict.fromkeys(f for e in estimators.values() for f in e.fields))


class Column:
    """The values of one per-sample field, in record order, with an exact total: integer
    and boolean values are summed as integers, floats with `math.fsum` (rounded once, so
    a mean does not depend on sample order) or, `in_order`, with Python's `sum` in record
    order (the PaDT release's own arithmetic)."""

    __slots__ = ("name", "values")

    def __init__(self, name: str = "value") -> None:
        self.name = name
        self.values: list[int | float] = []

    def add(self, v: int | float) -> None:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"per-sample field {self.name!r} must be finite, got {v}")
        self.values.append(v)

    def extend(self, values: list[int | float]) -> None:
        """`add` each value, in one call (the columnar scoring path)."""
        if not _all_finite(values) and any(type(v) is float and not math.isfinite(v) for v in values):
            bad = next(v for v in values if type(v) is float and not math.isfinite(v))
            raise ValueError(f"per-sample field {self.name!r} must be finite, got {bad}")
        self.values.extend(values)

    @property
    def count(self) -> int:
        return len(self.values)

    def total(self, in_order: bool = False) -> int | float:
        if set(map(type, self.values)) <= _INTEGRAL:
            return sum(self.values)  # bools add up as ints: the same int
        return sum(self.values) if in_order else math.fsum(self.values)

    def mean(self) -> float:
        """0.0 when nothing was added."""
        return self.total() / len(self.values) if self.values else 0.0


_INTEGRAL = {int, bool}


def _all_finite(values: list[int | float]) -> bool:
    """True when every value is a finite number, in one numpy pass (an `extend` of 50,000
    values); False also when numpy cannot tell (an int beyond a float's range): the
    caller then checks value by value."""
    try:
        return bool(np.isfinite(np.fromiter(values, dtype=np.float64, count=len(values))).all())
    except (OverflowError, TypeError, ValueError):
        return False


class FieldSums:
    """A metric's declared per-sample state: one `Column` per field its estimators read,
    filled from each record as it is written (so a number and the per_sample.jsonl it
    came with cannot disagree). A metric adds nothing else to it."""

    def __init__(self, names: Iterable[str], optional: Iterable[str] = ()) -> None:
        self.columns = {name: Column(name) for name in names}
        self._optional = frozenset(optional)
        self.n = 0

    @classmethod
    def declared_by(cls, estimators: Mapping[str, Estimator]) -> FieldSums:
        optional = {f for e in estimators.values() if e.optional for f in e.fields}
        return cls(fields_of(estimators), optional)

    def add(self, record: Mapping[str, Any]) -> None:
        for name, column in self.columns.items():
            column.add(record.get(name, 0) if name in self._optional else record[name])
        self.n += 1

    def add_columns(self, columns: Mapping[str, list[int | float]], n: int) -> None:
        """`add` of `n` records given as one list per field (every declared field given)."""
        for name, column in self.columns.items():
            column.extend(columns[name])
        self.n += n

    def totals(self, in_order: bool = False) -> dict[str, int | float]:
        return {name: column.total(in_order) for name, column in self.columns.items()}

    def estimate(self, estimators: Mapping[str, Estimator], in_order: bool = False) -> dict[str, Any]:
        """The declared values (those whose `empty` is OMIT left out when nothing was counted)."""
        return estimate(estimators, self.totals(in_order), self.n)


def estimate(estimators: Mapping[str, Estimator], totals: Mapping[str, int | float], n: int) -> dict[str, Any]:
    out = {}
    for name, est in estimators.items():
        v = est.value(totals, n)
        if v is not OMIT:
            out[name] = v
    return out


def estimate_records(
    estimators: Mapping[str, Estimator], records: Iterable[Mapping[str, Any]], in_order: bool = False
) -> dict[str, Any]:
    """The declared values over finished per-sample records."""
    sums = FieldSums.declared_by(estimators)
    for r in records:
        sums.add(r)
    return sums.estimate(estimators, in_order)
