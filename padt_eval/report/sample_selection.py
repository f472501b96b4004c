"""What a run report draws from per_sample.jsonl, picked in one pass over the records.

The report shows few samples of many: the worst answered ones, the worst of each miss
category, the first failures, and the IoU histogram. Each pick is a bounded selection
(`Lowest`), so the records are streamed once and never held (a 50k-sample run's records
are ~50 MB as dicts), and each pick equals `sorted(pool, key)[:n]` on the whole list:
the n smallest keys, split order among equals. The columnar scoring path makes the
same selection from its columns (`scoring/columnar.py`), without records.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from padt_eval.report.errors_view import DRAWN_QUERY_CATEGORIES, N_PER_CATEGORY, is_query_errors, is_tide_errors

FAILED_STATUSES = ("failed", "error")
MAX_FAILURES = 50


class Lowest:
    """The `n` records of smallest key seen so far; ties keep the earlier record."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._heap: list[tuple[Any, int, dict[str, Any]]] = []  # (-key, -seq, record): the worst kept on top
        self.seen = 0

    def add(self, key: Any, seq: int, record: dict[str, Any]) -> None:
        self.seen += 1
        if self.n <= 0:
            return
        item = (-key, -seq, record)
        if len(self._heap) < self.n:
            heapq.heappush(self._heap, item)
        elif (key, seq) < (-self._heap[0][0], -self._heap[0][1]):
            heapq.heapreplace(self._heap, item)

    def records(self) -> list[dict[str, Any]]:
        return [r for _, _, r in sorted(self._heap, key=lambda t: (-t[0], -t[1]))]


def unmatched(r: dict[str, Any]) -> int | None:
    """Objects left unmatched in a multi-object record (RIC: predicted + GT not matched;
    OVD: the gap between GT and scored detections); None when the record has no counts."""
    if "n_matched" in r:
        return int(r.get("n_pred", 0)) + int(r.get("n_gt", 0)) - 2 * int(r["n_matched"])
    if "n_gt" in r and "n_det" in r:
        return abs(int(r["n_gt"]) - int(r["n_det"])) + int(r.get("n_unmapped", 0))
    return None


@dataclass
class SampleSelection:
    """What the report draws: `worst` (and `how` they were chosen), `by_category`,
    `failures` (the first MAX_FAILURES) and `n_failures`, every `ious`, and `n` records."""

    worst: list[dict[str, Any]]
    how: str
    by_category: dict[str, list[dict[str, Any]]]
    failures: list[dict[str, Any]]
    n_failures: int
    ious: list[float]
    n: int
    #: where the picked samples' lines start in the predictions file (byte offsets), when
    #: the caller read it (the columnar scoring path): an id without one has no line.
    #: None: unknown, the report looks the lines up itself.
    line_offsets: dict[str, int] | None = None

    @classmethod
    def of_records(cls, records: Iterable[dict[str, Any]], errors: dict[str, Any] | None, n_worst: int) -> SampleSelection:
        """The selection from the records, in one pass."""
        answered, with_iou, most_unmatched = Lowest(n_worst), Lowest(n_worst), Lowest(n_worst)
        query = bool(errors) and is_query_errors(errors)
        tide = list((errors or {}).get("dap") or {}) if errors and not query and is_tide_errors(errors) else []
        per_category = {c: Lowest(N_PER_CATEGORY) for c in (DRAWN_QUERY_CATEGORIES if query else tide)}
        failures: list[dict[str, Any]] = []
        n_failures = 0
        ious: list[float] = []
        seq = -1
        for seq, r in enumerate(records):
            ok = r.get("status") == "ok"
            if "iou" in r:
                key = float(r["iou"])
                with_iou.add(key, seq, r)
                if ok:
                    answered.add(key, seq, r)
            elif ok and (u := unmatched(r)) is not None:
                most_unmatched.add(-u, seq, r)
            if isinstance(r.get("iou"), (int, float)):
                ious.append(float(r["iou"]))
            if r.get("status") in FAILED_STATUSES:
                n_failures += 1
                if len(failures) < MAX_FAILURES:
                    failures.append(r)
            if query:
                pick = per_category.get(r.get("error"))  # type: ignore[arg-type]
                if pick is not None:
                    pick.add(float(r.get("iou", 0.0)), seq, r)
            elif tide and isinstance(r.get("errors"), dict):
                for t in tide:
                    if r["errors"].get(t):
                        per_category[t].add(-int(r["errors"][t]), seq, r)
        if with_iou.seen:
            worst, how = (answered if answered.seen else with_iou).records(), LOWEST_IOU
        else:
            worst, how = most_unmatched.records(), "most unmatched objects first"
        by_category = {c: pick.records() for c, pick in per_category.items()} if errors else {}
        return cls(worst, how, by_category, failures, n_failures, ious, seq + 1)


LOWEST_IOU = "lowest IoU first"
#: (the run's metrics.json `errors`, how many worst samples) -> the selection
Selector = Callable[[dict[str, Any] | None, int], SampleSelection]
