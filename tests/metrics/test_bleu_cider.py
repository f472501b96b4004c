"""metrics/bleu.py and metrics/cider_d.py equal pycocoevalcap's `Bleu(4)` and `Cider()`,
called directly on the same tokenised text: on random small sets (clipping, ties in the
closest reference length, empty sentences, repeated n-grams) and on a 5,000-image set.
BLEU's corpus scores come from integer totals and must be equal bit for bit; everything
else to 1e-12."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from padt_eval.metrics.bleu import bleu
from padt_eval.metrics.cider_d import cider_d
from padt_eval.metrics.ngrams import ngram_table


def assert_as_pycocoevalcap(gts: dict, res: dict) -> None:
    want_bleu, want_bleu_images = Bleu(4).compute_score(gts, res, verbose=0)
    want_cider, want_cider_images = Cider().compute_score(gts, res)
    table = ngram_table(gts, res)
    got_bleu, got_bleu_images = bleu(gts, res, table)
    got_cider, got_cider_images = cider_d(gts, res, table)
    assert got_bleu == want_bleu  # integer totals: the same floats
    for k in range(4):
        np.testing.assert_allclose(got_bleu_images[k], want_bleu_images[k], rtol=0, atol=1e-12)
    assert got_cider == pytest.approx(want_cider, rel=0, abs=1e-12)
    np.testing.assert_allclose(got_cider_images, want_cider_images, rtol=0, atol=1e-12)


sentence = st.lists(st.sampled_from(["a", "b", "c", "dog", ".", "-lrb-"]), max_size=12).map(" ".join)
# pycocoevalcap's CIDEr fails (max() of an empty sequence) when no reference has a word
caption_set = st.lists(st.tuples(sentence, st.lists(sentence, min_size=1, max_size=5)), min_size=1, max_size=12).filter(
    lambda images: any(r.split() for _, refs in images for r in refs)
)


@settings(max_examples=300, deadline=None)
@given(caption_set)
def test_small_sets_score_as_pycocoevalcap(images):
    gts = {i: refs for i, (_, refs) in enumerate(images)}
    res = {i: [cand] for i, (cand, _) in enumerate(images)}
    assert_as_pycocoevalcap(gts, res)


def test_no_reference_word_scores_zero():
    """Where pycocoevalcap's CIDEr fails (no n-gram in any reference), CIDEr-D is 0, as
    every image's overlap with its references is empty."""
    score, per_image = cider_d({1: [""], 2: ["", " "]}, {1: ["a dog"], 2: [""]})
    assert score == 0.0 and per_image.tolist() == [0.0, 0.0]


def test_image_ids_keep_pycocoevalcaps_order():
    """String ids, not sorted: the per-image scores follow the dicts' order, as pycocoevalcap's."""
    gts = {"b": ["a dog runs", "the dog"], "a": ["a cat sits ."], "10": ["two dogs run fast", "dogs"]}
    res = {"b": ["a dog"], "a": ["a cat sits on a mat ."], "10": ["dogs run"]}
    assert_as_pycocoevalcap(gts, res)
    assert_as_pycocoevalcap({k: gts[k] for k in sorted(gts)}, {k: res[k] for k in sorted(res)})


def test_a_5k_caption_set_scores_as_pycocoevalcap():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_ric import make

    cands, refs = make(5000, seed=7)
    gts = {i: [r.lower().replace(".", " .") for r in rs] for i, rs in enumerate(refs)}
    res = {i: [c.lower()] for i, c in enumerate(cands)}
    res[7] = [""]  # a sample without an answer
    gts[11] = gts[11] + [""]  # an empty reference
    gts[12] = gts[12][:1]  # a single reference
    res[13] = [gts[13][2]]  # a candidate equal to one reference
    assert_as_pycocoevalcap(gts, res)
