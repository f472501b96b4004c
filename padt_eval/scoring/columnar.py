"""The columnar scoring path: REC/RES over whole columns instead of per-sample objects.

The common case of `padt-eval rec|res -p FILE` (a predictions file in padt-eval's own
JSONL layout, no `--format` parser, the standard protocol, a split the columnar reader
takes: `data/query_columns.py`) is scored here: the split and the predictions are read
once with orjson into columns (ids, boxes, statuses, reasons), box IoUs are
computed with numpy over all samples at once, mask IoUs with pycocotools' RLE merge and
area in C (the very calls the object path makes), and the miss categories from the
IoU columns. The metric is handed the state its `update` would have built
(`QueryMetric.add_columns`), and per_sample.jsonl is written from the columns.

The object path (`Sample`, `Prediction`, `metric.update_many`) stays the reference: a
test scores varied files both ways and requires identical metrics.json and
per_sample.jsonl. Whatever this path does not reproduce gives `None` before anything
is written, and the object path scores the file, with its messages naming file, line
and field: a malformed line, a duplicate id, a line that is not plainly well formed,
an invalid mask, or an unknown id under --strict. A missed answer is compared with
its image's other instances (the error breakdown's wrong_object / near_other) through
the metric's own `QueryErrors.other_ious`, one miss at a time.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from padt_eval.core import rle as rlemod
from padt_eval.core.answer_cost import COMPLETION_TOKENS
from padt_eval.core.answer_rule import answer_index
from padt_eval.core.boxes import is_finite_box
from padt_eval.core.types import ParseStatus, Task
from padt_eval.data.query_columns import QueryColumns, TargetMasks, read_query_columns
from padt_eval.data.split import SplitReader
from padt_eval.metrics import chance
from padt_eval.metrics.base import ColumnState
from padt_eval.metrics.errors import classify_without_instances
from padt_eval.metrics.rec import THRESHOLDS, RecMetric
from padt_eval.metrics.res import ResMetric
from padt_eval.scoring.alarm_watch import hit_max, line_key
from padt_eval.scoring.predictions_file import MAX_LISTED_PROBLEMS, Problem

if TYPE_CHECKING:
    from padt_eval.report.sample_selection import SampleSelection

_STATUSES = {s.value: s.value for s in ParseStatus}  # each status one str object
_HIT_KEYS = [(f"hit@{t:g}", t) for t in THRESHOLDS]  # REC's per-sample hit fields, named once
_OK = ParseStatus.OK.value  # read once: an enum member's `.value` is a descriptor call
#: served lines whose masks are checked together (as `PredictionsFile.get_many` does)
_BLOCK = 256


class Answers:
    """Each sample's answer, as columns: its line's status and reason, whether every object
    carried a score (`OutcomeCounts.n_with_scores`), REC's box; and what the alarms read
    (`scoring/alarm_watch.py`): its answer key (one box's coordinates, by row, or any other
    key) and its hit-max flag. A sample without a line is missing.

    Lines are added as rows into plain lists (a numpy element write costs more than the
    rest of a plain line's handling); `finish` makes the arrays once every line is read."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.status = [ParseStatus.MISSING.value] * n
        self.reason: dict[int, Any] = {}  # the truthy `parse_reason`s
        self.line_rows: list[int] = []  # the rows that have a line
        self.unscored_rows: list[int] = []  # the rows whose line has an object without a score
        self.box_rows: list[int] = []  # REC: the rows with a box scored, and the boxes
        self.box_values: list[list[float]] = []
        self.mask_box_rows: list[int] = []  # REC: the rows whose box is a mask's tight box
        self.offset = array("q", [-1]) * n  # where each row's line starts in the file (-1: no line)
        self.key_rows = array("q")  # the rows answered by one box, and its coordinates
        self.key_boxes = array("d")
        self.key_other: dict[int, Any] = {}
        self.hits: dict[int, tuple[bool, str]] = {}

    def add(self, row: int, line: tuple) -> None:
        status, reason, scored, box, from_mask, _ = line
        self.line_rows.append(row)
        self.status[row] = status
        if not scored:
            self.unscored_rows.append(row)
        if reason:
            self.reason[row] = reason
        if box is not None:
            self.box_rows.append(row)
            self.box_values.append(box)
            if from_mask:
                self.mask_box_rows.append(row)

    def add_alarm_fields(self, row: int, key: Any, hit: tuple[bool, str] | None) -> None:
        if type(key) is list:
            self.key_rows.append(row)
            self.key_boxes.extend(key)
        elif key is not None:
            self.key_other[row] = key
        if hit is not None:
            self.hits[row] = hit

    def finish(self) -> Answers:
        """The columns as arrays: `has_line`, `scored`, `box`, `has_box`, `box_from_mask`."""
        n = self.n
        self.has_line = np.zeros(n, dtype=bool)
        self.has_line[self.line_rows] = True
        self.scored = self.has_line.copy()  # a line whose objects all carry a score (or that has none)
        self.scored[self.unscored_rows] = False
        self.box = np.zeros((n, 4), dtype=np.float64)
        self.has_box = np.zeros(n, dtype=bool)
        if self.box_rows:
            self.box[self.box_rows] = np.array(self.box_values, dtype=np.float64)
            self.has_box[self.box_rows] = True
        self.box_from_mask = np.zeros(n, dtype=bool)
        self.box_from_mask[self.mask_box_rows] = True
        self.line_rows, self.unscored_rows, self.box_rows, self.box_values, self.mask_box_rows = [], [], [], [], []
        return self


@dataclass
class ColumnarPredictions:
    """What `PredictionsFile` reports about a file, for a file read by this path (which
    has no malformed or duplicate line: those go to the object path)."""

    path: Path
    n_lines: int
    distinct_ids: int
    unknown: list[tuple[str, int]]  # (sample id, line) of ids the split does not have
    problems: list[Problem] = field(default_factory=list)
    problem_counts: Counter[str] = field(default_factory=Counter)

    def check_ids(self, split_ids: object) -> None:
        for sid, line in self.unknown:
            self.problem_counts["unknown_id"] += 1
            if len(self.problems) < MAX_LISTED_PROBLEMS:
                self.problems.append(Problem("unknown_id", f"{self.path}:{line}", f"sample_id {sid!r} is not in the split"))

    def summary(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "lines": self.n_lines,
            "distinct_ids": self.distinct_ids,
            "problems": {k: int(v) for k, v in sorted(self.problem_counts.items())},
            "first_problems": [str(p) for p in self.problems],
        }


def _score_ok(v: Any) -> bool:
    return v is None or (type(v) in (int, float) and math.isfinite(v))


def _box_ok(b: Any) -> bool:
    """`is_finite_box`, with the common case first: four floats whose sum is finite are
    each finite (an infinity or a NaN carries into the sum; a sum that overflows only
    sends the box on to the exact check)."""
    if type(b) is list and len(b) == 4:
        x1, y1, x2, y2 = b
        if (
            type(x1) is float
            and type(y1) is float
            and type(x2) is float
            and type(y2) is float
            and math.isfinite(x1 + y1 + x2 + y2)
        ):
            return True
    return is_finite_box(b)


def _read_line(obj: Any, task: Task) -> tuple | None:
    """`prediction_from_line`'s checks on a parsed line, and its answer (`Answers.add`'s
    line: status, reason, scored, REC's box and whether it is a mask's, RES's mask); None
    for a line that fails any check (the object path then reports it)."""
    text, objects = obj.get("text"), obj.get("objects", [])
    status, meta = obj.get("parse_status", _OK), obj.get("meta") or {}
    if (text is not None and type(text) is not str) or type(objects) is not list or type(meta) is not dict:
        return None
    if COMPLETION_TOKENS in meta:  # an answer with a recorded cost: the object path's CostTally reads it
        return None
    if type(status) is not str or status not in _STATUSES:
        return None
    scores = []
    for o in objects:
        if type(o) is not dict:
            return None
        bbox, score, label = o.get("bbox"), o.get("score"), o.get("label")
        if (bbox is not None and not _box_ok(bbox)) or not _score_ok(score) or (label is not None and type(label) is not str):
            return None
        if bbox is None and o.get("mask") is None:
            return None
        scores.append(float(score) if score is not None else None)
    status, reason, scored = _STATUSES[status], obj.get("parse_reason"), None not in scores
    i = (0 if scores else None) if len(scores) < 2 else answer_index(scores)
    if i is None:
        return status, reason, scored, None, False, None
    chosen = objects[i]
    if task == Task.RES:  # the mask is checked with the block's masks (`_read_predictions`)
        return status, reason, scored, None, False, chosen.get("mask")
    answered = status == _OK  # only an answered sample's box is scored
    bbox = chosen.get("bbox")
    if bbox is not None:
        return status, reason, scored, [float(v) for v in bbox] if answered else None, False, None
    # REC scores a mask-only answer by its mask's tight box; no other mask is read
    if rlemod.problem(chosen["mask"]) is not None:
        return None
    return status, reason, scored, rlemod.bbox_xyxy(rlemod.normalise(chosen["mask"])) if answered else None, answered, None


def _alarm_fields(obj: dict, task: Task) -> tuple | None:
    """A line `_read_line` took: its answer key and hit-max flag for the alarms
    (`alarm_watch.line_key`, `hit_max`; a one-box answer's key is its box as given); None
    for a mask no RLE reading takes (RES checks masks a block at a time: the object path
    then names it)."""
    objects, meta = obj.get("objects", []), obj.get("meta")
    if len(objects) == 1 and objects[0].get("bbox") is not None:
        key = objects[0]["bbox"]
    else:
        i = (0 if objects else None) if len(objects) < 2 else answer_index([o.get("score") for o in objects])
        try:
            key = line_key(objects, obj.get("text"), i, task == Task.RES)
        except Exception:  # pycocotools raises a plain Exception on counts it cannot compress
            return None
    if not meta:
        return key, None
    flag, field_read = hit_max(meta)
    return key, (flag, field_read) if flag is not None else None


class _ResAreas:
    """RES: the answers' intersections with their targets and their areas, a block at a time."""

    def __init__(self, cols: QueryColumns, keep_answers: bool) -> None:
        self.cols = cols
        # the scored answers' masks, kept when the miss breakdown compares them with the
        # image's other instances
        self.answers: dict[int, dict] | None = {} if keep_answers else None
        self.inter = np.zeros(len(cols), dtype=np.int64)
        self.pred_area = np.zeros(len(cols), dtype=np.int64)
        self.has_mask = np.zeros(len(cols), dtype=bool)
        self.mismatch: dict[int, list[int]] = {}  # row -> the size of its answer's mask, which differs from its target's

    def add(self, rows: list[int], statuses: list[str], masks: list[dict | None], areas: list[int]) -> None:
        """Score these rows' answers (their masks are not kept: memory stays flat). The
        masks have passed `rle.checked`, which gave their areas (-1: unknown, asked of
        pycocotools here); each `size` is two non-negative ints."""
        target = self.cols.masks
        assert isinstance(target, TargetMasks)
        scored = [
            (row, mask, a) for row, status, mask, a in zip(rows, statuses, masks, areas) if mask is not None and status == _OK
        ]
        if not scored:
            return
        sizes = np.array([mask["size"] for _, mask, _ in scored], dtype=np.int64).reshape(-1, 2)
        agrees = (sizes == target.sizes[[row for row, _, _ in scored]]).all(axis=1).tolist()
        keep, known, preds, inters = [], [], [], []
        for (row, mask, area), same in zip(scored, agrees):
            if not same:
                self.mismatch[row] = [int(v) for v in mask["size"]]
                continue
            counts = mask["counts"]
            if type(counts) is str:  # the common case: `rle.normalise` and `to_cocotools` without the calls
                h, w = mask["size"]
                p = {"size": [h, w], "counts": counts.encode()}
                if self.answers is not None:
                    self.answers[row] = {"size": [h, w], "counts": counts}
            else:
                canonical = rlemod.normalise(mask)
                p = rlemod.to_cocotools(canonical)
                if self.answers is not None:
                    self.answers[row] = canonical
            keep.append(row)
            known.append(area)
            preds.append(p)
            # the target's size is the answer's (compared above)
            inters.append(rlemod.intersection(p, {"size": p["size"], "counts": target.counts(row)}))
        if keep:
            unknown = [k for k, a in enumerate(known) if a < 0]
            if unknown:
                for k, a in zip(unknown, rlemod.areas([preds[k] for k in unknown]).tolist()):
                    known[k] = a
            self.pred_area[keep] = known
            self.inter[keep] = rlemod.areas(inters)
            self.has_mask[keep] = True


@dataclass
class ColumnarScore:
    """A split and a predictions file scored as columns, ready to hand to the metric
    (`state`), to write as per-sample records (`records`) and to pick the samples a
    report draws (`selection`)."""

    task: Task
    cols: QueryColumns
    answers: Answers
    predictions: ColumnarPredictions
    iou: list[float]
    has_object: np.ndarray
    missing_reason: str
    res: _ResAreas | None = None
    gt_area: list[int] | None = None
    errors: Any = None  # the metric's QueryErrors, or None

    def __post_init__(self) -> None:
        n = len(self.cols)
        self.status = self.answers.status
        self.answered = np.fromiter((s == _OK for s in self.status), dtype=bool, count=n)  # its line answered
        # each sample's miss-breakdown fields (`QueryErrors.add`), None without a breakdown
        self.error_fields = self._classify() if self.errors is not None else [None] * n
        _keep_alarm_masks(self.cols)  # the miss breakdown is done with the targets (no-op if `_ious` was)
        self.inter: list[int] = []
        self.union: list[int] = []
        if self.task == Task.RES:
            assert self.res is not None and self.gt_area is not None
            self.inter = self.res.inter.tolist()
            self.union = (self.res.pred_area + np.asarray(self.gt_area, dtype=np.int64) - self.res.inter).tolist()

    def _classify(self) -> list[dict[str, Any] | None]:
        """`QueryErrors.add`'s record fields for each sample; a missed answer is compared
        with its image's other instances when the metric has them."""
        errors, fg = self.errors, self.errors.thresholds.foreground
        ok, has = self.answered, self.has_object
        # a hit's fields do not depend on its IoU (`classify`); equal fields are one dict
        # (records copy them)
        out: list[dict[str, Any] | None] = [errors.answer_fields(fg, [])] * len(ok)
        unparsed, no_object = {"error": "unparsed"}, {"error": "no_object"}
        for row in np.flatnonzero(~ok).tolist():
            out[row] = unparsed
        for row in np.flatnonzero(ok & ~has).tolist():
            out[row] = no_object
        iou = self.iou
        iou_array = np.asarray(iou, dtype=np.float64)
        misses = np.flatnonzero(ok & has & (iou_array < fg))
        if errors.lookup is None:  # no instances: a miss's fields follow from its category alone
            categories = classify_without_instances(iou_array[misses], errors.thresholds)
            for category in np.unique(categories).tolist():
                rows = misses[categories == category].tolist()
                fields = errors.answer_fields(iou[rows[0]], None)
                for row in rows:
                    out[row] = fields
            misses = misses[:0]
        shared: dict[tuple, dict[str, Any]] = {}
        for row in misses.tolist():
            fields = errors.answer_fields(iou[row], self._other_ious(row))
            out[row] = fields if "error_iou_other" in fields else shared.setdefault(tuple(fields.items()), fields)
        if self.res is not None:
            self.res.answers = None  # compared: no longer needed
        return out

    def _other_ious(self, row: int) -> list[float] | None:
        if self.errors.lookup is None:
            return None
        image_id = self.cols.image_ids[row]
        if self.task == Task.REC:
            answer = self.answers.box[row].tolist()
            return self.errors.other_ious(image_id, None, self.cols.boxes[row].tolist(), answer)
        assert self.res is not None and self.res.answers is not None and self.cols.masks is not None
        return self.errors.other_ious(image_id, None, self.cols.masks[row], self.res.answers[row])

    def state(self) -> ColumnState:
        """What the metric's `update` would have built from every sample's record."""
        n, iou = len(self.cols), self.iou
        if self.task == Task.REC:
            fields: dict[str, list[Any]] = {key: [v >= t for v in iou] for key, t in _HIT_KEYS}
            fields["iou"] = iou
            task_counts = {"n_box_from_mask": int(self.answers.box_from_mask.sum())}
        else:
            assert self.res is not None
            fields = {"iou": iou, "intersection": self.inter, "union": self.union}
            task_counts = {"n_mask_size_mismatch": len(self.res.mismatch)}
        ok, has = self.answered, self.has_object
        outcomes: Counter[str] = Counter(n_samples=n)
        outcomes["n_predicted"] = int(ok.sum())
        outcomes["n_no_object"] = int((ok & ~has).sum())
        outcomes["n_with_scores"] = int((ok & has & self.answers.scored).sum())
        outcomes.update(_OUTCOME[s] for s in self.status if s != _OK)
        if self.errors is None:
            return ColumnState(n, fields, outcomes, task_counts=task_counts)
        categories: Counter[str] = Counter(f["error"] for f in self.error_fields if f is not None)
        n_without = sum(1 for f in self.error_fields if f is not None and "error_instances" in f)
        return ColumnState(n, fields, outcomes, categories, n_without, task_counts)

    def record(self, row: int) -> dict[str, Any]:
        """Sample `row`'s per-sample record, as the metric's `update` writes it."""
        return next(self._records(row, row + 1))

    def records(self) -> Iterator[dict[str, Any]]:
        """`record` of every row, in order."""
        for lo in range(0, len(self.cols), _RECORD_BLOCK):
            yield from self._records(lo, min(lo + _RECORD_BLOCK, len(self.cols)))

    def _records(self, lo: int, hi: int) -> Iterator[dict[str, Any]]:
        """The records of rows lo..hi-1, built from the columns a block at a time (a row's
        lookups in numpy arrays cost more than the rest of its record)."""
        a, rec_task = self.answers, self.task == Task.REC
        mismatch = self.res.mismatch if self.res is not None else {}
        rows = range(lo, hi)
        has_line, error_fields = a.has_line[lo:hi].tolist(), self.error_fields[lo:hi]
        if rec_task:
            from_mask, has, boxes = a.box_from_mask[lo:hi].tolist(), self.has_object[lo:hi].tolist(), a.box[lo:hi].tolist()
        for k, row in enumerate(rows):
            rec: dict[str, Any] = {"sample_id": self.cols.ids[row], "status": self.status[row]}
            if not has_line[k]:
                rec["reason"] = self.missing_reason
            elif row in a.reason:
                rec["reason"] = a.reason[row]
            v = self.iou[row]
            if rec_task:
                if from_mask[k]:
                    rec["box_from_mask"] = True
                rec["iou"] = v
                for key, t in _HIT_KEYS:
                    rec[key] = v >= t
                if has[k]:
                    rec["pred_bbox"] = boxes[k]
            else:
                if row in mismatch:
                    msg = f"predicted mask size {mismatch[row]} differs from ground truth size {self.cols.sizes[row].tolist()}"
                    rec["reason"] = f"{rec['reason']}; {msg}" if "reason" in rec else msg
                rec["iou"], rec["intersection"], rec["union"] = v, self.inter[row], self.union[row]
            if error_fields[k] is not None:
                rec.update(error_fields[k])
            yield rec

    def selection(self, errors: dict[str, Any] | None, n_worst: int) -> SampleSelection:
        """`SampleSelection.of_records(self.records(), errors, n_worst)`, from the columns:
        stable sorts of the IoU column, records made for the picked rows only."""
        # imported here: only a report asks, and `--no-report` does not pay for the import
        from padt_eval.report.errors_view import DRAWN_QUERY_CATEGORIES, N_PER_CATEGORY, is_query_errors
        from padt_eval.report.sample_selection import FAILED_STATUSES, LOWEST_IOU, MAX_FAILURES, SampleSelection

        iou = np.asarray(self.iou, dtype=np.float64)
        rows = np.arange(len(iou))
        status = np.asarray(self.status)
        answered = rows[self.answered]
        pool = answered if len(answered) else rows
        worst = pool[np.argsort(iou[pool], kind="stable")][: max(n_worst, 0)]
        all_failed = rows[np.isin(status, FAILED_STATUSES)]
        failed = all_failed[:MAX_FAILURES].tolist()
        drawn = [*worst.tolist(), *failed]
        by_category = {}
        if errors and is_query_errors(errors):
            category = np.asarray([f["error"] if f is not None else None for f in self.error_fields], dtype=object)
            for c in DRAWN_QUERY_CATEGORIES:
                members = rows[category == c]
                lowest = members[np.argsort(iou[members], kind="stable")][:N_PER_CATEGORY].tolist()
                by_category[c] = [self.record(r) for r in lowest]
                drawn += lowest
        offset = self.answers.offset
        return SampleSelection(
            worst=[self.record(r) for r in worst.tolist()],
            how=LOWEST_IOU,
            by_category=by_category,
            failures=[self.record(r) for r in failed],
            n_failures=len(all_failed),
            ious=list(self.iou),
            n=len(iou),
            line_offsets={self.cols.ids[r]: offset[r] for r in drawn if offset[r] >= 0},
        )


_OUTCOME = {"missing": "n_missing", "failed": "n_parse_failed", "error": "n_error"}
_RECORD_BLOCK = 4096  # rows whose records `ColumnarScore.records` builds together


def score_columns(task: Task, reader: SplitReader, metric: Any, path: Path, strict: bool) -> ColumnarScore | None:
    """Score the file as columns, or None where the object path must (module docstring).
    Nothing is written and the metric is not touched: `ColumnarScore.state` and
    `records` are the caller's to use."""
    if type(metric) not in (RecMetric, ResMetric) or metric.task != task:
        return None
    errors = metric.error_counts
    cols = read_query_columns(reader, task)
    if cols is None:
        return None
    read = _read_predictions(task, cols, path, strict, keep_answers=errors is not None and errors.lookup is not None)
    if read is None:
        return None
    answers, predictions, res = read
    has_object, iou, gt_area = _ious(task, cols, answers, res)
    if not all(math.isfinite(v) for v in iou):
        return None  # the object path's metric names the sample
    return ColumnarScore(
        task, cols, answers, predictions, iou, has_object, f"no line for this sample in {path.name}", res, gt_area, errors
    )


def _plain_box(o: dict) -> list[float] | None:
    """The box of a plain answer object, else None: a box of four floats with a finite sum
    (each then finite: `_box_ok`), a float score or none, a string label or none. Such an
    object passes every check `_read_line` makes of it."""
    bbox, score, label = o.get("bbox"), o.get("score"), o.get("label")
    if type(bbox) is not list or len(bbox) != 4 or (label is not None and type(label) is not str):
        return None
    if score is not None and (type(score) is not float or not math.isfinite(score)):
        return None
    x1, y1, x2, y2 = bbox
    if type(x1) is float and type(y1) is float and type(x2) is float and type(y2) is float and math.isfinite(x1 + y1 + x2 + y2):
        return bbox
    return None


def _read_predictions(
    task: Task, cols: QueryColumns, path: Path, strict: bool, keep_answers: bool
) -> tuple[Answers, ColumnarPredictions, _ResAreas | None] | None:
    row_of = {sid: i for i, sid in enumerate(cols.ids)}
    answers = Answers(len(cols))
    seen = [False] * len(cols)  # rows that had a line (a second line for one is a duplicate)
    unknown: list[tuple[str, int]] = []
    unknown_ids: set[str] = set()
    res = _ResAreas(cols, keep_answers) if task == Task.RES else None
    is_res = res is not None
    block_rows: list[int] = []
    block_masks: list[dict | None] = []  # RES: each line's answer mask
    block_checked: list[Any] = []  # RES: every mask of the block's lines (each is checked, as the object path does)
    block_at: list[int] = []  # RES: where each line's answer mask is in block_checked (-1: none)
    n_lines = 0
    # bound once: the plain-line branch below runs for nearly every line
    status, line_rows, unscored, reasons = answers.status, answers.line_rows, answers.unscored_rows, answers.reason
    box_rows, box_values, key_rows, key_boxes = answers.box_rows, answers.box_values, answers.key_rows, answers.key_boxes

    def flush() -> bool:
        if res is not None and block_rows:
            whys, areas = rlemod.checked(block_checked)
            if not all(why is None for why in whys):
                return False
            # index -1 (no answer mask) picks the -1 appended: an unknown area
            res.add(block_rows, [status[r] for r in block_rows], block_masks, np.append(areas, -1)[block_at].tolist())
        block_rows.clear()
        block_masks.clear()
        block_checked.clear()
        block_at.clear()
        return True

    def queue(row: int, answer: dict | None, masks: list[Any]) -> bool:
        """RES: a line's answer mask, and every mask of the line (each is checked), into the
        block; False when the block, scored once full, has a mask the object path must name."""
        block_at.append(next((len(block_checked) + j for j, m in enumerate(masks) if m is answer), -1))
        block_rows.append(row)
        block_masks.append(answer)
        block_checked.extend(masks)
        return len(block_rows) < _BLOCK or flush()

    offset, offsets = 0, answers.offset
    with open(path, "rb") as f:
        for line_index, raw in enumerate(f):
            at, offset = offset, offset + len(raw)
            if raw[:1] != b"{" and not raw.strip():  # a line that opens an object is not blank
                continue
            n_lines += 1
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None
            sid = obj.get("sample_id") if type(obj) is dict else None
            if type(sid) is int:
                sid = str(sid)
            if type(sid) is not str or not sid:
                return None  # a bad id: reported by the object path
            row = row_of.get(sid)
            if row is None:
                if sid in unknown_ids:
                    return None  # a duplicate: reported by the object path
                unknown_ids.add(sid)
                unknown.append((sid, line_index + 1))
                continue
            if seen[row]:
                return None
            seen[row] = True
            offsets[row] = at
            # The plain line (one object with a box of floats, status ok, no meta): what
            # `_read_line`, `_alarm_fields` and `Answers.add` make of it, written directly.
            objects = obj.get("objects")
            o = objects[0] if type(objects) is list and len(objects) == 1 else None
            text = obj.get("text")
            if (
                type(o) is dict
                and (text is None or type(text) is str)
                and not obj.get("meta")
                and obj.get("parse_status", _OK) == _OK
                and (bbox := _plain_box(o)) is not None
            ):
                status[row] = _OK
                line_rows.append(row)
                if o.get("score") is None:
                    unscored.append(row)
                reason = obj.get("parse_reason")
                if reason:
                    reasons[row] = reason
                key_rows.append(row)  # a one-box answer's alarm key is its box
                key_boxes.extend(bbox)
                if is_res:
                    mask = o.get("mask")
                    if not queue(row, mask, [] if mask is None else [mask]):
                        return None
                else:
                    box_rows.append(row)
                    box_values.append(bbox)
                continue
            line = _read_line(obj, task)
            alarm = _alarm_fields(obj, task) if line is not None else None
            if alarm is None:
                return None
            answers.add(row, line)
            answers.add_alarm_fields(row, *alarm)
            if is_res and not queue(row, line[5], [m for o in obj.get("objects", []) if (m := o.get("mask")) is not None]):
                return None
    if not flush() or (strict and unknown):
        return None
    return answers.finish(), ColumnarPredictions(path, n_lines, sum(seen) + len(unknown_ids), unknown), res


def _keep_alarm_masks(cols: QueryColumns) -> None:
    """Keep only the target masks the chance-level alarm reads (its seeded subset,
    `metrics/chance.py`, with `AlarmWatch`'s seed): the split's other masks, megabytes at
    50,000 samples, are freed once the IoUs are known."""
    if isinstance(cols.masks, TargetMasks):
        masks = cols.masks
        cols.masks = {i: masks[i] for i in chance.subset(len(cols), chance.RANDOM_SEED).tolist()}


def _ious(
    task: Task, cols: QueryColumns, answers: Answers, res: _ResAreas | None
) -> tuple[np.ndarray, list[float], list[int] | None]:
    """(has an object scored, per-sample IoU, RES: the targets' areas)."""
    if task == Task.RES:
        assert res is not None and isinstance(cols.masks, TargetMasks)
        gt_area = cols.masks.areas()
        if res.answers is None:  # no miss is compared with other instances: free the targets now (peak RSS)
            _keep_alarm_masks(cols)
        union = res.pred_area + gt_area - res.inter
        inter, union_l = res.inter.tolist(), union.tolist()
        iou = [i / u if u > 0 else 0.0 for i, u in zip(inter, union_l)]
        return res.has_mask, iou, gt_area.tolist()
    return answers.has_box, _box_ious(answers.box, cols.boxes, answers.has_box).tolist(), None


def _mx0(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0.0, v, 0.0)  # Python's max(0.0, v): 0.0 for -0.0 and NaN, as box_iou


def _box_ious(a: np.ndarray, b: np.ndarray, has: np.ndarray) -> np.ndarray:
    """`core.boxes.box_iou(a[i], b[i])` for every row with `has`, 0.0 elsewhere: the same
    operations in the same order (Python's min/max keep the first of equal values)."""
    iw = np.where(b[:, 2] < a[:, 2], b[:, 2], a[:, 2]) - np.where(b[:, 0] > a[:, 0], b[:, 0], a[:, 0])
    ih = np.where(b[:, 3] < a[:, 3], b[:, 3], a[:, 3]) - np.where(b[:, 1] > a[:, 1], b[:, 1], a[:, 1])
    inter = _mx0(iw) * _mx0(ih)
    union = _mx0(a[:, 2] - a[:, 0]) * _mx0(a[:, 3] - a[:, 1]) + _mx0(b[:, 2] - b[:, 0]) * _mx0(b[:, 3] - b[:, 1]) - inter
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.where(has, iou, 0.0)
