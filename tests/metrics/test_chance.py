"""Chance level (metrics/chance.py): the trivial answers and the paired tests, checked
against plain Python recomputations."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from padt_eval.core.boxes import box_iou
from padt_eval.metrics import chance
from padt_eval.metrics.paired import paired_mean_interval
from tests.helpers import random_box


def _mcnemar_plain(b: int, c: int) -> float:
    """Two-sided exact McNemar from binomial coefficients (math.comb)."""
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2**m)


def test_row_box_iou_equals_box_iou_on_odd_boxes():
    rng = np.random.default_rng(3)
    a = np.array([random_box(rng, 60, 80) for _ in range(400)])
    b = np.array([random_box(rng, 60, 80) for _ in range(400)])
    want = [box_iou(x, y) for x, y in zip(a.tolist(), b.tolist())]
    assert chance.row_box_iou(a, b).tolist() == pytest.approx(want, abs=1e-12)


def test_random_boxes_are_seeded_and_inside_each_image():
    wh = np.array([[640, 480], [10, 300], [1, 1]] * 50, dtype=float)
    boxes = chance.random_boxes(wh, seed=7)
    assert np.array_equal(boxes, chance.random_boxes(wh, seed=7))
    assert not np.array_equal(boxes, chance.random_boxes(wh, seed=8))
    assert (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()
    assert (boxes >= 0).all() and (boxes[:, 2] <= wh[:, 0]).all() and (boxes[:, 3] <= wh[:, 1]).all()


def test_hits_test_is_mcnemar_with_the_run_ahead():
    rng = np.random.default_rng(0)
    trivial = rng.random(300) < 0.3
    better = trivial | (rng.random(300) < 0.4)  # the run hits everything the trivial answer hits, and more
    t = chance.against_hits("whole_image", better, trivial)
    b, c = int((trivial & ~better).sum()), int((~trivial & better).sum())
    assert t.p == pytest.approx(_mcnemar_plain(b, c)) and t.above
    assert t.run == pytest.approx(better.mean()) and t.trivial == pytest.approx(trivial.mean())
    # the same hits, the other way round: significant, but the run is behind: not above
    assert not chance.against_hits("whole_image", trivial, better).above
    # equal outcomes: p = 1, not above
    same = chance.against_hits("whole_image", trivial, trivial)
    assert same.p == 1.0 and not same.above


def test_iou_test_is_the_paired_normal_interval():
    rng = np.random.default_rng(1)
    triv = rng.random(200) * 0.2
    run = triv + rng.normal(0.01, 0.05, 200)
    t = chance.against_ious("whole_image", run, triv)
    d = (run - triv).tolist()
    half = 1.96 * statistics.stdev(d) / math.sqrt(len(d))
    assert t.ci95 == pytest.approx((statistics.fmean(d) - half, statistics.fmean(d) + half))
    assert t.above == (statistics.fmean(d) - half > 0)
    mean_d, ci = paired_mean_interval(triv, run)
    assert mean_d == pytest.approx(statistics.fmean(d)) and ci == pytest.approx(t.ci95)


def test_too_few_samples_give_no_test():
    assert (
        chance.against_hits("random_box", np.ones(chance.MIN_SAMPLES - 1, bool), np.zeros(chance.MIN_SAMPLES - 1, bool)) is None
    )
    assert chance.against_ious("random_box", np.ones(5), np.zeros(5)) is None


def test_rec_tests_leave_out_samples_without_instances():
    n = 100
    wh = np.tile([100.0, 100.0], (n, 1))
    gt = np.tile([0.0, 0.0, 100.0, 60.0], (n, 1))  # 60 % of the image: the whole-image box hits
    largest = np.tile([0.0, 0.0, 100.0, 60.0], (n, 1))
    largest[:30] = np.nan
    run = np.zeros(n, bool)
    tests = {t.answer: t for t in chance.rec_tests(run, gt, wh, largest)}
    assert tests["whole_image"].trivial == 1.0 and not tests["whole_image"].above
    assert tests["largest_instance"].n == 70 and tests["largest_instance"].left_out == 30
    assert tests["largest_instance"].trivial == 1.0


def test_res_tests_a_seeded_subset_of_a_large_split():
    assert chance.subset(chance.SUBSET_SAMPLES).tolist() == list(range(chance.SUBSET_SAMPLES))
    idx = chance.subset(3 * chance.SUBSET_SAMPLES, seed=4)
    assert len(idx) == chance.SUBSET_SAMPLES and len(set(idx.tolist())) == len(idx)
    assert (np.diff(idx) > 0).all() and idx.max() < 3 * chance.SUBSET_SAMPLES
    assert np.array_equal(idx, chance.subset(3 * chance.SUBSET_SAMPLES, seed=4))


def test_rec_largest_instance_test_on_a_subset_pairs_the_subsets_own_samples():
    """`largest_rows`: the largest-instance boxes are those of these samples, and the run's
    hits are taken at the same rows (here the run hits exactly the odd rows, and the
    largest instance is each target itself on the subset)."""
    rng = np.random.default_rng(2)
    n = 400
    wh = np.tile([100.0, 80.0], (n, 1))
    gt = np.array([random_box(rng, 80, 100) for _ in range(n)])
    gt[:, 2:] = np.maximum(gt[:, 2:], gt[:, :2] + 1)  # no empty target
    run = np.arange(n) % 2 == 1
    rows = np.sort(rng.choice(n, 60, replace=False))
    largest = gt[rows].copy()
    largest[:7] = np.nan  # seven subset images without instances
    t = {x.answer: x for x in chance.rec_tests(run, gt, wh, largest, largest_rows=rows)}["largest_instance"]
    kept = rows[7:]
    assert t.n == len(kept) and t.left_out == 7
    assert t.run == pytest.approx(run[kept].mean()) and t.trivial == 1.0
    b = int((~run[kept]).sum())  # the trivial answer hits, the run does not
    assert t.p == pytest.approx(_mcnemar_plain(b, 0))
