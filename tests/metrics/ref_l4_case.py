"""The synthetic Ref-L4 case that Ref-L4's own evaluator was run on once
(tests/fixtures/official_scorers/README.md), and its conversion to samples and predictions.

18 annotations: small, medium and large ground truths; RefCOCO and Objects365 class ids that
the evaluator merges (refcoco_6 and o365_56, refcoco_16 and o365_56); boxes at IoU exactly
0.5, 0.75 and 0.9 (a hit under >=, a miss under the evaluator's strict >); non-integer
coordinates (float32 rounding); a prediction given as xywh.
"""

from __future__ import annotations

from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, Prediction, Sample, Task

# id -> (gt xywh, ori_category_id, predicted box, its format)
REF_L4_CASE: dict[str, tuple[list[float], str, list[float], str]] = {
    "000000": ([0, 0, 100, 100], "refcoco_6", [0, 0, 50, 100], "xyxy"),  # IoU 0.5 exactly
    "000001": ([10, 10, 100, 100], "o365_56", [10, 10, 110, 110], "xyxy"),  # exact
    "000002": ([0, 0, 200, 200], "refcoco_16", [0, 0, 200, 150], "xyxy"),  # IoU 0.75 exactly
    "000003": ([0, 0, 200, 200], "o365_3", [0, 0, 200, 180], "xyxy"),  # IoU 0.9 exactly
    "000004": ([5.3, 7.1, 300.2, 280.9], "o365_3", [6.1, 8.4, 300.0, 290.7], "xyxy"),  # large
    "000005": ([40.5, 60.25, 20.75, 30.5], "o365_9", [41.0, 61.0, 20.0, 30.0], "xywh"),  # small, xywh answer
    "000006": ([100, 100, 300, 300], "refcoco_44", [150, 150, 380, 380], "xyxy"),  # large, o365_9 after the merge
    "000007": ([0, 0, 127, 127], "o365_9", [0, 0, 120, 127], "xyxy"),  # small
    "000008": ([0, 0, 128, 128], "refcoco_37", [0, 0, 128, 100], "xyxy"),  # medium; the placeholder class
    "000009": ([0, 0, 256, 256], "refcoco_37", [30, 30, 286, 286], "xyxy"),  # medium (<= 256)
    "000010": ([0, 0, 257, 257], "o365_1", [0, 0, 257, 257], "xyxy"),  # large
    "000011": ([20, 20, 60, 40], "o365_1", [200, 200, 260, 240], "xyxy"),  # a miss, small
    "000012": ([12.5, 13.5, 150.25, 170.75], "refcoco_1", [20.0, 13.5, 162.75, 184.25], "xyxy"),  # medium, merged into o365_1
    "000013": ([0, 0, 90, 160], "o365_250", [0, 16, 90, 160], "xyxy"),  # IoU 0.9 with floats that round
    "000014": ([33.3, 44.4, 55.5, 66.6], "o365_250", [33.3, 44.4, 88.8, 111.0], "xyxy"),
    "000015": ([1, 1, 400, 300], "o365_7", [1, 1, 401, 301], "xyxy"),
    "000016": ([3, 4, 64, 64], "o365_7", [3, 4, 35, 68], "xyxy"),  # IoU 0.5 exactly (32 of 64 wide)
    "000017": ([50, 50, 200, 100], "refcoco_14", [60, 55, 240, 150], "xyxy"),
}


def as_xyxy(box: list[float], fmt: str) -> list[float]:
    return [box[0], box[1], box[0] + box[2], box[1] + box[3]] if fmt == "xywh" else list(box)


def ref_l4_pairs() -> tuple[list[Sample], list[Prediction]]:
    samples, preds = [], []
    for sid, (xywh, cls, box, fmt) in REF_L4_CASE.items():
        x, y, w, h = xywh
        gt = GroundTruthObject(bbox=[x, y, x + w, y + h])
        meta = {"ori_category_id": cls, "bbox_xywh": list(xywh)}
        samples.append(Sample(sid, Task.REC, ImageRef(f"{sid}.jpg", 1000, 1000), expression=sid, objects=[gt], meta=meta))
        preds.append(Prediction(sid, objects=[ObjectPred(bbox=[float(v) for v in as_xyxy(box, fmt)])]))
    return samples, preds
