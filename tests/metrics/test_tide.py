"""The TIDE-style OVD breakdown on a hand-built case whose dAPs are worked out by hand.

Classes A (1) and B (2); boxes xywh. Ground truth:
  image 1: A1 [0,0,10,10], B1 [20,0,10,10]
  image 2: A2 [0,0,10,10], A3 [50,50,10,10]
  image 3: B2 [0,0,10,10], A4 [20,0,10,10]
Detections (class, score, box) and what they are:
  d1 A .90 [0,0,10,10]     image 1  true positive (A1)
  d2 A .80 [20,0,10,10]    image 1  classification (IoU 1 with B1, nothing of class A)
  d3 A .70 [0,0,10,10]     image 1  duplicate (A1 already taken by d1)
  d4 A .60 [0,0,10,3]      image 2  localization (IoU 0.3 with A2)
  d5 A .50 [200,200,10,10] image 2  background
  d8 A .30 [50,50,10,10]   image 2  true positive (A3)
  d7 B .40 [20,0,10,3]     image 3  both (IoU 0.3 with A4, of the other class; 0 with B2)
  d6 B .35 [0,0,10,10]     image 3  true positive (B2)
A4 is missed (no localization/classification error points at it); B1 is claimed by d2, A2 by d4.

AP (101 recall points r = 0, .01, ..., 1; interpolated precision) by hand, in units of 1/101:
  A as is: precisions 1, 1/2, 1/3, 1/4, 1/5, 1/3 at recalls 1/4 ×5, 1/2 → 26·1 + 25·(1/3) = 34 1/3
  B as is: d7 FP then d6 TP: precision 1/2 up to recall 1/2 → 51·(1/2) = 25.5
  mAP = (34 1/3 + 25.5) / 202
  fix classification: d2 becomes a B true positive: A = 26 + 25·0.4 = 36; B: TP, FP, TP → 51 + 50·(2/3) = 84 1/3
  fix localization: d4 becomes a TP: A precisions envelope 1 to r=1/4, then 1/2 up to r=3/4 → 26 + 50·0.5 = 51
  fix duplicate (drop d3) or background (drop d5): A = 26 + 25·0.4 = 36
  fix both (drop d7): B = 51
  fix missed (A has 3 GT): A = 34·1 + 33·(1/3) = 45
"""

from __future__ import annotations

import pytest

from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, Prediction, Sample, Task
from padt_eval.metrics.detection import DetectionMetric
from padt_eval.metrics.errors import ErrorThresholds
from padt_eval.metrics.tide import ERROR_TYPES, tide_breakdown

A, B = 1, 2
GT = {
    "1": [([0, 0, 10, 10], A), ([20, 0, 10, 10], B)],
    "2": [([0, 0, 10, 10], A), ([50, 50, 10, 10], A)],
    "3": [([0, 0, 10, 10], B), ([20, 0, 10, 10], A)],
}
DETS = {
    "1": [(A, 0.9, [0, 0, 10, 10]), (A, 0.8, [20, 0, 10, 10]), (A, 0.7, [0, 0, 10, 10])],
    "2": [(A, 0.6, [0, 0, 10, 3]), (A, 0.5, [200, 200, 10, 10]), (A, 0.3, [50, 50, 10, 10])],
    "3": [(B, 0.4, [20, 0, 10, 3]), (B, 0.35, [0, 0, 10, 10])],
}
BASE = (34 + 1 / 3 + 25.5) / 202
FIXED = {
    "classification": (36 + 84 + 1 / 3) / 202,
    "localization": (51 + 25.5) / 202,
    "duplicate": (36 + 25.5) / 202,
    "background": (36 + 25.5) / 202,
    "both": (34 + 1 / 3 + 51) / 202,
    "missed": (45 + 25.5) / 202,
}


def _images():
    return [
        {
            "sample_id": sid,
            "h": 300,
            "w": 300,
            "gt": [[box, cid, 0, box[2] * box[3], None] for box, cid in GT[sid]],
            "dt": [[box, score, cid, None] for cid, score, box in DETS[sid]],
        }
        for sid in sorted(GT)
    ]


def test_hand_built_case_gives_the_hand_computed_daps():
    out = tide_breakdown(_images(), ErrorThresholds(0.5, 0.1))
    assert out["ap50"] == pytest.approx(BASE, abs=1e-12)
    for t in ERROR_TYPES:
        assert out["dap"][t] == pytest.approx(FIXED[t] - BASE, abs=1e-12), t
    assert out["counts"] == {t: 1 for t in ERROR_TYPES}
    assert out["n_true_positives"] == 3 and out["n_gt"] == 6


def test_base_ap50_equals_cocoeval_ap50():
    metric = DetectionMetric([(A, "a"), (B, "b")])
    for sid in sorted(GT):
        xyxy = lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]  # noqa: E731
        sample = Sample(
            sid,
            Task.OVD,
            ImageRef("x.png", 300, 300),
            categories=["a", "b"],
            objects=[GroundTruthObject(bbox=xyxy(b), category_id=c) for b, c in GT[sid]],
        )
        pred = Prediction(sid, objects=[ObjectPred(bbox=xyxy(b), score=s, label="a" if c == A else "b") for c, s, b in DETS[sid]])
        metric.update(sample, pred)
    assert metric.errors() is None  # only when asked for
    metric.tide_thresholds = ErrorThresholds()
    assert metric.errors()["ap50"] == pytest.approx(metric.compute()["ap50"], abs=1e-12)


def test_crowd_regions_ignore_detections_inside_them():
    images = [
        {
            "sample_id": "1",
            "h": 100,
            "w": 100,
            "gt": [[[0, 0, 50, 50], A, 1, 2500.0, None], [[60, 60, 10, 10], A, 0, 100.0, None]],
            "dt": [[[5, 5, 10, 10], 0.9, A, None], [[60, 60, 10, 10], 0.8, A, None]],
        }
    ]
    out = tide_breakdown(images)
    assert out["n_ignored"] == 1 and out["ap50"] == pytest.approx(1.0)
    assert sum(out["counts"].values()) == 0


def test_breakdown_fixes_and_per_image_counts():
    metric = DetectionMetric([(A, "a"), (B, "b")])
    metric.tide_thresholds = ErrorThresholds()
    per_image = {}
    for img in _images():
        xyxy = lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]  # noqa: E731
        sample = Sample(
            img["sample_id"],
            Task.OVD,
            ImageRef("x.png", 300, 300),
            categories=["a", "b"],
            objects=[GroundTruthObject(bbox=xyxy(b), category_id=c) for b, c, *_ in img["gt"]],
        )
        pred = Prediction(
            img["sample_id"],
            objects=[ObjectPred(bbox=xyxy(b), score=s, label="a" if c == A else "b") for b, s, c, _ in img["dt"]],
        )
        per_image[img["sample_id"]] = metric.update(sample, pred)["errors"]
    assert metric.errors()["dap"] == pytest.approx({t: FIXED[t] - BASE for t in ERROR_TYPES}, abs=1e-12)
    # the per-image counts in the records add up to the split's
    assert {t: sum(c.get(t, 0) for c in per_image.values()) for t in ERROR_TYPES} == metric.errors()["counts"]


def test_unfixed_ap50_equals_cocoeval_on_random_coco_with_crowds():
    from tests.coco_synth import random_coco
    from tests.metrics.test_detection import to_pairs

    gt, dets = random_coco(60, seed=3, n_categories=12, gt_per_image=6, dets_per_image=40, crowd_p=0.05)
    metric = DetectionMetric([(c["id"], c["name"]) for c in gt["categories"]])
    metric.tide_thresholds = ErrorThresholds()
    for s, p in to_pairs(gt, dets):
        metric.update(s, p)
    out = metric.errors()
    assert out["n_ignored"] > 0  # the crowd rule was exercised
    assert out["ap50"] == pytest.approx(metric.compute()["ap50"], abs=1e-12)
