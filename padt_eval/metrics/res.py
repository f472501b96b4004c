"""RES: mIoU (mean per-sample mask IoU, a.k.a. gIoU) and cIoU (ΣI / ΣU over the split).

Intersections and unions are exact integer pixel counts computed on RLE (no decoding).
A prediction without a mask counts as an empty mask (I = 0, U = |GT|). A sample whose
union is empty has IoU 0. Both are declared on the per-sample fields (`ESTIMATORS`):
cIoU sums integers; mIoU's mean is rounded once from the exact sum of the per-sample
IoUs (`estimators.Column`), so neither depends on sample order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from padt_eval.core import rle
from padt_eval.core.answer_rule import ANSWER_RULE, select_answer
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import QueryMetric, is_answered, record_base
from padt_eval.metrics.errors import QueryErrors
from padt_eval.metrics.estimators import mean, ratio


def gt_mask(sample: Sample) -> rle.RLE:
    if len(sample.objects) != 1 or sample.objects[0].mask is None:
        raise ValueError(f"sample {sample.sample_id}: RES needs exactly one ground-truth object with a mask")
    return sample.objects[0].mask


class ResMetric(QueryMetric):
    task = Task.RES
    ESTIMATORS = {"miou": mean("iou"), "ciou": ratio("intersection", "union")}

    def __init__(self, errors: QueryErrors | None = None) -> None:
        super().__init__(errors)
        self.n_mask_size_mismatch = 0

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        return self.update_many([sample], [pred])[0]

    def update_many(self, samples: Sequence[Sample], preds: Sequence[Prediction]) -> list[dict[str, Any]]:
        # Areas of a whole batch go through one pycocotools call each (ground truths,
        # predictions, intersections): the per-call overhead is most of an area's cost.
        records, gts, masks, inters, scored_masks = [], [], [], [], []
        for sample, pred in zip(samples, preds):
            rec = record_base(sample, pred)
            obj = select_answer(pred) if is_answered(pred) else None
            g = rle.to_cocotools(gt_mask(sample))
            p = rle.to_cocotools(obj.mask) if obj is not None and obj.mask is not None else None
            if p is not None and list(p["size"]) != list(g["size"]):
                # A mask of the wrong size cannot be compared; it is scored as no mask.
                self.n_mask_size_mismatch += 1
                msg = f"predicted mask size {list(p['size'])} differs from ground truth size {list(g['size'])}"
                rec["reason"] = f"{rec['reason']}; {msg}" if "reason" in rec else msg
                p = None
            self.outcomes.add(pred, has_object=p is not None)
            records.append(rec)
            scored_masks.append(obj.mask if p is not None else None)  # the mask scored, canonical RLE
            gts.append(g)
            masks.append(p)
            if p is not None:
                inters.append(rle.intersection(p, g))
        gt_areas = rle.areas(gts)
        pred_areas = iter(rle.areas([p for p in masks if p is not None]))
        inter_areas = iter(rle.areas(inters))
        for rec, p, a_g, sample, pred, answer in zip(records, masks, gt_areas.tolist(), samples, preds, scored_masks):
            if p is None:
                inter, union = 0, a_g
            else:
                inter = int(next(inter_areas))
                union = int(next(pred_areas)) + a_g - inter
            iou = inter / union if union > 0 else 0.0
            rec.update(iou=iou, intersection=inter, union=union)
            self._classify(rec, sample, pred, answer, iou)
            self.sums.add(rec)
        return records

    def task_counts(self) -> dict[str, int]:
        return {"n_mask_size_mismatch": self.n_mask_size_mismatch}

    def protocol(self) -> dict[str, Any]:
        return {
            "selection": ANSWER_RULE,
            "miou": "mean over samples of |P∧G|/|P∨G| (gIoU); empty union scores 0",
            "ciou": "sum of intersections / sum of unions over the split (cumulative IoU)",
            "no_mask": "a prediction without a mask counts as an empty mask",
            "resolution": "original image size, exact integer pixel counts on RLE",
        }
