"""Fidelity to the families' own conversion code (issue 25, item 8).

Each family's expression is written here plainly, as its repository writes it, and
compared with the parser over every (side, value) pair or many random boxes.
"""

from __future__ import annotations

import math
import random

import numpy as np

from padt_eval.models.coords import FORMATS, Frame
from padt_eval.models.coords.ferret import ferret_pixel


def ferrets_own(v: int, side: int) -> int:
    # ml-ferret ferret/eval/eval_refexp.py: int(v * (W * 1.0 / VOCAB_IMAGE_W)) with VOCAB_IMAGE_W = 1000
    return int(v * (side * 1.0 / 1000))


def test_ferret_is_computed_in_ferrets_order_for_every_side_and_value():
    sides, values = range(1, 2049), range(0, 1001)
    mismatches = [(w, v) for w in sides for v in values if ferret_pixel(v, w) != ferrets_own(v, w)]
    assert mismatches == []
    # The test can tell the two orders apart: the one used before differs on 76 of the
    # 640,640 pairs of sides 1-640, e.g. W = 575, v = 840: 482 (Ferret) against 483.
    before = sum(math.trunc(v * w / 1000) != ferrets_own(v, w) for w in range(1, 641) for v in values)
    assert before == 76 and ferrets_own(840, 575) == 482 and math.trunc(840 * 575 / 1000) == 483


def test_ferret_parser_uses_it():
    r = FORMATS["ferret"].parse("the cup [840, 0, 1000, 1000]", Frame(575, 100))
    assert r.boxes[0].box == (482.0, 0.0, 575.0, 100.0)


def groundinggpts_own(answer: str, width: int, height: int) -> str:
    """GroundingGPT's `postprocess_output` + `postprocess_box` (lzw-lzw/GroundingGPT,
    lego/mm_utils.py), rewritten plainly: the answer text with each box re-expressed as
    0-1 fractions of the original image, to 3 decimals."""
    side = max(width, height)
    x1, y1, x2, y2 = (float(p.strip()) for p in answer.strip("[]").split(","))
    sq = [round(x1 * side), round(y1 * side), round(x2 * side), round(y2 * side)]
    if width > height:
        sq[1] -= (width - height) // 2
        sq[3] -= (width - height) // 2
    elif height > width:
        sq[0] -= (height - width) // 2
        sq[2] -= (height - width) // 2
    out = [round(sq[0] / width, 3), round(sq[1] / height, 3), round(sq[2] / width, 3), round(sq[3] / height, 3)]
    out = [np.clip(v, 0, 1) for v in out]
    return f"[{out[0]}, {out[1]}, {out[2]}, {out[3]}]"


def test_groundinggpt_reproduces_groundinggpts_rounding():
    rng = random.Random(25)
    worst_vs_shikra = 0.0
    for _ in range(3000):
        w, h = rng.randint(16, 1600), rng.randint(16, 1600)
        vals = sorted(round(rng.random(), 3) for _ in range(2)) + sorted(round(rng.random(), 3) for _ in range(2))
        answer = f"[{vals[0]}, {vals[2]}, {vals[1]}, {vals[3]}]"
        theirs = [float(v) for v in groundinggpts_own(answer, w, h).strip("[]").split(",")]
        expected = (theirs[0] * w, theirs[1] * h, theirs[2] * w, theirs[3] * h)
        got = FORMATS["groundinggpt"].parse(f"the cup {answer}", Frame(w, h)).boxes[0].box
        assert got == expected, (w, h, answer)
        shikra = FORMATS["shikra"].parse(f"the cup {answer}", Frame(w, h)).boxes[0].box
        worst_vs_shikra = max(worst_vs_shikra, *(abs(a - b) for a, b in zip(got, shikra)))
    # Read as Shikra, the same text lands up to about a pixel and a third away.
    assert 1.0 < worst_vs_shikra < 1.34


def test_groundinggpt_worked_example():
    # 640x427: S = 640, pady = 106. y1 = 0.406 -> round(259.84) = 260 -> 154 -> 154/427 = 0.361 -> 154.147 px.
    got = FORMATS["groundinggpt"].parse("the man [0.312, 0.406, 0.555, 0.781]", Frame(640, 427)).boxes[0].box
    assert got == (0.312 * 640, 0.361 * 427, 0.555 * 640, 0.923 * 427)
