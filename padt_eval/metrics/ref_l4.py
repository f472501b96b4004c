"""Ref-L4 (arXiv 2406.16866): REC with long expressions, scored as its own evaluator does.

One box per expression (the suite's answer rule). Reported:

* `acc@0.5`, `acc@0.75`, `acc@0.9` and `macc` (mean of the accuracies at IoU 0.50, 0.55,
  …, 0.95) over all annotations;
* the same at 0.5 and `macc` for small, medium and large objects: √(w·h) of the ground-truth
  box < 128, ≤ 256, > 256 pixels (`small_acc@0.5`, `small_macc`, …);
* the class-averaged `cls_acc@0.5` and `cls_macc`: per class (`meta["ori_category_id"]`,
  RefCOCO class ids merged into their Objects365 twins by the evaluator's `mapping_dict`),
  then the mean over classes.

Two protocols:

* `official` reproduces `RefL4Evaluator.evaluate` (JierunChen/Ref-L4@7476ccd,
  ref_l4/evaluation.py): a hit is a **strict** IoU > t; IoU is mmdetection's `bbox_overlaps`
  in float32 with the union floored at 1e-6. `acc@0.5_padt_eval` (IoU ≥ 0.5, float64) is
  reported beside it for comparison with the suite's REC tables.
* `standard`: IoU ≥ t in float64 (the suite's REC rule), an empty union scoring 0.

Both: a missing or unreadable answer scores IoU 0 (the official evaluator raises on a
missing id instead); a size bucket or class set with no sample is left out with a note
(the official code divides by zero).
"""

from __future__ import annotations

import math
from collections import defaultdict
from statistics import mean
from typing import Any

import numpy as np

from padt_eval.core import rle
from padt_eval.core.answer_rule import ANSWER_RULE, select_answer
from padt_eval.core.boxes import box_iou
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base

ACC_THRESHOLDS = (0.5, 0.75, 0.9)
MACC_THRESHOLDS = tuple(i / 100 for i in range(50, 100, 5))  # as the evaluator writes them
SMALL, LARGE = 128, 256
PROTOCOLS = ("standard", "official")
# The evaluator's class merge (RefCOCO class id -> Objects365 class id), read from
# JierunChen/Ref-L4@7476ccd ref_l4/evaluation.py `mapping_dict`. refcoco_37 maps to the
# placeholder "o365_100000" there ("the actual value is not provided"): it stays a class of its own.
_MERGE = (
    "1:1 10:41 11:177 13:128 14:250 15:25 16:56 17:140 18:93 19:79 2:47 20:100 21:97 22:145 23:296 24:179 25:181 "
    "27:39 28:40 3:6 31:13 32:44 33:194 34:220 35:119 36:174 37:100000 38:155 39:138 4:59 40:114 41:146 42:147 "
    "43:205 44:9 46:36 47:11 48:89 49:85 5:115 50:94 51:26 52:113 53:83 54:266 55:104 56:142 57:153 58:235 59:144 "
    "6:56 60:151 61:98 62:3 63:51 64:26 65:76 67:98 7:117 70:154 72:37 73:74 74:116 75:133 76:107 77:62 78:164 "
    "79:135 8:66 80:278 81:82 82:134 84:19 85:95 86:31 87:170 88:70 89:328 9:22 90:227"
)
CLASS_MERGE = {f"refcoco_{a}": f"o365_{b}" for a, b in (pair.split(":") for pair in _MERGE.split())}


def official_iou(pred: list[float], gt: list[float]) -> float:
    """mmdetection's aligned `bbox_overlaps` (mode iou, eps 1e-6) in float32, as the
    evaluator runs it on CPU tensors: the same IEEE operations in the same order."""
    p, g = np.asarray(pred, dtype=np.float32), np.asarray(gt, dtype=np.float32)
    area_g = (g[2] - g[0]) * (g[3] - g[1])
    area_p = (p[2] - p[0]) * (p[3] - p[1])
    wh = np.maximum(np.minimum(g[2:], p[2:]) - np.maximum(g[:2], p[:2]), np.float32(0))
    overlap = wh[0] * wh[1]
    union = np.maximum(area_g + area_p - overlap, np.float32(1e-6))
    return float(np.float32(overlap / union))


def size_bucket(w: float, h: float) -> str:
    s = math.sqrt(w * h)
    return "small" if s < SMALL else "medium" if s <= LARGE else "large"


class RefL4Metric(Metric):
    task = Task.REC

    def __init__(self, protocol: str = "standard"):
        if protocol not in PROTOCOLS:
            raise ValueError(f"Ref-L4 protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.official = protocol == "official"
        self.outcomes = OutcomeCounts()
        self.ious: list[float] = []
        self.ious_ge: list[float] = []  # float64 IoU, for the suite's own Acc@0.5 beside the official numbers
        self.buckets: dict[str, list[float]] = defaultdict(list)
        self.classes: dict[str, list[float]] = defaultdict(list)

    def _hit(self, iou: float, t: float) -> bool:
        return iou > t if self.official else iou >= t

    def _acc(self, ious: list[float], t: float) -> float:
        return sum(self._hit(v, t) for v in ious) / len(ious)

    def _macc(self, ious: list[float]) -> float:
        return mean(self._acc(ious, t) for t in MACC_THRESHOLDS)

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        rec = record_base(sample, pred)
        obj = select_answer(pred) if is_answered(pred) else None
        box = None
        if obj is not None:
            box = obj.bbox if obj.bbox is not None else (rle.bbox_xyxy(obj.mask) if obj.mask is not None else None)
        gt = sample.objects[0].bbox
        self.outcomes.add(pred, has_object=box is not None)
        iou64 = box_iou(box, gt) if box is not None else 0.0
        iou = (official_iou(box, gt) if box is not None else 0.0) if self.official else iou64
        x, y, w, h = sample.meta.get("bbox_xywh") or [gt[0], gt[1], gt[2] - gt[0], gt[3] - gt[1]]
        bucket = size_bucket(w, h)
        cls = str(sample.meta.get("ori_category_id"))
        cls = CLASS_MERGE.get(cls, cls)
        self.ious.append(iou)
        self.ious_ge.append(iou64)
        self.buckets[bucket].append(iou)
        self.classes[cls].append(iou)
        rec.update(iou=iou, size=bucket, category=cls, **{f"hit@{t:g}": self._hit(iou, t) for t in ACC_THRESHOLDS})
        return rec

    def compute(self) -> dict[str, float]:
        if not self.ious:
            return {}
        out = {f"acc@{t:g}": self._acc(self.ious, t) for t in ACC_THRESHOLDS}
        out["macc"] = self._macc(self.ious)
        for b in ("small", "medium", "large"):
            if self.buckets[b]:
                out[f"{b}_acc@0.5"] = self._acc(self.buckets[b], 0.5)
                out[f"{b}_macc"] = self._macc(self.buckets[b])
        out["cls_acc@0.5"] = mean(self._acc(v, 0.5) for v in self.classes.values())
        out["cls_macc"] = mean(mean(self._acc(v, t) for v in self.classes.values()) for t in MACC_THRESHOLDS)
        if self.official:
            out["acc@0.5_padt_eval"] = sum(v >= 0.5 for v in self.ious_ge) / len(self.ious_ge)
        return out

    def counts(self) -> dict[str, int]:
        return {
            **self.outcomes.as_dict(),
            **{f"n_{b}": len(self.buckets[b]) for b in ("small", "medium", "large")},
            "n_classes": len(self.classes),
        }

    def notes(self) -> list[str]:
        empty = [b for b in ("small", "medium", "large") if not self.buckets[b]]
        return [f"no {b} object in the split: its accuracies are left out" for b in empty] if self.ious else []

    def protocol(self) -> dict[str, Any]:
        common = {
            "selection": ANSWER_RULE,
            "sizes": f"sqrt(w*h) of the ground-truth box: small < {SMALL}, medium <= {LARGE}, large above",
            "classes": "ori_category_id with the evaluator's RefCOCO -> Objects365 merge; mean over classes",
            "macc": "mean accuracy over IoU 0.50:0.05:0.95",
            "misses": "missing and unreadable answers score IoU 0 (the official evaluator raises on a missing id)",
        }
        if self.official:
            return {
                "source": "JierunChen/Ref-L4@7476ccd ref_l4/evaluation.py RefL4Evaluator.evaluate",
                "hit_rule": "IoU > threshold (strict)",
                "iou": "mmdetection bbox_overlaps, float32, union floored at 1e-6",
                **common,
            }
        return {"hit_rule": "IoU >= threshold", "iou": "float64, empty union scores 0", **common}
