"""The synthetic gRefCOCO case that gRefCOCO's and ReLA's own scorers were run on once
(tests/fixtures/official_scorers/README.md), as plain data, and its conversion to padt-eval
samples and predictions.

GREC: 12 samples, 100x100 images. Besides the ordinary outcomes it holds the two traps
where the protocols part: a box whose IoU passes 0.5 but whose generalized IoU does not
(`giou_trap`), and two boxes that greedy matching pairs wrongly (`greedy_trap`: box A takes
target 1, which box B also reaches, and target 2 is left unmatched). Every sample has at
least one predicted box, because the official evaluator cannot take an empty list.

GRES: 9 samples, 10x10 masks given as rectangles [y0, y1, x0, x1); a prediction is a list
of objects, each a list of rectangles; [] is a rejection.
"""

from __future__ import annotations

import numpy as np

from padt_eval.core import rle
from padt_eval.core.boxes import xywh_to_xyxy
from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, Prediction, Sample, Task

GREC_SIZE = 100
# sample id -> (ground-truth boxes xywh, [] = no target; predicted (score, xyxy) pairs)
GREC_CASE: dict[str, tuple[list[list[float]], list[tuple[float, list[float]]]]] = {
    "exact_single": ([[10, 10, 30, 30]], [(0.9, [11, 10, 41, 40])]),
    "giou_trap": ([[10, 10, 20, 20]], [(0.95, [13.4, 13.4, 33.4, 33.4])]),
    "greedy_trap": ([[20, 20, 10, 10], [24, 20, 10, 10]], [(0.9, [21, 20, 31, 30]), (0.8, [17, 20, 27, 30])]),
    "low_score_dropped": ([[50, 50, 20, 20]], [(0.69, [50, 50, 70, 70])]),
    "score_at_threshold": ([[5, 5, 20, 20]], [(0.7, [5, 5, 25, 25])]),
    "extra_box": ([[60, 60, 20, 20]], [(0.9, [60, 60, 80, 80]), (0.8, [0, 0, 5, 5])]),
    "multi_exact": (
        [[10, 50, 20, 20], [50, 10, 20, 20]],
        [(0.85, [10, 50, 30, 70]), (0.75, [50, 10, 70, 30]), (0.1, [0, 0, 3, 3])],
    ),
    "nt_reject": ([], [(0.2, [0, 0, 5, 5])]),
    "nt_false_alarm": ([], [(0.9, [10, 10, 30, 30])]),
    "nt_reject_mid_score": ([], [(0.5, [1, 1, 9, 9])]),
    "missed_one": ([[10, 10, 20, 20], [60, 60, 20, 20]], [(0.9, [10, 10, 30, 30])]),
    "wrong_place": ([[70, 70, 20, 20]], [(0.9, [0, 0, 20, 20])]),
}

GRES_SIZE = 10
Rect = tuple[int, int, int, int]
# sample id -> (ground-truth objects, each a rectangle; [] = no target; predicted objects, each a list of rectangles)
GRES_CASE: dict[str, tuple[list[Rect], list[list[Rect]]]] = {
    "nt_reject": ([], []),
    "nt_false_alarm": ([], [[(0, 2, 0, 3)]]),
    "perfect": ([(0, 5, 0, 5)], [[(0, 5, 0, 5)]]),
    "iou_0.8": ([(0, 5, 0, 5)], [[(0, 5, 0, 4)]]),
    "iou_0.83": ([(2, 8, 2, 8)], [[(2, 8, 2, 7)]]),
    "iou_0.7": ([(0, 4, 0, 10)], [[(0, 4, 0, 7)]]),
    "target_rejected": ([(5, 10, 5, 10)], []),
    "multi_half": ([(0, 2, 0, 2), (8, 10, 8, 10)], [[(0, 2, 0, 2)]]),
    "two_objects_half": ([(3, 6, 3, 6)], [[(3, 6, 3, 6)], [(3, 6, 6, 9)]]),
}


def rect_mask(rects: list[Rect], size: int = GRES_SIZE) -> np.ndarray:
    m = np.zeros((size, size), dtype=np.uint8)
    for y0, y1, x0, x1 in rects:
        m[y0:y1, x0:x1] = 1
    return m


def _image(sid: str, size: int) -> ImageRef:
    return ImageRef(path=f"{sid}.png", width=size, height=size)


def grec_pairs() -> tuple[list[Sample], list[Prediction]]:
    samples, preds = [], []
    for sid, (gt, boxes) in GREC_CASE.items():
        objects = [GroundTruthObject(bbox=xywh_to_xyxy(b)) for b in gt]
        samples.append(Sample(sid, Task.GREC, _image(sid, GREC_SIZE), expression=sid, objects=objects))
        preds.append(Prediction(sid, objects=[ObjectPred(bbox=[float(v) for v in b], score=s) for s, b in boxes]))
    return samples, preds


def gres_pairs() -> tuple[list[Sample], list[Prediction]]:
    samples, preds = [], []
    for sid, (gt, objs) in GRES_CASE.items():
        objects = [GroundTruthObject(bbox=[r[2], r[0], r[3], r[1]], mask=rle.encode(rect_mask([r]))) for r in gt]
        samples.append(Sample(sid, Task.GRES, _image(sid, GRES_SIZE), expression=sid, objects=objects))
        preds.append(Prediction(sid, objects=[ObjectPred(mask=rle.encode(rect_mask(o)), score=0.9) for o in objs]))
    return samples, preds
