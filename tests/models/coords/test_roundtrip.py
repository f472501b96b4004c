"""Write a box the way each family writes it, parse it back: the error stays within the
family's quantisation, for any image size (every family is read in its own frame)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from padt_eval.core.types import ParseStatus
from padt_eval.models.coords import FORMATS
from padt_eval.models.coords.qwen2_5_vl import input_frame

from .writers import WRITERS


def test_every_format_has_a_writer():
    assert set(WRITERS) == set(FORMATS)


@st.composite
def frame_and_box(draw):
    w, h = draw(st.integers(16, 3000)), draw(st.integers(16, 3000))
    x1, x2 = sorted(draw(st.floats(0, w)) for _ in range(2))
    y1, y2 = sorted(draw(st.floats(0, h)) for _ in range(2))
    return input_frame(w, h, 3136, draw(st.sampled_from([12845056, 1280 * 28 * 28, 256 * 28 * 28]))), (x1, y1, x2, y2)


@pytest.mark.parametrize("name", sorted(WRITERS))
@settings(max_examples=60, deadline=None)
@given(fb=frame_and_box())
def test_write_then_parse_round_trips(name, fb):
    frame, box = fb
    text, (tx, ty) = WRITERS[name](box, frame, "red cup")
    r = FORMATS[name].parse(text, frame)
    assert r.status == ParseStatus.OK and len(r.boxes) == 1, (text, r.reason)
    got = r.boxes[0].box
    for i, tol in enumerate((tx, ty, tx, ty)):
        assert abs(got[i] - box[i]) <= tol + 1e-6, (name, text, got, box)
    assert r.boxes[0].label in ("red cup", "The red cup", "the red cup")
