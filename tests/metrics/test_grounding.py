"""GP/GR: greedy one-to-one matching on hand-computed cases."""

from __future__ import annotations

import numpy as np

from padt_eval.core import rle
from padt_eval.core.types import GroundTruthObject, ObjectPred
from padt_eval.metrics.grounding import GroundingCounts, greedy_match


def test_greedy_is_not_optimal():
    # P0 overlaps G0 best (0.9) and G1 (0.6); P1 overlaps only G0 (0.55).
    # Greedy takes P0-G0 first, so P1 stays unmatched: 1 match. The optimal assignment
    # (P0-G1, P1-G0) would have 2. GP/GR are *greedy* by name and by our definition.
    ious = [[0.9, 0.6], [0.55, 0.1]]
    assert greedy_match(ious) == [(0, 0)]


def test_threshold_and_ties():
    assert greedy_match([[0.5, 0.49]]) == [(0, 0)]  # IoU >= 0.5 counts
    assert greedy_match([[0.49]]) == []
    assert greedy_match([[0.7, 0.7], [0.7, 0.7]]) == [(0, 0), (1, 1)]  # ties: lower indices first


def test_counts_on_boxes_and_masks():
    g = GroundingCounts()
    gt = [
        GroundTruthObject(bbox=[0, 0, 10, 10]),
        GroundTruthObject(bbox=[20, 0, 30, 10]),
        GroundTruthObject(bbox=[40, 0, 50, 10]),
    ]
    preds = [
        ObjectPred(bbox=[0, 0, 10, 10]),  # G0, IoU 1
        ObjectPred(bbox=[1, 0, 11, 10]),  # also G0 (IoU 0.82) but G0 is taken: unmatched
        ObjectPred(bbox=[22, 0, 32, 10]),  # G1, IoU 8/12 = 0.67
        ObjectPred(bbox=[45, 0, 55, 10]),  # G2, IoU 5/15 = 0.33: no
    ]
    rec = g.add(preds, gt)
    assert rec == {"n_pred": 4, "n_gt": 3, "n_matched": 2}
    g.add([], [GroundTruthObject(bbox=[0, 0, 5, 5])])  # nothing predicted: recall only
    g.add([ObjectPred(bbox=[0, 0, 5, 5])], [])  # nothing annotated: precision only
    v = g.values()
    assert v["gp"] == 2 / 5 and v["gr"] == 2 / 4 and "gp_mask" not in v


def test_mask_iou_variant():
    m0 = np.zeros((20, 20), bool)
    m0[0:10, 0:10] = True
    m1 = np.zeros((20, 20), bool)
    m1[10:20, 10:20] = True
    gt = [
        GroundTruthObject(bbox=[0, 0, 10, 10], mask=rle.encode(m0)),
        GroundTruthObject(bbox=[10, 10, 20, 20], mask=rle.encode(m1)),
    ]
    half = m0.copy()
    half[:, 5:] = False  # box matches G0 exactly, mask covers half of it: mask IoU 0.5
    preds = [ObjectPred(bbox=[0, 0, 10, 10], mask=rle.encode(half)), ObjectPred(bbox=[10, 10, 20, 20])]  # second: no mask
    g = GroundingCounts()
    g.add(preds, gt)
    assert g.values() == {"gp": 1.0, "gr": 1.0, "gp_mask": 0.5, "gr_mask": 0.5}
