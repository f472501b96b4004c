"""Ferret: `phrase [x1, y1, x2, y2]`, integers on a virtual 1000x1000 image.

Ferret resizes to 336x336 without padding and is told the image is 1000x1000 (docs/reference/baselines.md
§2.10). Its own scorer converts with `int(v · W / 1000)`, truncating to whole pixels; we do
the same, so our numbers are Ferret's numbers (the truncation moves a box by under one
pixel). Several lists may follow one phrase; each box takes the phrase before it.
"""

from __future__ import annotations

import math

from padt_eval.models.coords.common import (
    LIST4,
    Frame,
    ParseResult,
    TextBox,
    extend_over_brackets,
    finish_box,
    make_result,
    numbers,
    phrase_before,
)


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    floor = 0
    label: str | None = None
    w, h = frame.width, frame.height
    for m in LIST4.finditer(text):
        raw = numbers(m.groups())
        s, e = extend_over_brackets(text, m.start(), m.end())
        gap = text[floor:s]
        if gap.strip(" ,") or label is None:
            label = phrase_before(text, s, floor)
        box = None
        if raw is not None:
            try:
                box = finish_box(
                    math.trunc(raw[0] * w / 1000),
                    math.trunc(raw[1] * h / 1000),
                    math.trunc(raw[2] * w / 1000),
                    math.trunc(raw[3] * h / 1000),
                    frame,
                )
            except (OverflowError, ValueError):
                box = None
        if box is None:
            problems.append("a box with a non-finite number was dropped")
        else:
            boxes.append(TextBox(box, label, m.span(), raw))
        floor = e
    return make_result(boxes, problems)
