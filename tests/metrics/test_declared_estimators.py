"""Each metric's declared per-sample estimators, cross-checked against plain numpy.

A metric declares once which per-sample record fields make which number
(`Metric.ESTIMATORS`); its `compute`, `padt-eval compare` and the release protocol all
read that declaration. These tests hold the declaration to an independent formula
written here with numpy, and each metric's `compute` to the declaration evaluated on the
very records the metric wrote, so a declaration that drifts from a compute (or from
what the metric's documentation says) fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.core import rle
from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, ParseStatus, Prediction, Sample, Task
from padt_eval.metrics.catalogue import SCORERS, declared_estimators
from padt_eval.metrics.estimators import OMIT, estimate_records
from padt_eval.metrics.grec import GrecMetric
from padt_eval.metrics.gres import GresMetric
from padt_eval.metrics.grounding import GroundingCounts
from padt_eval.metrics.rec import RecMetric
from padt_eval.metrics.release_protocol import ReleaseMetric
from padt_eval.metrics.res import ResMetric
from tests.helpers import prediction, random_box, random_mask, sample


def _mean(field):
    return lambda R: float(np.mean(np.asarray([r[field] for r in R], dtype=np.float64)))


def _ratio(num, den):
    def f(R):
        n = np.asarray([r.get(num, 0) for r in R], dtype=np.float64)
        d = np.asarray([r.get(den, 0) for r in R], dtype=np.float64)
        return float(n.sum() / d.sum()) if d.sum() else float("nan")

    return f


# The formulas as docs/metrics.md states them, written independently of the declarations.
_REC = {**{f"acc@{t}": _mean(f"hit@{t}") for t in ("0.5", "0.75", "0.9")}, "mean_iou": _mean("iou")}
_REJECTION = {"n_acc": _ratio("nt_rejected", "no_target"), "t_acc": _ratio("t_answered", "has_target")}
_GRES = {"giou": _mean("iou"), "ciou": _ratio("intersection", "union"), **_REJECTION}
_GROUNDING = {
    "gp": _ratio("n_matched", "n_pred"),
    "gr": _ratio("n_matched", "n_gt"),
    "gp_mask": _ratio("n_matched_mask", "n_pred_mask"),
    "gr_mask": _ratio("n_matched_mask", "n_gt_mask"),
}
INDEPENDENT = {
    (Task.REC, "standard"): _REC,
    (Task.REC, "padt-release"): _REC,
    (Task.RES, "standard"): {"miou": _mean("iou"), "ciou": _ratio("intersection", "union")},
    (Task.RES, "padt-release"): {"ciou": _mean("iou")},  # the release's "cIoU" is a mean of per-item IoUs
    (Task.GREC, "standard"): {"pr_f1": _mean("correct"), **_REJECTION},
    (Task.GREC, "official"): {"pr_f1": _mean("correct"), **_REJECTION},
    (Task.GRES, "standard"): _GRES,
    (Task.GRES, "official"): _GRES,
    (Task.RIC, "standard"): _GROUNDING,
    (Task.OVD, "standard"): {},  # COCO AP does not decompose over samples
    (Task.OVD, "padt-release"): {},
    # ReasonSeg is a benchmark scorer (BENCHMARK_SCORERS, not here): under LISA's rules
    # ΣIoU/(n + 1e-5) and ΣI/(ΣU + 1e-10) are not declared ratios, so `res` under `official`
    # declares nothing (its standard protocol writes RES's fields and is compared with RES's)
}


def _random_records(rng: np.random.Generator, fields: tuple[str, ...], n: int) -> list[dict]:
    """Records with the fields' kinds: IoUs in [0, 1], pixel counts, object counts, hits."""
    records = []
    for i in range(n):
        iou = float(rng.random())
        union = int(rng.integers(1, 10_000))
        n_gt, n_pred = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        has_target = bool(rng.random() < 0.7)
        values = {
            "iou": iou,
            "intersection": int(iou * union),
            "union": union,
            "correct": bool(rng.random() < 0.4),
            "has_target": has_target,
            "no_target": not has_target,
            "t_answered": has_target and bool(rng.random() < 0.8),
            "nt_rejected": (not has_target) and bool(rng.random() < 0.6),
            "n_gt": n_gt,
            "n_pred": n_pred,
            "n_matched": min(n_gt, n_pred, int(rng.integers(0, 5))),
            **{f"hit@{t}": iou >= float(t) for t in ("0.5", "0.75", "0.9")},
        }
        rec = {"sample_id": str(i), "status": "ok", **{f: values[f] for f in fields if f in values}}
        if "n_gt_mask" in fields and rng.random() < 0.6:  # RIC: only images whose GT all carry masks
            rec.update(n_pred_mask=n_pred, n_gt_mask=n_gt, n_matched_mask=min(rec["n_matched"], int(rng.integers(0, 3))))
        records.append(rec)
    return records


def test_every_scorer_has_an_independent_formula_here():
    assert set(INDEPENDENT) == set(SCORERS)
    assert declared_estimators("res", "official") == {}
    for (task, protocol), formulas in INDEPENDENT.items():
        assert set(declared_estimators(task.value, protocol)) == set(formulas), (task, protocol)


@pytest.mark.parametrize("key", sorted(INDEPENDENT, key=lambda k: (k[0].value, k[1])), ids=lambda k: f"{k[0].value}-{k[1]}")
def test_declared_estimators_equal_plain_numpy_on_random_records(key):
    task, protocol = key
    est = declared_estimators(task.value, protocol)
    if not est:
        return
    fields = tuple(f for e in est.values() for f in e.fields)
    rng = np.random.default_rng(len(fields) * 7919 + len(protocol))
    for n in (1, 17, 500):
        records = _random_records(rng, fields, n)
        exact = estimate_records(est, records)
        for name, formula in INDEPENDENT[key].items():
            expected = formula(records)
            if not np.isfinite(expected):  # nothing to count: the declaration says what is reported
                assert exact.get(name, OMIT) in (0.0, None, OMIT), (name, exact.get(name))
                continue
            assert exact[name] == pytest.approx(expected, rel=1e-12, abs=1e-15), name
            # the paired statistics (`padt-eval compare`) see the same value
            assert est[name].ratio_data(records).value() == pytest.approx(expected, rel=1e-12, abs=1e-15), name


def _check_compute(metric, protocol: str, records, in_order: bool = False) -> dict:
    """compute() holds every declared value the records give, bit for bit; returns them."""
    values = metric.compute()
    declared = type(metric).declared(metric.task)
    assert set(declared) == set(INDEPENDENT[(metric.task, protocol)])
    from_records = estimate_records(declared, records, in_order=in_order)
    for name, v in from_records.items():
        assert values[name] == v, name
    assert from_records, "the case must produce at least one declared value"
    return from_records


def _pairs(rng, task, n):
    samples, preds = [], []
    for i in range(n):
        h, w = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        gt_mask = random_mask(rng, h, w, empty_p=0.0) if task == Task.RES else None
        s = sample(str(i), h, w, random_box(rng, h, w), gt_mask, task)
        s.meta["image_id"] = int(rng.integers(0, n // 3 + 1))
        if rng.random() < 0.15:
            s.expression = "the same words"
        samples.append(s)
        u = rng.random()
        if u < 0.1:
            preds.append(prediction(str(i), status=ParseStatus.FAILED))
        elif u < 0.2:
            preds.append(prediction(str(i)))
        else:
            objs = []
            for _ in range(int(rng.integers(1, 3))):
                m = random_mask(rng, h, w) if task == Task.RES and rng.random() < 0.9 else None
                objs.append(ObjectPred(bbox=random_box(rng, h, w), mask=rle.encode(m) if m is not None else None))
            preds.append(prediction(str(i), objs))
    return samples, preds


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
def test_rec_res_compute_is_the_declaration_over_their_records(task):
    rng = np.random.default_rng(11)
    samples, preds = _pairs(rng, task, 120)
    metric = RecMetric() if task == Task.REC else ResMetric()
    records = metric.update_many(samples, preds)
    values = _check_compute(metric, "standard", records)
    for name, formula in INDEPENDENT[(task, "standard")].items():
        assert values[name] == pytest.approx(formula(records), rel=1e-12), name


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
def test_release_protocol_aggregates_are_the_declaration_over_its_records(task):
    rng = np.random.default_rng(12)
    samples, preds = _pairs(rng, task, 90)
    metric = ReleaseMetric(task)
    metric.update_many(samples, preds)
    records = metric.final_records()
    assert any(r["key_items"] > 1 for r in records)  # key pooling was exercised
    values = _check_compute(metric, "padt-release", records, in_order=True)
    for name, formula in INDEPENDENT[(task, "padt-release")].items():
        assert values[name] == pytest.approx(formula(records), rel=1e-12), name


def _generalized_pairs(rng: np.random.Generator, task: Task, n: int, size: int = 24):
    samples, preds = [], []
    for i in range(n):
        gts = []
        for _ in range(int(rng.integers(0, 3))):
            m = random_mask(rng, size, size, empty_p=0.0)
            gts.append(GroundTruthObject(bbox=random_box(rng, size, size), mask=rle.encode(m)))
        samples.append(Sample(str(i), task, ImageRef(f"{i}.png", size, size), expression=str(i), objects=gts))
        u = rng.random()
        if u < 0.1:
            preds.append(Prediction(str(i), parse_status=ParseStatus.MISSING))
            continue
        objs = []
        for g in gts if u < 0.4 else []:  # some answers near their targets, so hits happen
            objs.append(ObjectPred(bbox=list(g.bbox), mask=g.mask, score=float(rng.random())))
        for _ in range(int(rng.integers(0, 3))):
            m = random_mask(rng, size, size)
            objs.append(ObjectPred(bbox=random_box(rng, size, size), mask=rle.encode(m), score=float(rng.random())))
        preds.append(Prediction(str(i), objects=objs))
    return samples, preds


@pytest.mark.parametrize("protocol", ["standard", "official"])
@pytest.mark.parametrize("task", [Task.GREC, Task.GRES])
def test_generalized_compute_is_the_declaration_over_their_records(task, protocol):
    rng = np.random.default_rng(13)
    samples, preds = _generalized_pairs(rng, task, 80)
    metric = GrecMetric(protocol) if task == Task.GREC else GresMetric(protocol)
    records = [metric.update(s, p) for s, p in zip(samples, preds)]
    assert any(r["no_target"] for r in records) and any(r["has_target"] for r in records)
    values = _check_compute(metric, protocol, records)
    for name, formula in INDEPENDENT[(task, protocol)].items():
        if name in values and not (protocol == "official" and name in ("n_acc", "t_acc")):
            assert values[name] == pytest.approx(formula(records), rel=1e-12), name
    # the threshold sweep scores with the same declaration: at the threshold compute uses
    # (GREC: 0.7; GRES: none, i.e. every object, as at 0 with scores in [0, 1]) it gives compute's values
    th = 0.7 if task == Task.GREC else 0.0
    row = next(r for r in metric.sweep() if r["threshold"] == th)
    assert {k: v for k, v in row.items() if k != "threshold"} == {k: values[k] for k in row if k != "threshold"}


def test_grounding_values_are_the_declaration_over_the_image_counts():
    rng = np.random.default_rng(14)
    g = GroundingCounts()
    records = []
    for _ in range(150):
        gts = []
        with_masks = rng.random() < 0.5
        for _ in range(int(rng.integers(0, 4))):
            m = random_mask(rng, 20, 20, empty_p=0.0)
            gts.append(GroundTruthObject(bbox=random_box(rng, 20, 20), mask=rle.encode(m) if with_masks else None))
        objs = [
            ObjectPred(bbox=random_box(rng, 20, 20), mask=rle.encode(random_mask(rng, 20, 20)) if rng.random() < 0.7 else None)
            for _ in range(int(rng.integers(0, 4)))
        ]
        records.append(g.add(objs, gts))
    values = g.values()
    assert values == estimate_records(GroundingCounts.ESTIMATORS, records)
    for name, formula in _GROUNDING.items():
        assert values[name] == pytest.approx(formula(records), rel=1e-12), name
