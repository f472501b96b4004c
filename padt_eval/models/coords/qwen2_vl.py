"""Qwen2-VL: `<|object_ref_start|>phrase<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`, 0-1000.

The markers are special tokens, so a decoder run with `skip_special_tokens=True` (most
scripts, VLMEvalKit) leaves `phrase(x1,y1),(x2,y2)`; both forms are read (docs/reference/baselines.md
§2.4). Several boxes after one reference share its phrase. Coordinates are relative
0-1000 of the whole image: `x_px = x / 1000 · W`.
"""

from __future__ import annotations

import re

from padt_eval.core.tagpairs import Floors, pairs
from padt_eval.models.coords.common import NUM, Frame, ParseResult, TextBox, finish_box, make_result, numbers, phrase_before
from padt_eval.models.coords.qwen3_vl import per_mille

_BOX = re.compile(
    r"(?:<\|box_start\|>\s*)?\(\s*("
    + NUM
    + r")\s*,\s*("
    + NUM
    + r")\s*\)\s*,\s*\(\s*("
    + NUM
    + r")\s*,\s*("
    + NUM
    + r")\s*\)(?:\s*<\|box_end\|>)?"
)
_REF = ("<|object_ref_start|>", "<|object_ref_end|>")
_TAGS = re.compile(r"<\|(?:object_ref_start|object_ref_end|box_start|box_end|im_end|im_start|endoftext)\|>")


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    refs = list(pairs(text, *_REF))  # linear, where `<ref>(.*?)</ref>` was quadratic on unclosed tags
    recent_ref = Floors([(r[0], r[3]) for r in refs])
    untagged: str | None = None  # the text with its tags blanked, made once when needed
    floor = 0
    label: str | None = None
    for m in _BOX.finditer(text):
        # The reference written since the previous box names this one; none since: the
        # previous phrase still applies (several boxes after one reference).
        k = recent_ref.last_between(floor, m.start())
        if k is not None:
            label = " ".join(text[refs[k][1] : refs[k][2]].split()) or None
        elif not refs:
            if untagged is None:
                untagged = _TAGS.sub(lambda t: " " * len(t.group(0)), text)
            label = phrase_before(untagged, m.start(), floor) or label
        raw = numbers(m.groups())
        box = finish_box(*per_mille(raw, frame), frame) if raw is not None else None
        if box is None:
            problems.append("a box with a non-finite number was dropped")
        else:
            boxes.append(TextBox(box, label, m.span(), raw))
        floor = m.end()
    tail = text[floor:]
    if "<|box_start|>" in tail and "<|box_end|>" not in tail:
        problems.append("<|box_start|> without a complete (x1,y1),(x2,y2) (output cut off?)")
    return make_result(boxes, problems)
