"""REC/RES miss categories on hand-built cases; expectations from plain numpy."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.core import rle as rlemod
from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, ParseStatus, Prediction, Sample, Task
from padt_eval.data.instances import ImageInstances, Instance
from padt_eval.metrics.errors import CATEGORIES, ErrorThresholds, QueryErrors
from padt_eval.metrics.rec import RecMetric
from padt_eval.metrics.res import ResMetric

H = W = 100
TARGET = [10, 10, 30, 30]
# the instances of image 1: the target (ann 10) and two others
INSTANCE_BOXES = {10: TARGET, 11: [60, 10, 80, 30], 12: [10, 60, 40, 90], 13: [30, 10, 50, 30]}

# (sample id, predicted box or None, status, knows its annotation id, image id)
CASES = [
    ("hit_exact", TARGET, "ok", True, 1),
    ("hit_shifted", [12, 10, 30, 30], "ok", True, 1),
    ("wrong_exact", [60, 10, 80, 30], "ok", True, 1),
    ("wrong_shifted", [61, 10, 80, 30], "ok", True, 1),
    ("wrong_overlapping", [24, 10, 50, 30], "ok", True, 1),  # IoU 0.15 with the target, 0.77 with ann 13
    ("loc_narrow", [10, 10, 18, 30], "ok", True, 1),
    ("loc_corner", [20, 20, 40, 40], "ok", True, 1),
    ("near_other", [55, 5, 95, 35], "ok", True, 1),
    ("background", [90, 90, 99, 99], "ok", True, 1),
    ("no_object", None, "ok", True, 1),
    ("unparsed", None, "failed", True, 1),
    ("missing", None, "missing", True, 1),
    ("jsonl_wrong", [60, 10, 80, 30], "ok", False, 1),  # target recognised by geometry
    ("jsonl_hit", TARGET, "ok", False, 1),
    ("unknown_image", [60, 10, 80, 30], "ok", True, 2),  # image 2 has no instances
]


def _rect_mask(box) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    x1, y1, x2, y2 = box
    m[y1:y2, x1:x2] = True
    return m


def _instances() -> ImageInstances:
    return ImageInstances(
        {1: [Instance(a, [float(v) for v in b], rlemod.encode(_rect_mask(b))) for a, b in INSTANCE_BOXES.items()]},
        "hand-built",
        "0",
    )


def _sample(sid: str, task: Task, knows_ann: bool, image_id: int) -> Sample:
    meta = {"image_id": image_id, **({"ann_id": 10} if knows_ann else {})}
    return Sample(
        sid,
        task,
        ImageRef("x.png", W, H),
        expression="e",
        objects=[GroundTruthObject(bbox=[float(v) for v in TARGET], mask=rlemod.encode(_rect_mask(TARGET)))],
        meta=meta,
    )


def _prediction(sid: str, box, status: str, with_mask: bool) -> Prediction:
    if status != "ok":
        return Prediction(sid, parse_status=ParseStatus(status), parse_reason="test")
    objs = (
        []
        if box is None
        else [ObjectPred(bbox=[float(v) for v in box], mask=rlemod.encode(_rect_mask(box)) if with_mask else None)]
    )
    return Prediction(sid, objects=objs)


def _np_box_iou(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """IoU of each row of p (n×4) with each row of g (m×4), plain numpy."""
    ix = np.clip(np.minimum(p[:, None, 2], g[None, :, 2]) - np.maximum(p[:, None, 0], g[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(p[:, None, 3], g[None, :, 3]) - np.maximum(p[:, None, 1], g[None, :, 1]), 0, None)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    inter = ix * iy
    return inter / (area(p)[:, None] + area(g)[None, :] - inter)


def _np_mask_iou(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """IoU of each mask in p (n×H×W) with each mask in g (m×H×W)."""
    inter = np.logical_and(p[:, None], g[None, :]).sum(axis=(2, 3))
    union = np.logical_or(p[:, None], g[None, :]).sum(axis=(2, 3))
    return inter / union


def _expected_counts(kind: str, fg: float, bg: float) -> dict[str, int]:
    """The categories recomputed from their definitions, vectorised over the answered samples."""
    out = dict.fromkeys(CATEGORIES, 0)
    answered = [c for c in CASES if c[1] is not None and c[2] == "ok"]
    out["unparsed"] = sum(c[2] != "ok" for c in CASES)
    out["no_object"] = sum(c[2] == "ok" and c[1] is None for c in CASES)
    others = [a for a in INSTANCE_BOXES if a != 10]
    if kind == "box":
        P = np.array([c[1] for c in answered], dtype=float)
        iou_t = _np_box_iou(P, np.array([TARGET], dtype=float))[:, 0]
        iou_o = _np_box_iou(P, np.array([INSTANCE_BOXES[a] for a in others], dtype=float))
    else:
        P = np.stack([_rect_mask(c[1]) for c in answered])
        iou_t = _np_mask_iou(P, _rect_mask(TARGET)[None])[:, 0]
        iou_o = _np_mask_iou(P, np.stack([_rect_mask(INSTANCE_BOXES[a]) for a in others]))
    known = np.array([c[4] == 1 for c in answered])
    best_o = np.where(known, iou_o.max(axis=1), -1.0)  # unknown image: no other instance can count
    cats = np.select(
        [iou_t >= fg, best_o >= fg, iou_t >= bg, best_o >= bg],
        ["hit", "wrong_object", "localization", "near_other"],
        default="background",
    )
    for c in cats:
        out[str(c)] += 1
    return out


def _run(task: Task, th: ErrorThresholds, cases=CASES, with_instances: bool = True):
    inst = _instances()
    source = {"available": True, "file": "hand-built"} if with_instances else {"available": False, "why": "test"}
    errors = QueryErrors("box" if task == Task.REC else "mask", th, inst.get if with_instances else None, source)
    metric = RecMetric(errors) if task == Task.REC else ResMetric(errors)
    records = [
        metric.update(_sample(sid, task, ka, img), _prediction(sid, box, st, task == Task.RES)) for sid, box, st, ka, img in cases
    ]
    return metric, records


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
@pytest.mark.parametrize("fg,bg", [(0.5, 0.1), (0.3, 0.05), (0.8, 0.2)])
def test_categories_match_an_independent_numpy_classification(task, fg, bg):
    metric, records = _run(task, ErrorThresholds(fg, bg))
    want = _expected_counts("box" if task == Task.REC else "mask", fg, bg)
    summary = metric.errors()
    assert summary["counts"] == want
    n = len(CASES)
    assert summary["shares"] == {c: want[c] / n for c in CATEGORIES}
    assert sum(summary["shares"].values()) == pytest.approx(1.0)
    assert summary["iou"] == ("box" if task == Task.REC else "mask")
    # one category per record, and the same tally
    assert {c: sum(r["error"] == c for r in records) for c in CATEGORIES} == want


def test_every_category_occurs_at_the_default_thresholds():
    for kind in ("box", "mask"):
        counts = _expected_counts(kind, 0.5, 0.1)
        assert all(counts[c] > 0 for c in CATEGORIES), (kind, counts)
    _, records = _run(Task.REC, ErrorThresholds())
    by_id = {r["sample_id"]: r["error"] for r in records}
    assert by_id["wrong_exact"] == by_id["jsonl_wrong"] == by_id["wrong_overlapping"] == "wrong_object"
    assert by_id["jsonl_hit"] == "hit"
    assert by_id["missing"] == by_id["unparsed"] == "unparsed"
    assert by_id["unknown_image"] == "background"  # never guessed as wrong_object


def test_hit_share_is_acc_at_half_and_headline_is_unchanged():
    plain = RecMetric()
    for sid, box, st, ka, img in CASES:
        plain.update(_sample(sid, Task.REC, ka, img), _prediction(sid, box, st, False))
    tracked, _ = _run(Task.REC, ErrorThresholds())
    assert tracked.compute() == plain.compute()
    assert tracked.errors()["shares"]["hit"] == pytest.approx(tracked.compute()["acc@0.5"])
    assert plain.errors() is None


def test_without_instances_wrong_object_is_not_computed():
    metric, records = _run(Task.REC, ErrorThresholds(), with_instances=False)
    s = metric.errors()
    assert s["wrong_object_available"] is False
    assert s["shares"]["wrong_object"] is None and s["shares"]["near_other"] is None
    assert s["counts"]["wrong_object"] == 0
    assert any("not computed" in n for n in s["notes"])
    by_id = {r["sample_id"]: r["error"] for r in records}
    # a wrong-object answer far from the target falls to background by target IoU alone
    assert by_id["wrong_exact"] == "background"
    assert all(r.get("error_instances") is False for r in records if r["error"] not in ("hit", "unparsed", "no_object"))


@pytest.mark.parametrize("fg,bg", [(0.5, 0.5), (0.1, 0.5), (0.5, 0.0), (1.5, 0.1)])
def test_thresholds_are_checked(fg, bg):
    with pytest.raises(ValueError, match="thresholds"):
        ErrorThresholds(fg, bg)


def test_classify_without_instances_is_classify_of_each_value():
    """The array form (the columnar path's, no instances) against `classify` itself, on
    random IoUs and on the thresholds exactly, for several threshold pairs."""
    import numpy as np

    from padt_eval.metrics.errors import ErrorThresholds, classify, classify_without_instances

    rng = np.random.default_rng(5)
    for fg, bg in ((0.5, 0.1), (0.75, 0.3), (0.5, 0.49), (1.0, 0.01)):
        th = ErrorThresholds(foreground=fg, background=bg)
        ious = np.concatenate([rng.random(500), [0.0, 1.0, fg, bg, np.nextafter(fg, 0), np.nextafter(bg, 0)]])
        assert classify_without_instances(ious, th).tolist() == [classify(v, None, th) for v in ious.tolist()]
