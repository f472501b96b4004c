"""Kosmos-2: `<phrase>expr</phrase><object><patch_index_XXXX><patch_index_YYYY></object>`.

A box is a pair of cells of a 32x32 grid over the whole image: the upper-left and the
lower-right cell (index = row · 32 + column). Decoded as Kosmos-2's own
`patch_index_to_coordinate` does (unilm `decode_string.py`, copied by transformers),
docs/reference/baselines.md §2.6:
* corners in the same cell, row or column: the box spans the full cells,
  (ux·c, uy·c, lx·c + c, ly·c + c) with c = 1/32;
* otherwise it joins the cell centres, (ux·c + c/2, uy·c + c/2, lx·c + c/2, ly·c + c/2);
then x · W, y · H. Several boxes of one phrase are separated by
`</delimiter_of_multi_objects/>`. Indices outside 0-1023 are not boxes.
"""

from __future__ import annotations

import re

from padt_eval.models.coords.common import Frame, ParseResult, TextBox, finish_box, make_result

GRID = 32
_PAIR = re.compile(r"<patch_index_(\d+)>\s*<patch_index_(\d+)>")
_OBJECT = re.compile(r"(?:<phrase>([^<]*)</phrase>\s*)?<object>(.*?)(</object>|\Z)", re.DOTALL)


def patch_box(ul: int, lr: int) -> tuple[float, float, float, float]:
    """Normalised (0-1) box of an upper-left / lower-right cell pair."""
    c = 1.0 / GRID
    ux, uy = ul % GRID, ul // GRID
    lx, ly = lr % GRID, lr // GRID
    if ul == lr or ux == lx or uy == ly:
        return ux * c, uy * c, lx * c + c, ly * c + c
    return ux * c + c / 2, uy * c + c / 2, lx * c + c / 2, ly * c + c / 2


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    covered: list[tuple[int, int]] = []
    for o in _OBJECT.finditer(text):
        label = " ".join(o.group(1).split()) or None if o.group(1) is not None else None
        if not o.group(3):
            problems.append("<object> is not closed (output cut off?)")
        n = _read_pairs(text, o.start(2), o.end(2), label, frame, boxes, problems)
        if n == 0 and o.group(3):
            problems.append("an <object> without a patch-index pair")
        covered.append((o.start(2), o.end(2)))
    # Pairs outside any <object> (a text whose tags were stripped) still name a box.
    pos = 0
    for s, e in covered + [(len(text), len(text))]:
        _read_pairs(text, pos, s, None, frame, boxes, problems)
        pos = e
    boxes.sort(key=lambda b: b.span[0])
    return make_result(boxes, problems)


def _read_pairs(
    text: str, start: int, end: int, label: str | None, frame: Frame, boxes: list[TextBox], problems: list[str]
) -> int:
    n = 0
    for m in _PAIR.finditer(text, start, end):
        ul, lr = int(m.group(1)), int(m.group(2))
        if ul >= GRID * GRID or lr >= GRID * GRID:
            problems.append(f"a patch index outside 0-{GRID * GRID - 1}")
            continue
        x1, y1, x2, y2 = patch_box(ul, lr)
        box = finish_box(x1 * frame.width, y1 * frame.height, x2 * frame.width, y2 * frame.height, frame)
        if box is not None:
            boxes.append(TextBox(box, label, m.span(), (float(ul), float(lr))))
            n += 1
    return n
