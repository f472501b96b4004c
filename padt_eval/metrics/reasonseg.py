"""ReasonSeg (LISA): gIoU and cIoU with "ignore" regions left out.

A sample's ground truth is its target mask (the object's RLE) and, where the annotation has
"ignore" polygons, `meta.ignore_mask`. Ignored pixels count in neither the intersection nor
the union: I = |P ∧ G|, U = |P \\ Ignore| + |G| - I (G and Ignore never overlap), exact
pixel counts on RLE at the original image size.

Two protocols:

* `official` reproduces LISA's evaluation, `train_ds.py::validate` with
  `utils/utils.py::intersectionAndUnionGPU` and `AverageMeter` (dvlab-research/LISA@3cb2d43):
  the first query of each image only (later queries are not scored); the answer's first
  mask (LISA's first [SEG]); per-sample IoU = I / (U + 1e-5), plus 1 when U = 0 (an empty
  target answered with nothing scores 1); gIoU = ΣIoU / (n + 1e-5) (the all-reduced
  AverageMeter's average); cIoU = ΣI / (ΣU + 1e-10).
* `standard` scores it as padt-eval's RES (metrics/res.py) with ignore regions left out:
  every query; the answer rule's object; IoU = I / U exactly, 0 when U = 0; `miou` the plain
  mean and `ciou` = ΣI / ΣU. Its per-sample fields are RES's, so `compare` recomputes it
  with RES's estimators.

LISA accumulates in float32 on the GPU; both protocols here compute in float64, so LISA's
printed numbers can differ from `official` in the 7th significant digit.
"""

from __future__ import annotations

import math
from typing import Any

from pycocotools import mask as cocomask

from padt_eval.core import rle
from padt_eval.core.answer_rule import ANSWER_RULE, select_answer
from padt_eval.core.types import ObjectPred, Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base

PROTOCOLS = ("standard", "official")
SOURCE = "dvlab-research/LISA@3cb2d43 train_ds.py validate(), utils/utils.py intersectionAndUnionGPU + AverageMeter"
IOU_EPS, CIOU_EPS, COUNT_EPS = 1e-5, 1e-10, 1e-5


def _area(r: dict | None) -> int:
    return int(cocomask.area(r)) if r is not None else 0


def _and(a: dict, b: dict) -> dict:
    return cocomask.merge([a, b], intersect=True)


def intersection_union(pred: dict | None, gt: dict, ignore: dict | None) -> tuple[int, int]:
    """(I, U) of pycocotools RLEs with `ignore` pixels left out of both."""
    a_g = _area(gt)
    if pred is None:
        return 0, a_g
    inter = _area(_and(pred, gt))
    a_p = _area(pred) - (_area(_and(pred, ignore)) if ignore is not None else 0)
    return inter, a_p + a_g - inter


class ReasonSegMetric(Metric):
    task = Task.RES

    def __init__(self, protocol: str = "standard") -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"ReasonSeg protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.official = protocol == "official"
        self.outcomes = OutcomeCounts()
        self.ious: list[float] = []
        self.inter = 0
        self.union = 0
        self.n_not_scored = 0
        self.n_empty_target = 0
        self.n_size_mismatch = 0

    def _answer(self, pred: Prediction) -> ObjectPred | None:
        if not is_answered(pred) or not pred.objects:
            return None
        return pred.objects[0] if self.official else select_answer(pred)

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        rec = record_base(sample, pred)
        if self.official and sample.meta.get("query_index", 0) != 0:
            self.n_not_scored += 1  # LISA evaluates the first query of an image only
            rec.update(scored=False, reason="not scored: LISA evaluates the first query of each image only")
            return rec
        gt = rle.to_cocotools(sample.objects[0].mask)
        ignore = sample.meta.get("ignore_mask")
        ignore = rle.to_cocotools(ignore) if ignore else None
        obj = self._answer(pred)
        p = rle.to_cocotools(obj.mask) if obj is not None and obj.mask is not None else None
        if p is not None and list(p["size"]) != list(gt["size"]):
            self.n_size_mismatch += 1
            p = None
        self.outcomes.add(pred, has_object=p is not None)
        inter, union = intersection_union(p, gt, ignore)
        self.n_empty_target += sample.meta.get("empty_target", False)
        if self.official:
            iou = inter / (union + IOU_EPS) + (1.0 if union == 0 else 0.0)
        else:
            iou = inter / union if union > 0 else 0.0
        self.ious.append(iou)
        self.inter += inter
        self.union += union
        rec.update(iou=iou, intersection=inter, union=union, is_sentence=bool(sample.meta.get("is_sentence")))
        return rec

    def compute(self) -> dict[str, float]:
        n = len(self.ious)
        if self.official:
            return {"giou": math.fsum(self.ious) / (n + COUNT_EPS), "ciou": self.inter / (self.union + CIOU_EPS)}
        out: dict[str, float] = {}
        if n:
            out["miou"] = math.fsum(self.ious) / n
        if self.union:
            out["ciou"] = self.inter / self.union
        return out

    def counts(self) -> dict[str, int]:
        return {
            **self.outcomes.as_dict(),
            "n_not_scored": self.n_not_scored,
            "n_empty_target": self.n_empty_target,
            "n_mask_size_mismatch": self.n_size_mismatch,
        }

    def notes(self) -> list[str]:
        notes = []
        if self.n_not_scored:
            notes.append(f"{self.n_not_scored} later queries of an image were not scored (LISA scores the first query only)")
        if self.n_empty_target:
            rule = "an empty answer scores IoU 1 on them" if self.official else "they score IoU 0 whatever the answer"
            notes.append(f"{self.n_empty_target} samples have no target pixel (LISA issue 157); {rule}")
        if self.n_size_mismatch:
            notes.append(f"{self.n_size_mismatch} predicted masks differ in size from their image and were scored as no mask")
        return notes

    def protocol(self) -> dict[str, Any]:
        common = {
            "ignore": "pixels of 'ignore' polygons count in neither intersection nor union",
            "resolution": "original image size, exact integer pixel counts on RLE",
        }
        if self.official:
            return {
                "source": SOURCE,
                "queries": "the first query of each image only",
                "selection": "the answer's first mask (LISA's first [SEG]); none: an empty mask",
                "giou": "sum of I/(U+1e-5) (+1 when U = 0) over samples / (n + 1e-5)",
                "ciou": "sum of I / (sum of U + 1e-10)",
                "precision": "float64 here; LISA accumulates in float32",
                **common,
            }
        return {
            "queries": "every query of every image",
            "selection": ANSWER_RULE,
            "miou": "mean over samples of I/U (gIoU); empty union scores 0",
            "ciou": "sum of intersections / sum of unions",
            **common,
        }
