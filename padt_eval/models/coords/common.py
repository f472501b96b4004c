"""What every coordinate-text parser shares: the frame it converts into, its result, box hygiene.

A parser is a pure function `parse(text, frame) -> ParseResult`. `frame` holds the image's
original size (and, for formats written in model-input pixels, the input size the
processor produced); it cannot hold ground truth, so a parser cannot choose between
readings by looking at the answer. Each family's frame is fixed by the family, never
guessed from the size of the numbers.

Hygiene applied to every box (docs/reference/baselines.md §4.3): reversed corners are swapped, the box is
clipped to the image, non-finite numbers are rejected. Numbers are read with `float()`,
so `086` is 86 (decimal, never octal).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from padt_eval.core.types import ParseStatus

# A number as models write it: integer, decimal, optional sign and exponent.
NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# `[a, b, c, d]`: four numbers in square brackets, any spacing.
LIST4 = re.compile(r"\[\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*,\s*(" + NUM + r")\s*\]")


@dataclass(frozen=True)
class Frame:
    """The image a parser converts into: original size, plus the model-input size for
    formats written in input pixels (Qwen2.5-VL's resized image)."""

    width: int
    height: int
    input_width: int | None = None
    input_height: int | None = None


@dataclass(frozen=True)
class TextBox:
    """One box read from text, already in original-image pixels (xyxy, swapped, clipped)."""

    box: tuple[float, float, float, float]
    label: str | None
    span: tuple[int, int]  # characters of the coordinate text in the parsed string
    raw: tuple[float, ...]  # the numbers as written, for the audit trail
    polygons: tuple[tuple[float, ...], ...] | None = None  # a mask as polygons (Florence-2 RES), pixels


@dataclass(frozen=True)
class ParseResult:
    """Every box found, in output order, with the parse outcome.

    `status` is OK when the text was read (it may hold no box: "None" is an answer), FAILED
    when box syntax was started but no box could be completed (a cut-off output). `reason`
    explains a failure or notes what was dropped. `notes` holds parser details (the answer
    region of the JSON formats).
    """

    boxes: tuple[TextBox, ...]
    status: ParseStatus
    reason: str | None
    notes: dict = field(default_factory=dict)


def to_float(s: str) -> float | None:
    """A decimal number, or None when it is not finite (`1e999`)."""
    try:
        v = float(s)
    except (ValueError, OverflowError):
        return None
    return v if math.isfinite(v) else None


def finish_box(x1: float, y1: float, x2: float, y2: float, frame: Frame) -> tuple[float, float, float, float] | None:
    """Swap reversed corners and clip to the image; None if any value is not finite."""
    vals = (x1, y1, x2, y2)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
        return None
    if x1 > x2:
        x1, x2 = x2, x1
    if y1 > y2:
        y1, y2 = y2, y1
    w, h = float(frame.width), float(frame.height)
    return (
        min(max(float(x1), 0.0), w),
        min(max(float(y1), 0.0), h),
        min(max(float(x2), 0.0), w),
        min(max(float(y2), 0.0), h),
    )


def numbers(groups: tuple[str, ...] | list[str]) -> tuple[float, ...] | None:
    vals = tuple(to_float(g) for g in groups)
    return None if any(v is None for v in vals) else vals  # type: ignore[return-value]


def make_result(boxes: list[TextBox], problems: list[str], **notes) -> ParseResult:
    """OK with boxes; FAILED when nothing was read but something was started; OK-empty otherwise."""
    problems = list(dict.fromkeys(problems))  # keep order, drop repeats
    if boxes:
        status, reason = ParseStatus.OK, ("; ".join(problems) or None)
    elif problems:
        status, reason = ParseStatus.FAILED, "; ".join(problems)
    else:
        status, reason = ParseStatus.OK, "no box in the output"
    return ParseResult(tuple(boxes), status, reason, notes)


def failed(reason: str) -> ParseResult:
    return ParseResult((), ParseStatus.FAILED, reason)


def extend_over_brackets(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a coordinate span over the brackets that wrap it, `([..])` or `[[..]]`, so the
    next phrase starts after them."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    while True:
        s = start
        while s > 0 and text[s - 1] in " \t":
            s -= 1
        e = end
        while e < len(text) and text[e] in " \t":
            e += 1
        if s > 0 and e < len(text) and text[s - 1] in pairs and pairs[text[s - 1]] == text[e]:
            start, end = s - 1, e + 1
        else:
            return start, end


# Words that open a noun phrase; a label read from prose starts at the first of them.
_DETERMINERS = frozenset(
    "a an the this that these those some several many two three four five six seven eight nine ten "
    "his her their its my our your another each every one".split()
)
_CLAUSE_BREAK = re.compile(r"[.;:!?\n,()\[\]{}]")
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)


def phrase_before(text: str, start: int, floor: int) -> str | None:
    """The phrase a coordinate group at `start` grounds, read from the prose before it.

    Rule (documented in docs/baselines.md): take the text since `floor` (the end of the
    previous box or tag), keep what follows the last clause break (`. , ; : ! ?`,
    brackets, newline), and start at its first determiner when it has one ("is sitting on
    the wooden table" -> "the wooden table"). Returns None when nothing is left.
    """
    seg = text[max(0, floor) : max(0, start)]
    parts = _CLAUSE_BREAK.split(seg)
    seg = parts[-1] if parts else ""
    words = list(_WORD.finditer(seg))
    if not words:
        return None
    for i, w in enumerate(words):
        if w.group(0).lower() in _DETERMINERS and i < len(words) - 1:
            seg = seg[w.start() :]
            break
    label = " ".join(seg.split()).strip(" \"'`*")
    return label or None
