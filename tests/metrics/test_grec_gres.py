"""GREC and GRES metrics: the rules both protocols share, and the threshold sweep checked
against a recomputation from the per-sample records."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from padt_eval.core import rle
from padt_eval.core.boxes import box_iou
from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, ParseStatus, Prediction, Sample, Task
from padt_eval.metrics.generalized import SWEEP
from padt_eval.metrics.grec import GrecMetric, greedy_matches, maximum_matches
from padt_eval.metrics.gres import GresMetric


def _sample(sid, boxes, task=Task.GREC, masks=None, crowd=()):
    objs = [GroundTruthObject(bbox=b, mask=(masks[i] if masks else None), iscrowd=i in crowd) for i, b in enumerate(boxes)]
    return Sample(sid, task, ImageRef(f"{sid}.png", 20, 20), expression="x", objects=objs)


def _pred(sid, *objs, status=ParseStatus.OK):
    return Prediction(sid, objects=list(objs), parse_status=status)


def _brute_max(sim, th):
    rows, cols = len(sim), len(sim[0]) if sim else 0
    best = 0
    for k in range(min(rows, cols), 0, -1):
        for rs in itertools.combinations(range(rows), k):
            for cs in itertools.permutations(range(cols), k):
                if all(sim[r][c] >= th for r, c in zip(rs, cs)):
                    return k
    return best


def test_maximum_matching_equals_brute_force_and_never_below_greedy():
    rng = np.random.default_rng(0)
    for _ in range(300):
        sim = rng.choice([0.0, 0.4, 0.55, 0.6, 0.9], size=(int(rng.integers(1, 5)), int(rng.integers(1, 5)))).tolist()
        m = maximum_matches(sim, 0.5)
        assert m == _brute_max(sim, 0.5)
        assert m >= greedy_matches(sim, 0.5)


@pytest.mark.parametrize("protocol", ["standard", "official"])
def test_a_failed_answer_is_never_a_correct_rejection(protocol):
    m = GrecMetric(protocol)
    rec = m.update(_sample("a", []), _pred("a", status=ParseStatus.FAILED))
    assert rec["outcome"] == "not_answered" and not rec["correct"]
    m.update(_sample("b", []), _pred("b"))
    assert m.compute()["n_acc"] == 0.5 and m.compute()["pr_f1"] == 0.5
    assert "t_acc" not in m.compute() and any("T-acc is undefined" in n for n in m.notes())


def test_unscored_boxes_are_kept_and_every_box_counts():
    m = GrecMetric()
    s = _sample("a", [[0, 0, 10, 10], [10, 10, 20, 20]])
    rec = m.update(s, _pred("a", ObjectPred(bbox=[0, 0, 10, 10]), ObjectPred(bbox=[10, 10, 20, 20])))
    assert rec["tp"] == 2 and rec["correct"]
    rec = m.update(_sample("b", [[0, 0, 10, 10]]), _pred("b", ObjectPred(bbox=[0, 0, 10, 10]), ObjectPred(bbox=[10, 10, 20, 20])))
    assert (rec["tp"], rec["fp"], rec["fn"], rec["outcome"]) == (1, 1, 0, "extra_boxes")
    assert "threshold_sweep" not in m.details()  # no score anywhere: nothing to sweep


def _plain_grec_at(samples, preds, th):
    """Pr@(F1=1), N-acc, T-acc at one threshold, by brute-force matching on IoU."""
    correct = nt = nt_ok = t = t_kept = 0
    for s, p in zip(samples, preds):
        boxes = [o.bbox for o in p.objects if o.score is None or o.score >= th]
        gt = [o.bbox for o in s.objects]
        if not gt:
            nt += 1
            nt_ok += not boxes
            correct += not boxes
            continue
        t += 1
        t_kept += bool(boxes)
        sim = [[box_iou(b, g) for g in gt] for b in boxes]
        tp = _brute_max(sim, 0.5) if boxes else 0
        correct += tp == len(boxes) == len(gt)
    return {"pr_f1": correct / len(samples), "n_acc": nt_ok / nt, "t_acc": t_kept / t}


def test_grec_sweep_matches_a_brute_force_recount_at_every_threshold():
    rng = np.random.default_rng(1)
    samples, preds = [], []
    for k in range(40):
        n_gt = int(rng.integers(0, 3))
        gt = [[10.0 * j, 0.0, 10.0 * j + 8, 8.0] for j in range(n_gt)]
        objs = [
            ObjectPred(bbox=[b[0] + float(rng.uniform(-3, 3)), 0.0, b[2], 8.0], score=float(rng.uniform()))
            for b in gt
            if rng.random() < 0.8
        ]
        objs += [ObjectPred(bbox=[50.0, 50.0, 58.0, 58.0], score=float(rng.uniform()))] * int(rng.random() < 0.4)
        samples.append(_sample(str(k), gt))
        preds.append(_pred(str(k), *objs))
    m = GrecMetric()
    for s, p in zip(samples, preds):
        m.update(s, p)
    sweep = m.details()["threshold_sweep"]
    assert [r["threshold"] for r in sweep] == list(SWEEP)
    for row in sweep:
        want = _plain_grec_at(samples, preds, row["threshold"])
        assert {k: row[k] for k in want} == pytest.approx(want, abs=1e-12)
    at_07 = _plain_grec_at(samples, preds, 0.7)
    assert m.compute() == pytest.approx(at_07, abs=1e-12)


def _mask(rect, size=20):
    """rect = (y0, y1, x0, x1), half-open."""
    a = np.zeros((size, size), dtype=np.uint8)
    a[rect[0] : rect[1], rect[2] : rect[3]] = 1
    return rle.encode(a)


def test_gres_unions_the_answer_and_drops_crowd_targets():
    target, crowd = _mask((0, 5, 0, 5)), _mask((10, 20, 10, 20))
    s = _sample("a", [[0, 0, 5, 5], [10, 10, 20, 20]], Task.GRES, masks=[target, crowd], crowd=(1,))
    p = _pred("a", ObjectPred(mask=_mask((0, 5, 0, 3))), ObjectPred(mask=_mask((0, 5, 2, 5))))
    m = GresMetric()
    rec = m.update(s, p)
    assert (rec["intersection"], rec["union"], rec["iou"]) == (25, 25, 1.0)  # crowd left out of the target


def test_gres_sweep_drops_low_scores_and_counts_a_rejection_when_nothing_is_left():
    s_nt = _sample("nt", [], Task.GRES)
    s_t = _sample("t", [[0, 0, 5, 5]], Task.GRES, masks=[_mask((0, 5, 0, 5))])
    m = GresMetric()
    m.update(s_nt, _pred("nt", ObjectPred(mask=_mask((0, 2, 0, 2)), score=0.3)))
    m.update(s_t, _pred("t", ObjectPred(mask=_mask((0, 5, 0, 5)), score=0.6)))
    rows = {r["threshold"]: r for r in m.details()["threshold_sweep"]}
    assert rows[0.0] == {"threshold": 0.0, "giou": 0.5, "ciou": 25 / 29, "n_acc": 0.0, "t_acc": 1.0}
    assert rows[0.35]["n_acc"] == 1.0 and rows[0.35]["giou"] == 1.0  # the false alarm is gone, the target kept
    assert rows[0.65] == {"threshold": 0.65, "giou": 0.5, "ciou": 0.0, "n_acc": 1.0, "t_acc": 0.0}
    assert m.compute()["giou"] == 0.5  # the headline keeps every object


def test_a_model_that_rejects_everything_is_noted():
    m = GrecMetric()
    m.update(_sample("a", []), _pred("a"))
    m.update(_sample("b", [[0, 0, 5, 5]]), _pred("b"))
    assert m.compute()["n_acc"] == 1.0 and any("full by construction" in n for n in m.notes())


@pytest.mark.parametrize("protocol", ["standard", "official"])
def test_gres_an_unread_answer_counts_against_t_acc_and_n_acc(protocol):
    m = GresMetric(protocol)
    m.update(_sample("t", [[0, 0, 5, 5]], Task.GRES, masks=[_mask((0, 5, 0, 5))]), _pred("t", status=ParseStatus.MISSING))
    m.update(_sample("n", [], Task.GRES), _pred("n", status=ParseStatus.FAILED))
    v = m.compute()
    assert v["t_acc"] == 0.0 and v["n_acc"] == 0.0 and v["giou"] == 0.0


def test_per_sample_fields_add_up_to_the_rejection_accuracies():
    """`compare` recomputes N-acc and T-acc from these fields: they must give the metric's values."""
    from tests.metrics.grefcoco_case import grec_pairs, gres_pairs

    for metric, pairs in ((GrecMetric(), grec_pairs()), (GresMetric(), gres_pairs())):
        recs = [metric.update(s, p) for s, p in zip(*pairs)]
        v = metric.compute()
        assert sum(r["nt_rejected"] for r in recs) / sum(r["no_target"] for r in recs) == v["n_acc"]
        assert sum(r["t_answered"] for r in recs) / sum(r["has_target"] for r in recs) == v["t_acc"]
