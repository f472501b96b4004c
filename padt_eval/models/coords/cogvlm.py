"""CogVLM-grounding: `[[x0,y0,x1,y1]]`, relative x1000 zero-padded to three digits (0-999).

Several boxes share one double bracket, separated by `;` (`grounding_parser.py` splits on
`;` and does `int(v) / 1000`), docs/reference/baselines.md §2.11. `086` is 86: leading zeros are decimal.
A box is labelled by the phrase before its bracket (`The cups[[…]] are …`).
"""

from __future__ import annotations

import re

from padt_eval.models.coords.common import NUM, Frame, ParseResult, TextBox, finish_box, make_result, numbers, phrase_before

_BOX = re.compile(r"\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*")


def _groups(text: str):
    """(start, inner start, inner end, end) of every `[[…]]` with no `]` inside: the
    matches of `\\[\\[([^\\]]*)\\]\\]`, found in linear time (the expression rescans to
    the next `]` from every `[[`, quadratic on `[[[[…`)."""
    pos = 0
    while True:
        s = text.find("[[", pos)
        if s < 0:
            return
        close = text.find("]", s + 2)
        if close < 0:
            return  # no `]` left: no later `[[` can close either
        if text.startswith("]]", close):
            yield s, s + 2, close, close + 2
            pos = close + 2
        else:
            # Every `[[` before this `]` meets it first and fails the same way.
            pos = close + 1


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    floor = 0
    w, h = frame.width, frame.height
    for g_start, inner, inner_end, g_end in _groups(text):
        label = phrase_before(text, g_start, floor)
        offset = inner
        for part in text[inner:inner_end].split(";"):
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
        floor = g_end
    tail = text[floor:]
    if "[[" in tail:
        problems.append("an unclosed [[ (output cut off?)")
    return make_result(boxes, problems)
