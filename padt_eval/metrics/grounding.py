"""RIC grounding: GP (greedy precision) and GR (greedy recall). Our definition.

PaDT's paper reports "GreedyPrecision" / "GreddyRecall" for RIC but defines neither and
released no scorer. padt-eval defines them as follows (write this down next to any
number you publish):

* per image, every (predicted object, GT object) pair with IoU >= 0.5 is a candidate;
  candidates are taken in descending IoU (ties: lower prediction index, then lower GT
  index) and a pair is kept when neither member is already matched — greedy one-to-one
  matching, not the optimal (Hungarian) assignment, as the metric's name says;
* matching ignores labels and phrases: a RIC object is "the thing this phrase points at",
  and PaDT's own RIC output carries no label;
* GP = Σ matched / Σ predicted objects, GR = Σ matched / Σ GT objects over the split
  (micro averages; an image with many objects weighs more);
* a sample with no usable prediction (missing, unparseable, errored) contributes 0
  predicted and its GT objects unmatched;
* the same with mask IoU (`gp_mask`, `gr_mask`) over the images whose GT objects all
  carry masks; a predicted object without a mask (or with one of the wrong size) counts
  as predicted and unmatched there;
* a ratio with a zero denominator (no predicted object at all) is null, not 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import box_iou
from padt_eval.core.types import GroundTruthObject, ObjectPred
from padt_eval.metrics.estimators import estimate, ratio

IOU_THRESHOLD = 0.5


def greedy_match(ious: Sequence[Sequence[float]], threshold: float = IOU_THRESHOLD) -> list[tuple[int, int]]:
    """Greedy one-to-one matching on an IoU matrix (rows = predictions, cols = GT)."""
    pairs = [(iou, i, j) for i, row in enumerate(ious) for j, iou in enumerate(row) if iou >= threshold]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_p: set[int] = set()
    used_g: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            out.append((i, j))
    return out


def _matrix(preds: list, gts: list, iou: Callable) -> list[list[float]]:
    return [[iou(p, g) for g in gts] for p in preds]


def mask_iou(a: dict, b: dict) -> float:
    inter, union = rlemod.intersection_and_union(a, b)
    return inter / union if union else 0.0


class GroundingCounts:
    """Integer counts behind GP/GR (box) and GP/GR (mask): the totals of the per-image
    count fields, from which the declared `ESTIMATORS` give the values."""

    KEYS = ("n_pred", "n_gt", "n_matched", "n_pred_mask", "n_gt_mask", "n_matched_mask")
    # a ratio with nothing predicted (or annotated) is null; an image without the mask
    # counts (its GT carry no masks) adds nothing to them
    ESTIMATORS = {
        "gp": ratio("n_matched", "n_pred", empty=None),
        "gr": ratio("n_matched", "n_gt", empty=None),
        "gp_mask": ratio("n_matched_mask", "n_pred_mask", optional=True, empty=None),
        "gr_mask": ratio("n_matched_mask", "n_gt_mask", optional=True, empty=None),
    }
    MASK_VALUES = ("gp_mask", "gr_mask")

    def __init__(self) -> None:
        self.c = {k: 0 for k in self.KEYS}
        self.n_images = 0
        self.mask_images = 0  # images whose GT all carry masks

    def add(self, preds: list[ObjectPred], gts: list[GroundTruthObject]) -> dict[str, int]:
        """Count one image; return its counts (for the per-sample record)."""
        boxed = [p for p in preds if p.bbox is not None or p.mask is not None]
        boxes = [p.bbox if p.bbox is not None else rlemod.bbox_xyxy(p.mask) for p in boxed]  # type: ignore[arg-type]
        matched = len(greedy_match(_matrix(boxes, [g.bbox for g in gts], box_iou)))
        rec = {"n_pred": len(boxed), "n_gt": len(gts), "n_matched": matched}
        if gts and all(g.mask is not None for g in gts):
            self.mask_images += 1
            size = gts[0].mask["size"]  # type: ignore[index]
            pm = [p.mask if p.mask is not None and list(p.mask["size"]) == list(size) else None for p in boxed]
            ious = [[mask_iou(m, g.mask) if m is not None else 0.0 for g in gts] for m in pm]
            rec.update(n_pred_mask=len(boxed), n_gt_mask=len(gts), n_matched_mask=len(greedy_match(ious)))
        elif not gts:
            rec.update(n_pred_mask=len(boxed), n_gt_mask=0, n_matched_mask=0)
        for k, v in rec.items():
            self.c[k] += v
        self.n_images += 1
        return rec

    def values(self) -> dict[str, float | None]:
        """GP/GR, and their mask versions when some image's GT all carry masks."""
        names = [k for k in self.ESTIMATORS if self.mask_images or k not in self.MASK_VALUES]
        return estimate({k: self.ESTIMATORS[k] for k in names}, self.c, self.n_images)
