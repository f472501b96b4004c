"""The one REC/RES answer rule (core/answer_rule.py), and that every path applies it."""

from __future__ import annotations

import random

import numpy as np

from padt_eval.core.answer_rule import ANSWER_RULE, answer_index, select_answer
from padt_eval.core.types import ObjectPred, Prediction, Task
from padt_eval.metrics.rec import RecMetric
from padt_eval.metrics.res import ResMetric
from padt_eval.models.coords import FORMATS, Frame
from padt_eval.models.text_rules import prediction_from_text
from padt_eval.tasks.metric import build_metric
from tests.helpers import prediction, sample

TWO = '[{"bbox_2d": [60, 60, 90, 90], "label": "wrong"}, {"bbox_2d": [10, 10, 50, 50], "label": "right"}]'


def _by_numpy(scores):
    """An independent statement of the rule: argmax when all are scored (numpy keeps the
    first of equal maxima), else 0."""
    if not scores:
        return None
    if any(s is None for s in scores):
        return 0
    return int(np.argmax(np.asarray(scores, dtype=float)))


def test_the_rule_equals_a_plain_numpy_statement_of_it():
    rng = random.Random(5)
    for _ in range(2000):
        n = rng.randint(0, 6)
        scores = [
            rng.choice([None, 0.1, 0.5, 0.9, rng.random()]) if rng.random() < 0.3 else rng.choice([0.5, 0.9, rng.random()])
            for _ in range(n)
        ]
        assert answer_index(scores) == _by_numpy(scores), scores


def test_highest_score_first_on_ties_else_first():
    objs = [
        ObjectPred(bbox=[0, 0, 1, 1], score=0.2),
        ObjectPred(bbox=[0, 0, 2, 2], score=0.9),
        ObjectPred(bbox=[0, 0, 3, 3], score=0.9),
    ]
    assert select_answer(Prediction("x", objects=objs)) is objs[1]
    objs[0].score = None
    assert select_answer(Prediction("x", objects=objs)) is objs[0]
    assert select_answer(Prediction("x")) is None


def test_coordinate_text_takes_the_first_box_though_a_derived_score_would_rank_the_second():
    # The token-log-probability confidence is attached after the rule: the first box stays.
    derived = iter([-5.0, -0.1])
    p = prediction_from_text("0", Task.REC, TWO, FORMATS["qwen3_vl"], Frame(100, 100), score_of=lambda span: next(derived))
    assert [o.label for o in p.objects] == ["wrong"] and p.meta["n_boxes_parsed"] == 2
    assert p.meta["selection"] == ANSWER_RULE
    s = sample("0", 100, 100, [10, 10, 50, 50], None)
    assert RecMetric().update(s, p)["iou"] == 0.0  # the metric scores the box the text path kept


def test_metrics_score_the_answer_the_rule_picks_and_say_so():
    s = sample("0", 100, 100, [10, 10, 50, 50], None)
    scored = prediction("0", [ObjectPred(bbox=[60, 60, 90, 90], score=0.2), ObjectPred(bbox=[10, 10, 50, 50], score=0.8)])
    unscored = prediction("0", [ObjectPred(bbox=[60, 60, 90, 90]), ObjectPred(bbox=[10, 10, 50, 50], score=0.8)])
    metric = build_metric(Task.REC)
    assert metric.update(s, scored)["iou"] == 1.0 and metric.update(s, unscored)["iou"] == 0.0
    assert RecMetric().protocol()["selection"] == ResMetric().protocol()["selection"] == ANSWER_RULE
