"""The JSON box syntax of Qwen2.5-VL, VLM-R1 and Qwen3-VL: `{"bbox_2d": [x1, y1, x2, y2], "label": "..."}`.

Read with a scanner rather than `json.loads`, because model output is often not JSON: prose
around it, ```json fences, `<think>`/`<answer>` tags, single quotes (Python literals), and
lists cut off at `max_new_tokens`. The scanner gives the same boxes as `json.loads` on
well-formed output, in the same order, plus the character span of every box (for the
box's token confidence and for caption cleaning).

Rules, in order (docs/reference/baselines.md §2.1 "regex-level spec"):
1. Region: the first `<answer>…</answer>` when present (to the end when unclosed); with
   `require_answer` (VLM-R1) no answer tag means a failed parse, as in VLM-R1's own
   scorer. Otherwise the text after the last `</think>`; an unclosed `<think>` means the
   output was cut off while thinking.
2. Every `"bbox_2d": [n, n, n, n]` in the region, with the `"label"` of the same object.
   Truncation repair as in the Qwen cookbook: only complete objects count, so an object
   whose closing `}` never came is dropped (the cookbook cuts after the last `"}` and
   closes the list).
3. When the region has no `bbox_2d` key at all: every bare `[n, n, n, n]`, labelled by the
   phrase before it (the grounded-caption form `a cat ([x1, y1, x2, y2])`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from padt_eval.models.coords.common import (
    LIST4,
    NUM,
    Frame,
    ParseResult,
    TextBox,
    extend_over_brackets,
    finish_box,
    make_result,
    numbers,
    phrase_before,
)

Convert = Callable[[tuple[float, ...], Frame], tuple[float, float, float, float]]

_BBOX = re.compile(
    r"""["']bbox_2d["']\s*:\s*\[\s*(""" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*\]"
)
_BBOX_KEY = re.compile(r"""["']bbox_2d["']""")
_LABEL = re.compile(r""""label"\s*:\s*"((?:[^"\\]|\\.)*)"|'label'\s*:\s*'((?:[^'\\]|\\.)*)'""")
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)


def answer_region(text: str, require_answer: bool) -> tuple[int, int, list[str]]:
    """[start, end) of the part of `text` that holds the answer, and what is wrong with it."""
    m = _ANSWER_OPEN.search(text)
    if m is not None:
        c = _ANSWER_CLOSE.search(text, m.end())
        if c is None:
            return m.end(), len(text), ["<answer> is not closed (output cut off?)"]
        return m.end(), c.start(), []
    if require_answer:
        return 0, 0, ["no <answer>…</answer> in the output"]
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        return closes[-1].end(), len(text), []
    if _THINK_OPEN.search(text):
        return 0, 0, ["the output ends inside <think> (cut off?)"]
    return 0, len(text), []


def _unescape(s: str) -> str:
    try:
        return json.loads('"' + s + '"')
    except ValueError:
        return s


def _enclosing_objects(text: str, start: int, end: int, positions: list[int]) -> dict[int, tuple[int, int] | None]:
    """For each position, the innermost `{…}` around it: (open, close), (open, -1) when that
    object is never closed, or None when the position is outside any object."""
    opens: list[int] = []
    inner_at: dict[int, int | None] = {}
    closed: dict[int, int] = {}
    events = sorted(
        [(p, 1) for p in positions] + [(m.start(), 0) for m in re.finditer(r"[{}]", text[start:end])], key=lambda e: e[0]
    )
    for pos, kind in events:
        if kind == 1:
            inner_at[pos] = opens[-1] if opens else None
            continue
        ch = text[start + pos]
        if ch == "{":
            opens.append(pos)
        elif opens:
            closed[opens.pop()] = pos
    result: dict[int, tuple[int, int] | None] = {p: (None if o is None else (o, closed.get(o, -1))) for p, o in inner_at.items()}
    return result


def _cut_off(region: str) -> bool:
    """Whether a `{` or a ```` ``` ```` fence is still open at the end of the region."""
    depth = 0
    for ch in re.findall(r"[{}]", region):
        depth = depth + 1 if ch == "{" else max(0, depth - 1)
    return depth > 0 or region.count("```") % 2 == 1


def scan_json_boxes(text: str, frame: Frame, convert: Convert, *, require_answer: bool = False) -> ParseResult:
    start, end, problems = answer_region(text, require_answer)
    region = text[start:end]
    boxes: list[TextBox] = []
    matches = list(_BBOX.finditer(region))
    if matches:
        objects = _enclosing_objects(text, start, end, [m.start() for m in matches])
        labels: dict[tuple[int, int], str | None] = {}
        for m in matches:
            obj = objects[m.start()]
            if obj is not None and obj[1] < 0:
                problems.append("an incomplete JSON object was dropped (output cut off?)")
                continue
            raw = numbers(m.groups())
            box = finish_box(*convert(raw, frame), frame) if raw is not None else None
            if box is None:
                problems.append("a bbox_2d with a non-finite number was dropped")
                continue
            label = None
            if obj is not None:
                if obj not in labels:  # once per object: many boxes in one object would rescan it
                    lm = _LABEL.search(region, obj[0], obj[1])
                    labels[obj] = None if lm is None else _unescape(lm.group(1)) if lm.group(1) is not None else lm.group(2)
                label = labels[obj]
            # the coordinate list `[x1, y1, x2, y2]` (as for a bare list), not the "bbox_2d" key:
            # the box's confidence is read from the tokens of its coordinates
            span = (start + region.rindex("[", m.start(), m.start(1)), start + m.end())
            boxes.append(TextBox(box, label, span, raw))
    elif _BBOX_KEY.search(region):
        problems.append("a bbox_2d without four numbers")
    else:
        floor = 0
        for m in LIST4.finditer(region):
            raw = numbers(m.groups())
            box = finish_box(*convert(raw, frame), frame) if raw is not None else None
            if box is None:
                problems.append("a box with a non-finite number was dropped")
                continue
            s, e = extend_over_brackets(region, m.start(), m.end())
            boxes.append(TextBox(box, phrase_before(region, s, floor), (start + m.start(), start + m.end()), raw))
            floor = e
    if _cut_off(region) and (matches or not boxes):
        problems.append("the JSON is cut off; only complete objects were kept")
    return make_result(boxes, problems, region=[start, end])
