"""InternVL2.5 / InternVL3: `<ref>phrase</ref><box>[[x1, y1, x2, y2], …]</box>`, relative 0-1000.

InternVL's grounding scorer divides by 1000 and scales by the original size (docs/reference/baselines.md
§2.5); tiling does not matter because coordinates are relative to the whole image. Read,
in order of preference:
1. `<box>[[…], […]]</box>` groups, each box labelled by the `<ref>` just before its group;
2. JSON `bbox_2d` (InternVL3 answering PaDT's JSON prompt): still 0-1000, since that is
   InternVL's coordinate convention; the prompt changes the syntax, not the frame;
3. bare `[n, n, n, n]` lists (`[[312,406,555,781]]`), labelled by the phrase before them.

InternVL's own scorer divides by 1000 only when the four numbers sum to 4 or more, a
guess from the size of the numbers; we never guess, so 0-1 output is read as 0-1000.
"""

from __future__ import annotations

import re

from padt_eval.core.tagpairs import Floors, pairs
from padt_eval.models.coords.common import (
    LIST4,
    Frame,
    ParseResult,
    TextBox,
    finish_box,
    make_result,
    numbers,
)
from padt_eval.models.coords.jsonish import scan_json_boxes
from padt_eval.models.coords.qwen3_vl import per_mille

_BOX_GROUP = re.compile(r"<box>(.*?)(</box>|\Z)", re.DOTALL)
_REF = ("<ref>", "</ref>")


def _box_groups(text: str, frame: Frame) -> ParseResult | None:
    groups = list(_BOX_GROUP.finditer(text))
    if not groups:
        return None
    boxes: list[TextBox] = []
    problems: list[str] = []
    refs = list(pairs(text, *_REF))  # linear, where `<ref>(.*?)</ref>` was quadratic on unclosed tags
    recent_ref = Floors([(r[0], r[3]) for r in refs])
    prev_end = 0
    for g in groups:
        k = recent_ref.last_between(prev_end, g.start())
        label = " ".join(text[refs[k][1] : refs[k][2]].split()) or None if k is not None else None
        if not g.group(2):
            problems.append("<box> is not closed (output cut off?)")
        found = False
        for m in LIST4.finditer(text, g.start(1), g.end(1)):
            raw = numbers(m.groups())
            box = finish_box(*per_mille(raw, frame), frame) if raw is not None else None
            if box is None:
                problems.append("a box with a non-finite number was dropped")
                continue
            boxes.append(TextBox(box, label, m.span(), raw))
            found = True
        if not found and g.group(2):
            problems.append("a <box> without four numbers")
        prev_end = g.end()
    return make_result(boxes, problems)


def parse(text: str, frame: Frame) -> ParseResult:
    result = _box_groups(text, frame)
    if result is not None:
        return result
    # JSON bbox_2d, else bare [n, n, n, n] lists: both handled by the JSON scanner.
    return scan_json_boxes(text, frame, per_mille)
