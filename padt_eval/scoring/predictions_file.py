"""Predictions files: JSONL, one line a sample, indexed by sample id and validated line by line.

Line format (docs/predictions.md):

    {"sample_id": "17", "text": "raw model output (optional)",
     "objects": [{"bbox": [x1, y1, x2, y2], "score": 0.9, "label": "cat", "mask": {"size": [h, w], "counts": "..."}}]}

`bbox` is in original-image pixels; `score`, `label`, `mask` are optional; files written
by padt-eval also carry `parse_status`, `parse_reason` and `meta`.

Problems are reported with file and line: malformed lines (bad JSON or bad fields),
duplicate sample ids (the first line wins), ids the split does not know. With
`strict=True` the first problem is fatal; otherwise they are counted, listed in the
results, and the affected samples score as misses.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from padt_eval.core import rle as rlemod
from padt_eval.core.answer_rule import answer_index
from padt_eval.core.boxes import is_finite_box
from padt_eval.core.errors import DataError
from padt_eval.core.filekind import require_regular_file
from padt_eval.core.jsonl import LineReader, first_offsets, iter_lines, parse_line
from padt_eval.core.types import ObjectPred, ParseStatus, Prediction

MAX_LISTED_PROBLEMS = 50


@dataclass
class Problem:
    kind: str  # malformed | duplicate | unknown_id
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


#: masks already judged by `rle.problems`: id(mask) -> (the mask, its problem or None)
MaskVerdicts = dict[int, tuple[Any, "str | None"]]
_NO_VERDICTS: MaskVerdicts = {}


def _mask_problem(mask: Any, verdicts: MaskVerdicts) -> str | None:
    known = verdicts.get(id(mask))
    return known[1] if known is not None and known[0] is mask else rlemod.problem(mask)


def _check_object(o: Any, i: int, verdicts: MaskVerdicts = _NO_VERDICTS, check_mask: bool = True) -> ObjectPred:
    if not isinstance(o, dict):
        raise ValueError(f"objects[{i}] must be an object, got {type(o).__name__}")
    bbox = o.get("bbox")
    if bbox is not None and not is_finite_box(bbox):
        raise ValueError(f"objects[{i}].bbox must be four finite numbers [x1, y1, x2, y2], got {bbox!r}")
    score = o.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score)):
        raise ValueError(f"objects[{i}].score must be a finite number, got {score!r}")
    label = o.get("label")
    if label is not None and not isinstance(label, str):
        raise ValueError(f"objects[{i}].label must be a string, got {label!r}")
    mask = o.get("mask")
    if bbox is None and mask is None:
        raise ValueError(f"objects[{i}] has neither a bbox nor a mask")
    return ObjectPred(
        bbox=[float(v) for v in bbox] if bbox is not None else None,
        score=float(score) if score is not None else None,
        label=label,
        mask=_checked_mask(mask, i, verdicts) if mask is not None and check_mask else None,
    )


def _checked_mask(mask: Any, i: int, verdicts: MaskVerdicts = _NO_VERDICTS) -> rlemod.RLE:
    why = _mask_problem(mask, verdicts)
    if why is not None:
        raise ValueError(f"objects[{i}].mask is not a valid COCO RLE {{'size': [h, w], 'counts': ...}}: {why}")
    return rlemod.normalise(mask)


def _sample_id(obj: Any) -> str:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    sid = obj.get("sample_id")
    if isinstance(sid, int) and not isinstance(sid, bool):
        sid = str(sid)
    if not isinstance(sid, str) or not sid:
        raise ValueError(f"'sample_id' must be a non-empty string, got {obj.get('sample_id')!r}")
    return sid


def prediction_from_line(obj: Any, verdicts: MaskVerdicts = _NO_VERDICTS, all_masks: bool = True) -> Prediction:
    """Validate one parsed line; ValueError says what is wrong with it. `verdicts`: its
    masks' RLE checks, when they were made for many lines at once (`mask_verdicts`).
    `all_masks` False (REC): only the mask REC can use is checked and kept, the answer's
    when it has no box (`answer_mask_only`); the others are never decoded or validated."""
    sid = _sample_id(obj)
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError("'text' must be a string")
    objects = obj.get("objects", [])
    if not isinstance(objects, list):
        raise ValueError("'objects' must be a list")
    status = obj.get("parse_status", ParseStatus.OK.value)
    try:
        status = ParseStatus(status)
    except ValueError:
        raise ValueError(f"'parse_status' must be one of {[s.value for s in ParseStatus]}, got {status!r}") from None
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise ValueError("'meta' must be an object")
    checked = [_check_object(o, i, verdicts, all_masks) for i, o in enumerate(objects)]
    if not all_masks:
        answer_mask_only(objects, checked, verdicts)
    return Prediction(
        sample_id=sid,
        text=text,
        objects=checked,
        parse_status=status,
        parse_reason=obj.get("parse_reason"),
        meta=meta,
    )


def answer_mask_only(raw: list[Any], checked: list[ObjectPred], verdicts: MaskVerdicts = _NO_VERDICTS) -> None:
    """REC: the answer's mask, checked and kept when the answer has no box (REC scores
    the mask's tight box then); no other mask of the line is looked at."""
    i = answer_index([o.score for o in checked])
    if i is not None and checked[i].bbox is None:
        checked[i].mask = _checked_mask(raw[i]["mask"], i, verdicts)


def mask_verdicts(objs: list[Any]) -> MaskVerdicts:
    """The RLE check of every mask of these parsed lines, made in one `rle.problems` call.
    The lines are untrusted: what is not where a mask would be is left to `_check_object`."""
    masks = []
    for obj in objs:
        objects = obj.get("objects") if type(obj) is dict else None
        if type(objects) is list:
            for o in objects:
                if type(o) is dict and o.get("mask") is not None:
                    masks.append(o["mask"])
    return {id(m): (m, why) for m, why in zip(masks, rlemod.problems(masks))}


class PredictionsFile:
    """An indexed predictions JSONL: validated once, then read line by line on demand."""

    def __init__(self, path: str | Path, strict: bool = False, all_masks: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self.all_masks = all_masks  # False for REC: see `prediction_from_line`
        require_regular_file(self.path, "predictions file")  # a FIFO or /dev/zero is named, never opened
        self.problem_counts: Counter[str] = Counter()
        self.problems: list[Problem] = []
        self._lines = LineReader(self.path)
        self.n_lines = 0
        # Line numbers of the indexed lines, recorded in the one pass: offsets grow with the
        # line number, so a problem found later finds its line by bisection, not by
        # re-reading the file up to the offset (quadratic over many unknown ids).
        self._line_offsets = array("q")
        self._line_numbers = array("q")
        # The index pass only needs each line's id: a line that is not JSON, or has no
        # usable id, is reported here; the rest of a line is checked when it is served
        # (`get`), so each line is validated once.
        self._index, duplicates = first_offsets(self._ids_and_offsets())
        for sid, offsets in duplicates.items():
            first, *others = (self._line_of(o) for o in offsets)
            for line in others:
                self._problem(
                    "duplicate",
                    f"{self.path}:{line}",
                    f"sample_id {sid!r} already appeared on line {first}; this line is ignored",
                )

    def _ids_and_offsets(self) -> Iterator[tuple[str, int]]:
        for line_index, offset, raw in iter_lines(self.path):
            self.n_lines += 1
            where = f"{self.path}:{line_index + 1}"
            try:
                obj = parse_line(raw, self.path, line_index)
                sid = _sample_id(obj)
            except DataError as exc:
                self._problem("malformed", where, str(exc).split(": ", 1)[-1])
                continue
            except ValueError as exc:
                self._problem("malformed", where, str(exc))
                continue
            self._line_offsets.append(offset)
            self._line_numbers.append(line_index + 1)
            yield sid, offset

    def _line_of(self, offset: int) -> int:
        """The 1-based line number of the indexed line starting at `offset`."""
        return self._line_numbers[bisect_left(self._line_offsets, offset)]

    def _problem(self, kind: str, where: str, message: str) -> None:
        problem = Problem(kind, where, message)
        if self.strict:
            raise DataError(f"{problem} (--strict)")
        self.problem_counts[kind] += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(problem)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def get(self, sample_id: str) -> Prediction | None:
        """The prediction for `sample_id`; None when the file has no usable line for it
        (no line, or a malformed one, which is then reported with its line number)."""
        offset = self._index.get(sample_id)
        if offset is None:
            return None
        try:
            return prediction_from_line(orjson.loads(self._lines.read_at(offset)), all_masks=self.all_masks)
        except ValueError as exc:
            self._problem("malformed", f"{self.path}:{self._line_of(offset)}", str(exc))
            return None

    def get_many(self, sample_ids: Sequence[str]) -> list[Prediction | None]:
        """`[self.get(i) for i in sample_ids]`, problems reported in the same order, with
        the masks of all these lines checked at once."""
        offsets = [self._index.get(sid) for sid in sample_ids]
        objs = [orjson.loads(self._lines.read_at(o)) if o is not None else None for o in offsets]
        verdicts = mask_verdicts(objs) if self.all_masks else _NO_VERDICTS
        out: list[Prediction | None] = []
        for offset, obj in zip(offsets, objs):
            if offset is None:
                out.append(None)
                continue
            try:
                out.append(prediction_from_line(obj, verdicts, self.all_masks))
            except ValueError as exc:
                self._problem("malformed", f"{self.path}:{self._line_of(offset)}", str(exc))
                out.append(None)
        return out

    def check_ids(self, split_ids: Container[str]) -> None:
        """Report lines whose sample_id the split does not have."""
        for sid, offset in self._index.items():
            if sid not in split_ids:
                self._problem("unknown_id", f"{self.path}:{self._line_of(offset)}", f"sample_id {sid!r} is not in the split")

    def summary(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "lines": self.n_lines,
            "distinct_ids": len(self),
            "problems": {k: int(v) for k, v in sorted(self.problem_counts.items())},
            "first_problems": [str(p) for p in self.problems],
        }
