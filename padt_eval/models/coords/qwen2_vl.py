"""Qwen2-VL: `<|object_ref_start|>phrase<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`, 0-1000.

The markers are special tokens, so a decoder run with `skip_special_tokens=True` (most
scripts, VLMEvalKit) leaves `phrase(x1,y1),(x2,y2)`; both forms are read (docs/reference/baselines.md
§2.4). Several boxes after one reference share its phrase. Coordinates are relative
0-1000 of the whole image: `x_px = x / 1000 · W`.
"""

from __future__ import annotations

import re

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
_REF = re.compile(r"<\|object_ref_start\|>(.*?)<\|object_ref_end\|>", re.DOTALL)
_TAGS = re.compile(r"<\|(?:object_ref_start|object_ref_end|box_start|box_end|im_end|im_start|endoftext)\|>")


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    refs = list(_REF.finditer(text))
    floor = 0
    label: str | None = None
    for m in _BOX.finditer(text):
        # The reference written since the previous box names this one; none since: the
        # previous phrase still applies (several boxes after one reference).
        recent = [r for r in refs if floor <= r.start() and r.end() <= m.start()]
        if recent:
            label = " ".join(recent[-1].group(1).split()) or None
        elif not refs:
            label = phrase_before(_TAGS.sub(lambda t: " " * len(t.group(0)), text), m.start(), floor) or label
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
