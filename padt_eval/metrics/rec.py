"""REC: Acc@0.5 / Acc@0.75 / Acc@0.9 and mean box IoU, one prediction per query.

A query is correct at threshold t when IoU >= t (PaDT's and InternVL's convention). Samples
with no prediction, an unparseable output or no box count as IoU 0 and are also counted
separately. The mean IoU is over all samples, misses included.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core import rle
from padt_eval.core.answer_rule import ANSWER_RULE, select_answer
from padt_eval.core.boxes import box_iou
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import QueryMetric, is_answered, record_base

THRESHOLDS = (0.5, 0.75, 0.9)


def gt_box(sample: Sample) -> list[float]:
    if len(sample.objects) != 1:
        raise ValueError(f"sample {sample.sample_id}: REC/RES needs exactly one ground-truth object, got {len(sample.objects)}")
    return sample.objects[0].bbox


class RecMetric(QueryMetric):
    task = Task.REC
    COUNTERS = ("n_box_from_mask",)

    def __init__(self) -> None:
        super().__init__()
        self.hits = {t: 0 for t in THRESHOLDS}

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        rec = record_base(sample, pred)
        obj = select_answer(pred) if is_answered(pred) else None
        box = obj.bbox if obj is not None else None
        if obj is not None and box is None and obj.mask is not None:
            # A mask-only model (LISA-style) answers REC with the tight box of its mask.
            box = rle.bbox_xyxy(obj.mask)
            rec["box_from_mask"] = True
            self.n_box_from_mask += 1
        iou = box_iou(box, gt_box(sample)) if box is not None else 0.0
        self.outcomes.add(pred, has_object=box is not None)
        self.iou_sum.add(iou)
        rec["iou"] = iou
        for t in THRESHOLDS:
            hit = iou >= t
            self.hits[t] += hit
            rec[f"hit@{t:g}"] = hit
        if box is not None:
            rec["pred_bbox"] = [float(v) for v in box]
        self._classify(rec, sample, pred, box, iou)
        return rec

    def compute(self) -> dict[str, float]:
        n = self.iou_sum.count
        out = {f"acc@{t:g}": (self.hits[t] / n if n else 0.0) for t in THRESHOLDS}
        out["mean_iou"] = self.iou_sum.mean()
        return out

    def protocol(self) -> dict[str, Any]:
        return {
            "selection": ANSWER_RULE,
            "hit_rule": "IoU >= threshold",
            "iou": "continuous, boxes as given (no clipping, reversed box = empty)",
            "misses": "missing, unparseable, errored and box-less samples count as IoU 0",
        }
