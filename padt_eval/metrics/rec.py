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
from padt_eval.metrics.errors import QueryErrors
from padt_eval.metrics.estimators import mean

THRESHOLDS = (0.5, 0.75, 0.9)


def gt_box(sample: Sample) -> list[float]:
    if len(sample.objects) != 1:
        raise ValueError(f"sample {sample.sample_id}: REC/RES needs exactly one ground-truth object, got {len(sample.objects)}")
    return sample.objects[0].bbox


class RecMetric(QueryMetric):
    task = Task.REC
    # Acc@t = mean(hit@t); mean IoU = mean(iou), misses included (as IoU 0).
    ESTIMATORS = {
        **{f"acc@{t:g}": mean(f"hit@{t:g}", binary=True) for t in THRESHOLDS},
        "mean_iou": mean("iou"),
    }

    def __init__(self, errors: QueryErrors | None = None) -> None:
        super().__init__(errors)
        self.n_box_from_mask = 0

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
        rec["iou"] = iou
        for t in THRESHOLDS:
            rec[f"hit@{t:g}"] = iou >= t
        if box is not None:
            rec["pred_bbox"] = [float(v) for v in box]
        self._classify(rec, sample, pred, box, iou)
        self.sums.add(rec)
        return rec

    def task_counts(self) -> dict[str, int]:
        return {"n_box_from_mask": self.n_box_from_mask}

    def protocol(self) -> dict[str, Any]:
        return {
            "selection": ANSWER_RULE,
            "hit_rule": "IoU >= threshold",
            "iou": "continuous, boxes as given (no clipping, reversed box = empty)",
            "misses": "missing, unparseable, errored and box-less samples count as IoU 0",
        }
