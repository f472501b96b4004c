"""Ferret: `phrase [x1, y1, x2, y2]`, integers on a virtual 1000x1000 image.

Ferret resizes to 336x336 without padding and is told the image is 1000x1000 (docs/reference/baselines.md
§2.10). Its own scorer converts with `int(v * (W * 1.0 / 1000))`, truncating to whole
pixels; we compute that expression in that order (`ferret_pixel`), so our numbers are
Ferret's numbers: `trunc(v · W / 1000)` differs from it by one pixel for 76 of the
640,640 (side 1-640, value 0-1000) pairs, e.g. W = 575, v = 840 gives 482, not 483.
Several lists may follow one phrase; each box takes the phrase before it.
"""

from __future__ import annotations

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


def ferret_pixel(v: float, side: int) -> int:
    """Ferret's conversion of a 0-1000 coordinate, in its order of operations: the scale
    `side * 1.0 / 1000` first (rounded as a float), then the product, then `int`."""
    return int(v * (side * 1.0 / 1000))


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
                    ferret_pixel(raw[0], w), ferret_pixel(raw[1], h), ferret_pixel(raw[2], w), ferret_pixel(raw[3], h), frame
                )
            except (OverflowError, ValueError):
                box = None
        if box is None:
            problems.append("a box with a non-finite number was dropped")
        else:
            boxes.append(TextBox(box, label, m.span(), raw))
        floor = e
    return make_result(boxes, problems)
