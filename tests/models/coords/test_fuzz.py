"""Property-based fuzzing of every parser: any text, and near misses of every family's syntax.

Whatever the text, a parser returns (never raises), every box is finite, ordered and inside
the image, every span lies inside the text, and the caption cleaner copes with the markup.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from padt_eval.core.caption_text import clean_caption
from padt_eval.core.types import ParseStatus
from padt_eval.models.coords import FORMATS, Frame

NUMBERS = st.one_of(
    st.integers(-2000, 3000).map(str),
    st.integers(0, 999).map(lambda v: f"{v:03d}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e999", "-1e999", "nan", "inf", "9" * 400, "0.", ".5", "+3", "--1", "1e5", "007", "0x10", "1_000"]),
)
FRAGMENTS = st.sampled_from(
    [
        "```json",
        "```",
        "\n",
        " ",
        ",",
        ";",
        "[",
        "]",
        "[[",
        "]]",
        "(",
        ")",
        "{",
        "}",
        ":",
        '"',
        "'",
        '"bbox_2d"',
        "'bbox_2d'",
        '"bbox_2d": [',
        '"label": "',
        "label",
        "<answer>",
        "</answer>",
        "<think>",
        "</think>",
        "<|object_ref_start|>",
        "<|object_ref_end|>",
        "<|box_start|>",
        "<|box_end|>",
        "<|im_end|>",
        "<ref>",
        "</ref>",
        "<box>",
        "</box>",
        "<p>",
        "</p>",
        "<delim>",
        "<",
        ">",
        "{<",
        ">}",
        "<phrase>",
        "</phrase>",
        "<object>",
        "</object>",
        "</delimiter_of_multi_objects/>",
        "<grounding>",
        "<patch_index_0389>",
        "<patch_index_9999>",
        "<patch_index_",
        "<loc_",
        "<loc_999>",
        "<loc_1000>",
        "<loc_0>",
        "<sep>",
        "<poly>",
        "</poly>",
        "</s>",
        "<s>",
        "Answer:",
        "the man in red",
        "a cup",
        "None",
        "é",
        "\u0000",
        "\ud7ff",
    ]
)
NEAR_MISS = st.lists(st.one_of(FRAGMENTS, NUMBERS), max_size=40).map("".join)
TEXT = st.one_of(st.text(max_size=200), NEAR_MISS)


@st.composite
def frames(draw):
    w = draw(st.integers(1, 5000))
    h = draw(st.integers(max(1, w // 150), min(5000, w * 150)))
    iw = draw(st.one_of(st.none(), st.integers(1, 8000)))
    ih = draw(st.integers(1, 8000)) if iw is not None else None
    return Frame(w, h, iw, ih)


def check(result, text, frame):
    assert result.status in (ParseStatus.OK, ParseStatus.FAILED)
    assert (result.reason is None) or isinstance(result.reason, str)
    if result.status == ParseStatus.FAILED:
        assert not result.boxes and result.reason
    for b in result.boxes:
        x1, y1, x2, y2 = b.box
        assert all(isinstance(v, float) and math.isfinite(v) for v in b.box)
        assert 0.0 <= x1 <= x2 <= frame.width and 0.0 <= y1 <= y2 <= frame.height
        assert 0 <= b.span[0] <= b.span[1] <= len(text)
        assert b.label is None or isinstance(b.label, str)
        for poly in b.polygons or ():
            assert all(math.isfinite(v) for v in poly)
    assert isinstance(clean_caption(text), str)


@pytest.mark.parametrize("name", sorted(FORMATS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, frame=frames())
def test_never_raises_and_boxes_stay_inside(name, text, frame):
    fmt = FORMATS[name]
    check(fmt.parse(text, frame), text, frame)
    if fmt.parse_masks is not None:
        check(fmt.parse_masks(text, frame), text, frame)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_long_hostile_text_parses_quickly(name):
    """No quadratic blow-up on long output full of unfinished syntax."""
    frame = Frame(640, 427, 644, 420)
    pieces = [
        '{"bbox_2d": [1, 2',
        "<box>[[1,2,",
        "<object><patch_index_0001>",
        "<loc_1><loc_2>",
        "[0.1,0.2,",
        "{<1><2>",
        "[[1,2,3",
        "<|box_start|>(1,2),(",
        "<think>",
        "<p>x",
    ]
    text = "".join(pieces) * 300  # ~ 10 k characters
    # The speed of this case is measured in benchmarks/bench_parsers.py; here: it ends, and
    # what it returns is as well-formed as on any other input.
    check(FORMATS[name].parse(text, frame), text, frame)
    if FORMATS[name].parse_masks is not None:
        check(FORMATS[name].parse_masks(text, frame), text, frame)
