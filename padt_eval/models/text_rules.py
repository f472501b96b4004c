"""Task rules: from one family's parsed text to the `Prediction` a task scores.

The parser finds every box; the task decides which count (documented in docs/baselines.md):

* REC / RES: the suite's one answer rule (`core/answer_rule.py`), applied to the parsed
  boxes before any confidence is attached: coordinate text has no confidence of its own,
  so it is the **first** box in output order. Kosmos-2's and Ferret's "max over the first
  k" scorers with k = 1 reduce to the same. Only that box is written to `objects` (the
  others are counted in `meta`), so a derived confidence can never reorder it. A RES
  answer from a box-only format has no mask and scores as an empty mask; Florence-2's
  polygon output (`parse_masks`) becomes a mask.
* OVD, GREC, GRES: every box, with its label and (when the adapter generated the text) its
  confidence; a reply read with no box is GREC/GRES's "no target" (tasks/no_target.py).
* RIC: every grounded box, labelled with its phrase, and in `meta["caption"]` the caption
  the RIC metric will score: the text cleaned by `metrics.caption_text.clean_caption`, the
  one cleaning function of the suite (box syntax and reasoning removed).

A parser that raises (a bug) must not crash a run: the sample becomes a FAILED parse
whose reason names the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from padt_eval.core import rle as rlemod
from padt_eval.core.answer_rule import ANSWER_RULE, answer_index
from padt_eval.core.caption_text import clean_caption
from padt_eval.core.types import ObjectPred, ParseStatus, Prediction, Task
from padt_eval.models.coords import Frame, ParseResult, TextFormat

ScoreOf = Callable[[tuple[int, int]], "float | None"]
_MASK_TASKS = (Task.RES, Task.GRES)


def parse_safely(fmt: TextFormat, text: str, frame: Frame, task: Task) -> ParseResult:
    parse = fmt.parse_masks if (task in _MASK_TASKS and fmt.parse_masks is not None) else fmt.parse
    try:
        return parse(text, frame)
    except Exception as exc:  # noqa: BLE001 - a parser bug is this sample's failure, not the run's
        return ParseResult((), ParseStatus.FAILED, f"parser error ({type(exc).__name__}: {exc})")


def prediction_from_text(
    sample_id: str,
    task: Task,
    text: str,
    fmt: TextFormat,
    frame: Frame,
    *,
    score_of: ScoreOf | None = None,
    meta: dict[str, Any] | None = None,
) -> Prediction:
    """Parse `text` in `fmt`'s frame and apply `task`'s rule. `score_of(span)` gives the
    confidence of the box whose coordinate text spans `span` (None: no score)."""
    result = parse_safely(fmt, text, frame, task)
    out_meta: dict[str, Any] = dict(meta or {})
    out_meta.update(format=fmt.name, n_boxes_parsed=len(result.boxes))
    if frame.input_width is not None:
        out_meta["input_size"] = [frame.input_width, frame.input_height]
    objects: list[ObjectPred] = []
    boxes = list(result.boxes)
    if task in (Task.REC, Task.RES) and boxes:
        # The parsed boxes carry no producer score: the rule keeps the first (module doc).
        boxes = [boxes[answer_index([None] * len(boxes))]]
        out_meta["selection"] = ANSWER_RULE
    for b in boxes:
        score = score_of(b.span) if score_of is not None else None
        mask = None
        if task in _MASK_TASKS and b.polygons:
            mask = rlemod.from_polygons([list(p) for p in b.polygons], frame.height, frame.width)
        objects.append(ObjectPred(bbox=[float(v) for v in b.box], score=score, label=b.label, mask=mask))
    status = result.status
    if task == Task.RIC:
        out_meta["caption"] = clean_caption(text)
        if status == ParseStatus.FAILED and out_meta["caption"]:
            status = ParseStatus.OK  # the caption stands even if a box at its end was cut off
    return Prediction(
        sample_id=sample_id,
        text=text,
        objects=objects,
        parse_status=status,
        parse_reason=result.reason,
        meta=out_meta,
    )
