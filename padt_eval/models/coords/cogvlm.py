"""CogVLM-grounding: `[[x0,y0,x1,y1]]`, relative x1000 zero-padded to three digits (0-999).

Several boxes share one double bracket, separated by `;` (`grounding_parser.py` splits on
`;` and does `int(v) / 1000`), docs/reference/baselines.md §2.11. `086` is 86: leading zeros are decimal.
A box is labelled by the phrase before its bracket (`The cups[[…]] are …`).
"""

from __future__ import annotations

import re

from padt_eval.models.coords.common import NUM, Frame, ParseResult, TextBox, finish_box, make_result, numbers, phrase_before

_GROUP = re.compile(r"\[\[([^\]]*)\]\]")
_BOX = re.compile(r"\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*")


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    floor = 0
    w, h = frame.width, frame.height
    for g in _GROUP.finditer(text):
        label = phrase_before(text, g.start(), floor)
        offset = g.start(1)
        for part in g.group(1).split(";"):
            m = _BOX.fullmatch(part)
            if m is None:
                problems.append("a [[…]] entry that is not four numbers")
            else:
                raw = numbers(m.groups())
                box = (
                    finish_box(raw[0] / 1000 * w, raw[1] / 1000 * h, raw[2] / 1000 * w, raw[3] / 1000 * h, frame) if raw else None
                )
                if box is None:
                    problems.append("a box with a non-finite number was dropped")
                else:
                    boxes.append(TextBox(box, label, (offset, offset + len(part)), raw))
            offset += len(part) + 1
        floor = g.end()
    tail = text[floor:]
    if "[[" in tail:
        problems.append("an unclosed [[ (output cut off?)")
    return make_result(boxes, problems)
