"""The metrics' side of the one-answer rule (tests/core/test_answer_rule.py has the rule) and outcome counting."""

from __future__ import annotations

import numpy as np

from padt_eval.core import rle
from padt_eval.core.types import ObjectPred, ParseStatus
from padt_eval.metrics.estimators import Column
from padt_eval.metrics.rec import RecMetric
from tests.helpers import prediction, sample


def test_no_best_of_n():
    """A correct second guess does not rescue a wrong first answer."""
    s = sample("0", 100, 100, [10, 10, 50, 50], None)
    p = prediction("0", [ObjectPred(bbox=[60, 60, 90, 90]), ObjectPred(bbox=[10, 10, 50, 50])])
    m = RecMetric()
    assert m.update(s, p)["iou"] == 0.0


def test_failed_parse_with_objects_still_a_miss_and_counted():
    s = sample("0", 100, 100, [10, 10, 50, 50], None)
    p = prediction("0", [ObjectPred(bbox=[10, 10, 50, 50])], status=ParseStatus.FAILED)
    m = RecMetric()
    assert m.update(s, p)["iou"] == 0.0
    c = m.counts()
    assert c["n_parse_failed"] == 1 and c["n_predicted"] == 0 and c["n_samples"] == 1


def test_mask_only_prediction_answers_rec_with_mask_box():
    mask = np.zeros((40, 40), bool)
    mask[10:20, 5:15] = True
    s = sample("0", 40, 40, [5, 10, 15, 20], None)
    m = RecMetric()
    rec = m.update(s, prediction("0", [ObjectPred(mask=rle.encode(mask))]))
    assert rec["iou"] == 1.0 and rec["box_from_mask"]


def test_mean_iou_is_order_independent():
    rng = np.random.default_rng(3)
    values = (rng.random(5000) * 10.0 ** rng.integers(-8, 8, 5000)).tolist()
    forward, backward = Column(), Column()
    for v in values:
        forward.add(v)
    for v in reversed(values):
        backward.add(v)
    assert forward.mean() == backward.mean()
    import math

    assert forward.mean() == math.fsum(values) / len(values) and forward.count == len(values)
