"""Shikra: `[x1,y1,x2,y2]` with 3 decimals in 0-1, relative to the expand2square padded square.

Shikra pads the image to a centred square of side S = max(W, H) before encoding it, and
its boxes are normalised by that square (docs/reference/baselines.md §2.8): `x_px = x · S − padx`,
`y_px = y · S − pady`, with padx = (S − W) // 2 when H > W and pady = (S − H) // 2 when
W > H (LLaVA's `expand2square` integer offsets). Several boxes share one bracket, joined
by `;`. Shikra's own regex allows no spaces; we accept spaces (`[0.1, 0.2, 0.3, 0.4]`),
which cannot change a correctly formatted answer. A box is labelled by the phrase before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from padt_eval.models.coords.common import (
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

_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_GROUP = re.compile(r"\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*")


def padded_square(frame: Frame) -> tuple[int, int, int]:
    """(S, padx, pady) of LLaVA's expand2square for this image."""
    w, h = frame.width, frame.height
    if w == h:
        return w, 0, 0
    if w > h:
        return w, 0, (w - h) // 2
    return h, (h - w) // 2, 0


def _shikra_pixels(raw: tuple[float, ...], frame: Frame) -> tuple[float, float, float, float]:
    s, padx, pady = padded_square(frame)
    return raw[0] * s - padx, raw[1] * s - pady, raw[2] * s - padx, raw[3] * s - pady


def parse(text: str, frame: Frame) -> ParseResult:
    return parse_square_boxes(text, frame, _shikra_pixels)


def parse_square_boxes(
    text: str, frame: Frame, to_pixels: Callable[[tuple[float, ...], Frame], tuple[float, float, float, float]]
) -> ParseResult:
    """Shikra's syntax (0-1 numbers in brackets, `;` between boxes, the phrase before),
    converted to pixels by `to_pixels` (Shikra's, or GroundingGPT's rounding)."""
    boxes: list[TextBox] = []
    problems: list[str] = []
    floor = 0
    for b in _BRACKET.finditer(text):
        parts = b.group(1).split(";")
        offset = b.start(1)
        found = []
        for part in parts:
            m = _GROUP.fullmatch(part)
            if m is not None:
                raw = numbers(m.groups())
                if raw is None:
                    problems.append("a box with a non-finite number was dropped")
                else:
                    box = finish_box(*to_pixels(raw, frame), frame)
                    found.append((box, (offset, offset + len(part)), raw))
            offset += len(part) + 1
        if not found:
            continue
        start, end = extend_over_brackets(text, b.start(), b.end())
        label = phrase_before(text, start, floor)
        for box, span, raw in found:
            if box is not None:
                boxes.append(TextBox(box, label, span, raw))
        floor = end
    tail = text[floor:]
    if "[" in tail and "]" not in tail[tail.rfind("[") :] and re.search(r"\[\s*" + NUM, tail):
        problems.append("an unclosed [ with numbers (output cut off?)")
    return make_result(boxes, problems)
