"""metrics/rouge_l.py equals pycocoevalcap's Rouge: the LCS lengths on any token lists, and
the scores on a 5,000-image caption set (bit for bit; 1e-12 is the contract)."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from pycocoevalcap.rouge.rouge import Rouge, my_lcs

from padt_eval.metrics.rouge_l import lcs_length, rouge_l

tokens = st.lists(st.sampled_from(["a", "b", "c", "dog", "", "."]), max_size=40)


@settings(max_examples=500, deadline=None)
@given(tokens, tokens)
def test_lcs_length_is_pycocoevalcaps(a, b):
    assert lcs_length(a, b) == my_lcs(a, b) == lcs_length(b, a)


def test_a_5k_caption_set_scores_as_pycocoevalcap():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_ric import make

    cands, refs = make(5000, seed=4)
    gts = {i: [r.lower().replace(".", " .") for r in rs] for i, rs in enumerate(refs)}
    res = {i: [c.lower()] for i, c in enumerate(cands)}
    res[7] = [""]  # an empty candidate (one empty token, which a double space in a reference also makes)
    want_mean, want = Rouge().compute_score(gts, res)
    got_mean, got = rouge_l(gts, res)
    assert abs(got_mean - want_mean) <= 1e-12 and got_mean == want_mean
    assert got.tolist() == want.tolist()
