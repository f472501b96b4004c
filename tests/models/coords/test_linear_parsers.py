"""Parsers run in time linear in the answer (issue 25, item 4; the hostile cases M04 and
P20 are in test_hostile_answers.py).

The linear scanners replaced regular expressions; property tests check they find exactly
what the expressions found, on random text over the alphabet that matters, and that the
caption cleaner gives what the old one gave. The speed itself is measured in
benchmarks/bench_parsers.py --doubling. Also: the cap on one answer's length.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from padt_eval.core import caption_text
from padt_eval.core.tagpairs import Floors, pairs, sub_pairs
from padt_eval.core.types import ParseStatus, Task
from padt_eval.models.coords import FORMATS, Frame, cogvlm
from padt_eval.models.text_rules import MAX_ANSWER_CHARS, prediction_from_text


def test_an_answer_over_the_cap_is_read_up_to_it_with_a_note():
    frame = Frame(1000, 1000)
    box = "[[100,100,500,500]]"
    text = "x" * (MAX_ANSWER_CHARS - len(box)) + box + "[[600,600,900,900]]"
    p = prediction_from_text("s", Task.OVD, text, FORMATS["cogvlm"], frame)
    assert p.text == text  # the model's answer is kept whole
    assert [o.bbox for o in p.objects] == [[100.0, 100.0, 500.0, 500.0]]  # the box past the cap is not read
    assert p.parse_status == ParseStatus.OK and p.meta["answer_chars_read"] == MAX_ANSWER_CHARS
    assert (
        p.parse_reason
        == f"the answer is {len(text):,} characters; only the first {MAX_ANSWER_CHARS:,} were read (MAX_ANSWER_CHARS)"
    )
    short = prediction_from_text("s", Task.OVD, box, FORMATS["cogvlm"], frame)
    assert short.parse_reason is None and "answer_chars_read" not in short.meta


# ---- the linear scanners find what the expressions found ------------------------------

ALPHABET = st.lists(
    st.sampled_from(["<p>", "</p>", "<p", "p>", "a", " ", "\n", "[", "]", "[[", "]]", ";", "1", ","]), max_size=40
)


@settings(max_examples=400, deadline=None)
@given(parts=ALPHABET, bounds=st.tuples(st.integers(0, 30), st.integers(0, 200)))
def test_pairs_finds_what_the_lazy_expression_finds(parts, bounds):
    text = "".join(parts)
    pos, endpos = bounds[0], min(len(text), bounds[0] + bounds[1])
    expected = [m.span() + m.span(1) for m in re.compile(r"<p>(.*?)</p>", re.S).finditer(text, pos, max(pos, endpos))]
    got = [(s, e, a, b) for s, a, b, e in pairs(text, "<p>", "</p>", pos, max(pos, endpos))]
    assert got == expected
    assert sub_pairs(text, "<p>", "</p>", lambda inner: inner.upper() + "|") == re.sub(
        r"<p>(.*?)</p>", lambda m: m.group(1).upper() + "|", text, flags=re.S
    )


@settings(max_examples=300, deadline=None)
@given(parts=ALPHABET)
def test_floors_finds_the_last_span_between_boxes(parts):
    text = "".join(parts)
    spans = [(s, e) for s, _, _, e in pairs(text, "<p>", "</p>")]
    boxes = [m.span() for m in re.finditer(r"1", text)]  # stand-ins for boxes, in text order
    floors, floor = Floors(spans), 0
    for start, end in boxes:
        recent = [i for i, (s, e) in enumerate(spans) if floor <= s and e <= start]
        assert floors.last_between(floor, start) == (recent[-1] if recent else None)
        floor = end


@settings(max_examples=400, deadline=None)
@given(parts=ALPHABET)
def test_cogvlm_groups_are_the_expressions_matches(parts):
    text = "".join(parts)
    old = [m.span() + m.span(1) for m in re.finditer(r"\[\[([^\]]*)\]\]", text)]
    assert [(s, e, a, b) for s, a, b, e in cogvlm._groups(text)] == old


def _old_clean_caption(text: str) -> str:
    """The caption cleaner as it was (regular expressions, a loop per nesting level)."""
    s = re.S
    if not text:
        return ""
    text = re.sub(r"<think>.*?(?:</think>|\Z)", " ", text, flags=s)
    text = caption_text._END_TOKENS.sub(" ", text)
    text = caption_text._drop_cut_off_box(text.rstrip())

    def fenced(m):
        labels = caption_text._json_labels(m.group(1))
        return labels if labels is not None else m.group(1)

    text = re.sub(r"```(?:json)?\s*(.*?)\s*```", fenced, text, flags=s)
    labels = caption_text._json_labels(text.strip())
    text = labels if labels is not None else text
    for a, b in caption_text._KEEP_PHRASE:
        text = re.sub(re.escape(a) + "(.*?)" + re.escape(b), lambda m: m.group(1), text, flags=s)
    for a, b in caption_text._REMOVE_PAIRS:
        text = re.sub(re.escape(a) + ".*?" + re.escape(b), " ", text, flags=s)
    for pat in caption_text._REMOVE:
        text = pat.sub(" ", text)
    num = r"-?\d+(?:\.\d+)?"
    coord = re.compile(rf"\[\s*{num}(?:\s*[,;]\s*{num}){{3,}}\s*\]")
    empty = re.compile(r"\s*(?:\(\s*[,;\s]*\)|\[\s*[,;\s]*\]|\{\s*[,;\s]*\})")
    text = coord.sub(" ", text)
    previous = None
    while previous != text:
        previous = text
        text = empty.sub("", text)
        text = coord.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r",(?:\s*,)+", ",", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return text.strip(" ,;")


CAPTION_PARTS = st.lists(
    st.sampled_from(
        ["[", "]", "(", ")", "{", "}", "1", "23", "0.5", "-", ",", ";", " ", "  ", "\n", "\t", "a", "the cat", ".", "<p>", "</p>"]
        + ["<box>", "</box>", "```", "json", '{"bbox_2d": [1,2,3,4], "label": "x"}', "<|box_start|>", "<|box_end|>"]
        + ["<think>", "</think>", "<1>", "<loc_3>", "[1, 2, 3, 4]", "<|im_end|>", "<ref>", "</ref>"]
    ),
    max_size=30,
)


@settings(max_examples=1500, deadline=None)
@given(parts=CAPTION_PARTS)
def test_clean_caption_gives_what_it_gave_before(parts):
    text = "".join(parts)
    assert caption_text.clean_caption(text) == _old_clean_caption(text)


def test_clean_caption_survives_json_nested_deeper_than_json_allows():
    # json.loads raised RecursionError on this: the RIC metric then crashed the run.
    # unclosed brackets stay, except the last "[[" (an opened box, rule 8)
    assert caption_text.clean_caption("[" * 100_000) == "[" * 99_998
