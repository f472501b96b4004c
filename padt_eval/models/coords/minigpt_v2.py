"""MiniGPT-v2: `{<x1><y1><x2><y2>}`, integers 0-100 of the (unpadded) image.

MiniGPT-v2 resizes to 448x448 without padding and writes `int(v / size · 100)` (docs/reference/baselines.md
§2.9), so `x_px = x / 100 · W`. Grounded answers name the object in `<p>phrase</p>` and join
several boxes with `<delim>`. Its scorer strips `<unk>` and spaces first; spaces are
accepted here. A cut-off `{<31><40><55>` is a failed parse (MiniGPT-v2 re-asks or scores a
miss).
"""

from __future__ import annotations

import re

from padt_eval.core.tagpairs import Floors, pairs
from padt_eval.models.coords.common import NUM, Frame, ParseResult, TextBox, finish_box, make_result, numbers, phrase_before

_A = r"<\s*(" + NUM + r")\s*>\s*"
_BOX = re.compile(r"\{\s*" + _A * 4 + r"\}")
_PHRASE = ("<p>", "</p>")
_TAGS = re.compile(r"</?p>|<delim>|<unk>|</s>|<s>")
_PARTIAL = re.compile(r"\{\s*<\s*" + NUM)


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    phrases = list(pairs(text, *_PHRASE))  # linear, where `<p>(.*?)</p>` was quadratic on unclosed tags
    recent_phrase = Floors([(p[0], p[3]) for p in phrases])
    untagged: str | None = None  # the text with its tags blanked, made once when needed
    floor = 0
    label: str | None = None
    for m in _BOX.finditer(text):
        k = recent_phrase.last_between(floor, m.start())
        if k is not None:
            label = " ".join(text[phrases[k][1] : phrases[k][2]].split()) or None
        elif not phrases:
            gap = text[floor : m.start()]
            if gap.strip() not in ("", "<delim>"):
                if untagged is None:
                    untagged = _TAGS.sub(lambda t: " " * len(t.group(0)), text)
                label = phrase_before(untagged, m.start(), floor)
        raw = numbers(m.groups())
        if raw is None:
            problems.append("a box with a non-finite number was dropped")
        else:
            w, h = frame.width, frame.height
            box = finish_box(raw[0] / 100 * w, raw[1] / 100 * h, raw[2] / 100 * w, raw[3] / 100 * h, frame)
            if box is not None:
                boxes.append(TextBox(box, label, m.span(), raw))
        floor = m.end()
    if _PARTIAL.search(text, floor):
        problems.append("an incomplete {<x1><y1><x2><y2>} box (output cut off?)")
    return make_result(boxes, problems)
