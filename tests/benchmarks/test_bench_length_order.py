"""benchmarks/bench_length_order.py: its padded share follows the batches' rule (checked by
hand), and its expressions have the RefCOCO family's word counts. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_length_order as bench  # noqa: E402


def test_padded_share_by_hand():
    tokens = {"a": 10, "b": 4, "c": 9, "d": 5}
    # batches [a, b] and [c, d]: padding 6 + 4 over 2 x 10 + 2 x 9 positions
    assert bench.padded_share(tokens, ["a", "b", "c", "d"], 2) == 10 / 38
    # sorted by length, [b, d] and [c, a]: padding 1 + 1 over 2 x 5 + 2 x 10
    assert bench.padded_share(tokens, ["b", "d", "c", "a"], 2) == 2 / 30
    assert bench.padded_share(tokens, ["a", "b", "c", "d"], 1) == 0.0


def test_expressions_have_refcoco_family_lengths():
    rng = np.random.default_rng(0)
    counts = bench.word_counts(20000, rng)
    # half ~3.6 words (RefCOCO, RefCOCO+), half ~8.4 (RefCOCOg): mean ~6
    assert 5.5 < np.mean(counts) < 6.5 and min(counts) >= 1 and max(counts) > 15
    text = bench.expression("red", "circle", 7, rng)
    assert len(text.split()) == 7 and text.startswith("the red circle")
    assert bench.expression("red", "circle", 1, rng).split() == ["red", "circle"]  # colour and shape always named
