"""`--protocol padt-release` against hand-worked cases: each shows one way the PaDT
release's scoring differs from the standard protocol on the same predictions."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.core import rle
from padt_eval.core.types import ObjectPred, ParseStatus, Task
from padt_eval.metrics.rec import RecMetric
from padt_eval.metrics.release_protocol import ReleaseDetectionMetric, ReleaseMetric, release_box_iou, release_xywh
from padt_eval.metrics.res import ResMetric
from tests.helpers import prediction, sample


def _s(sid, box, expr, image_id=1, mask=None, task=Task.REC):
    s = sample(sid, 100, 100, box, mask, task=task)
    s.expression = expr
    s.meta["image_id"] = image_id
    return s


def _score(metric, pairs):
    metric.update_many([s for s, _ in pairs], [p for _, p in pairs])
    return metric.compute()


A, B, C = [10, 10, 40, 40], [50, 50, 90, 90], [0, 60, 30, 95]


def test_best_of_n_rescues_a_wrong_first_answer():
    pairs = [(_s("0", A, "left cat"), prediction("0", [ObjectPred(bbox=B), ObjectPred(bbox=A)]))]
    assert _score(RecMetric(), pairs)["acc@0.5"] == 0.0  # standard: the first object is the answer
    assert _score(ReleaseMetric(Task.REC), pairs)["acc@0.5"] == 1.0  # release: best IoU over all objects


def test_key_collision_overwrites_ground_truth_and_pools_predictions():
    # Two samples on one image with the same expression but different objects. Each model
    # answer is wrong for its own sample but right for the other.
    pairs = [
        (_s("0", A, "a cat"), prediction("0", [ObjectPred(bbox=B)])),
        (_s("1", B, "a cat"), prediction("1", [ObjectPred(bbox=A)])),
    ]
    assert _score(RecMetric(), pairs)["acc@0.5"] == 0.0
    m = ReleaseMetric(Task.REC)
    # The key's ground truth is the last sample's (B); sample 0's answer B hits it, and
    # both items take the key's value.
    assert _score(m, pairs)["acc@0.5"] == 1.0
    recs = m.final_records()
    assert [r["key"] for r in recs] == ["1_a cat", "1_a cat"]
    assert recs[0]["gt_from"] == "1" and "gt_from" not in recs[1]
    assert m.counts()["n_key_collisions"] == 2 and m.counts()["n_keys"] == 1


def test_same_expression_on_other_images_do_not_collide():
    pairs = [
        (_s("0", A, "a cat", image_id=1), prediction("0", [ObjectPred(bbox=A)])),
        (_s("1", B, "a cat", image_id=2), prediction("1", [ObjectPred(bbox=C)])),
    ]
    m = ReleaseMetric(Task.REC)
    assert _score(m, pairs)["acc@0.5"] == 0.5
    assert m.counts()["n_key_collisions"] == 0


def test_objects_are_keyed_by_their_echoed_label():
    pairs = [
        # the echo differs from every expression on the image: ignored, scored 0
        (_s("0", A, "the left cat"), prediction("0", [ObjectPred(bbox=A, label="left cat")])),
        # echoes the *other* sample's expression: it scores for that key instead
        (
            _s("1", B, "the right dog"),
            prediction("1", [ObjectPred(bbox=C, label="the right dog"), ObjectPred(bbox=A, label="the left cat")]),
        ),
    ]
    m = ReleaseMetric(Task.REC)
    out = _score(m, pairs)
    assert out["acc@0.5"] == 0.5  # sample 0 hit through sample 1's echo; sample 1 missed
    c = m.counts()
    assert c["n_objects_unmatched"] == 1 and c["n_objects_other_key"] == 1 and c["n_objects"] == 3
    # the standard protocol never reads labels: sample 0 hits with its own box
    assert _score(RecMetric(), pairs)["acc@0.5"] == 0.5


def test_boxes_are_rounded_to_integer_xywh():
    assert release_xywh([10.4, 10.6, 20.5, 21.5]) == [10, 11, 10, 11]
    assert release_xywh([0.5, 1.5, 2.5, 3.5]) == [0, 2, 2, 2]  # round half to even, like the release
    gt, pred = [10.4, 10.4, 20.6, 20.6], [10, 10, 20, 20]
    pairs = [(_s("0", gt, "x"), prediction("0", [ObjectPred(bbox=pred)]))]
    assert ReleaseMetric(Task.REC).update_many(*zip(*pairs)) == []
    m = ReleaseMetric(Task.REC)
    _score(m, pairs)
    assert m.final_records()[0]["iou"] == 1.0  # both become [10, 10, 10, 10]
    assert RecMetric().update(*pairs[0])["iou"] == pytest.approx(9.6**2 / (100 + 10.2**2 - 9.6**2))


def test_release_iou_does_not_clamp_reversed_boxes():
    # w*h of a reversed box is negative: the union shrinks, as in the release's calculate_iou
    assert release_box_iou([0, 0, 10, 10], [0, 0, -5, -5]) == 0 / (100 + 25)
    assert release_box_iou([0, 0, 10, 10], [0, 0, 0, 0]) == 0.0
    assert release_box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_failures_and_gaps_are_misses():
    pairs = [
        (_s("0", A, "a"), prediction("0", [ObjectPred(bbox=A)], status=ParseStatus.FAILED)),
        (_s("1", B, "b"), prediction("1", status=ParseStatus.MISSING)),
        (_s("2", C, "c"), prediction("2", [ObjectPred(bbox=C)])),
    ]
    m = ReleaseMetric(Task.REC)
    assert _score(m, pairs)["acc@0.5"] == pytest.approx(1 / 3)
    c = m.counts()
    assert c["n_parse_failed"] == 1 and c["n_missing"] == 1 and c["n_samples"] == 3


def _mask(y1, y2, x1, x2):
    m = np.zeros((100, 100), bool)
    m[y1:y2, x1:x2] = True
    return m


def test_res_ciou_is_a_mean_of_best_per_object_ious():
    small, big = _mask(0, 2, 0, 5), _mask(20, 40, 0, 10)  # 10 px and 200 px
    half_big = _mask(20, 30, 0, 10)  # I = 100, U = 200
    pairs = [
        (_s("0", [0, 0, 5, 2], "small", mask=small, task=Task.RES), prediction("0", [ObjectPred(mask=rle.encode(small))])),
        (
            _s("1", [0, 20, 10, 40], "big", mask=big, task=Task.RES),
            prediction("1", [ObjectPred(mask=rle.encode(_mask(90, 99, 90, 99))), ObjectPred(mask=rle.encode(half_big))]),
        ),
    ]
    std = _score(ResMetric(), pairs)
    # standard: the first object of sample 1 is the answer (I=0, U=200+81)
    assert std["ciou"] == pytest.approx(10 / (10 + 281))
    assert std["miou"] == pytest.approx(0.5)
    rel = _score(ReleaseMetric(Task.RES), pairs)
    assert rel == {"ciou": pytest.approx((1.0 + 0.5) / 2)}  # best of N, then a mean over samples


def test_every_item_of_a_key_is_rescued_by_some_object_of_the_key():
    pairs = [
        (_s("0", A, "a cat"), prediction("0", [ObjectPred(bbox=B)])),
        (_s("1", C, "dog"), prediction("1", [ObjectPred(bbox=C)])),
        (_s("2", B, "a cat"), prediction("2", [ObjectPred(bbox=C)])),
    ]
    whole = ReleaseMetric(Task.REC)
    _score(whole, pairs)
    assert whole.compute()["acc@0.5"] == 1.0
    assert [r["sample_id"] for r in whole.final_records()] == ["0", "1", "2"]


def test_ovd_release_keeps_only_exact_lower_cased_class_names():
    from padt_eval.core.types import GroundTruthObject, ImageRef, Prediction, Sample
    from padt_eval.metrics.detection import DetectionMetric

    cats = [(1, "person"), (2, "dining table")]
    s = Sample(
        "7",
        Task.OVD,
        ImageRef("/nowhere/7.png", 100, 100),
        objects=[
            GroundTruthObject(bbox=[10, 10, 50, 50], category_id=1, area=1600.0),
            GroundTruthObject(bbox=[60, 60, 90, 90], category_id=2, area=900.0),
        ],
    )
    p = Prediction(
        "7",
        objects=[
            ObjectPred(bbox=[10, 10, 50, 50], score=0.9, label="PERSON"),
            ObjectPred(bbox=[60, 60, 90, 90], score=0.8, label="dining_table"),
        ],
    )
    std, rel = DetectionMetric(cats), ReleaseDetectionMetric(cats)
    for m in (std, rel):
        m.update(s, p)
    assert std.compute()["ap"] == pytest.approx(1.0)  # both labels map (case, underscore)
    assert rel.compute()["ap"] == pytest.approx(0.5)  # "dining_table".lower() is no class name: dropped
    assert rel.counts()["n_dets_unmapped"] == 1 and rel.protocol()["name"] == "padt-release"
