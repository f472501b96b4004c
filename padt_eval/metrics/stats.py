"""Sums that merge exactly, so a sharded run gives bit-identical metrics to a single run.

Floating-point addition is not associative: summing per-sample IoUs shard by shard and
then adding the shard totals can differ in the last bits from one sequential sum.
`ExactSum` keeps Shewchuk's non-overlapping partials (the algorithm behind `math.fsum`):
their exact sum equals the exact sum of everything added, in any order, and `value()`
rounds it once. Merging two states is adding one's partials to the other's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class ExactSum:
    __slots__ = ("partials", "count")

    def __init__(self, partials: Iterable[float] = (), count: int = 0) -> None:
        self.partials: list[float] = []
        self.count = 0
        for p in partials:
            self._add(float(p))
        self.count = int(count)

    def _add(self, x: float) -> None:
        partials = self.partials
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    def add(self, x: float) -> None:
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"ExactSum only takes finite values, got {x}")
        self._add(x)
        self.count += 1

    def merge(self, other: ExactSum) -> None:
        for p in other.partials:
            self._add(p)
        self.count += other.count

    def value(self) -> float:
        return math.fsum(self.partials)

    def mean(self) -> float:
        """Mean over the values added; 0.0 when nothing was added."""
        return self.value() / self.count if self.count else 0.0

    def to_json(self) -> dict:
        return {"partials": list(self.partials), "count": self.count}

    @classmethod
    def from_json(cls, d: dict) -> ExactSum:
        return cls(d["partials"], d["count"])
