"""GRES (gRefCOCO, generalized RES): gIoU, cIoU, Pr@0.7/0.8/0.9, N-acc and T-acc.

A sample's predicted mask is the union of the masks of every object in the answer; its
ground truth the union of its non-crowd target masks (ReLA's loader drops crowd
annotations), empty for a no-target sample. The model rejects when its answer holds no
object. Intersections and unions are exact pixel counts on RLE at the original image size.

* gIoU: mean over **all** samples of the per-sample IoU, where a correctly rejected
  no-target sample scores 1 and a no-target sample given a mask scores 0;
* cIoU: ΣI / ΣU over all samples, so a mask on a no-target sample adds its area to ΣU;
* Pr@t: share of target samples with IoU ≥ t;
* N-acc: no-target samples rejected / no-target samples; T-acc: target samples not
  rejected / target samples.

Two protocols:

* `official` reproduces ReLA's `ReferEvaluator.evaluate` (henghuiding/ReLA@884ef17,
  gres_model/evaluation/refer_evaluation.py, "fix eval metrics"): the numbers above, with N-acc
  and T-acc reported as 0 when the split has no no-target sample. It also reports the
  original commit's (ReLA@a389648) smoothed, misnamed versions as `n_acc_initial_commit`
  = TP/(TP+FN+1) and `t_acc_initial_commit` = TP/(TP+FP+1) (its TP = correct rejections,
  FP = wrongly rejected target samples). Percentages there are fractions here.
* `standard` (padt-eval): the same definitions; a ratio with nothing to count is left out
  with a note instead of 0, and `miou_target` (mean IoU over target samples only) is
  added so the rejection bonus in gIoU can be seen apart.

Both: a sample whose output was not read is never a correct rejection; it scores as an
empty mask.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from pycocotools import mask as cocomask

from padt_eval.core import rle
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base
from padt_eval.metrics.estimators import OMIT, FieldSums, mean, ratio
from padt_eval.metrics.generalized import (
    REJECTION_ESTIMATORS,
    SWEEP,
    UNSCORED,
    has_scores,
    kept,
    rejects_everything_note,
    undefined_notes,
)

PR_THRESHOLDS = (0.7, 0.8, 0.9)
PROTOCOLS = ("standard", "official")
BREAKDOWN = ("correct_rejection", "false_alarm", "false_rejection", "hit@0.5", "low_iou", "not_answered")


def union_mask(rles: list[dict], height: int, width: int) -> dict:
    """The pycocotools RLE of the union of `rles` (all of size height x width); empty when none."""
    if not rles:
        return cocomask.encode(np.zeros((height, width), dtype=np.uint8, order="F"))
    return rles[0] if len(rles) == 1 else cocomask.merge(rles, intersect=False)


def _area(r: dict) -> int:
    return int(cocomask.area(r))


class GresMetric(Metric):
    task = Task.GRES
    # Both protocols; the official one reports N-acc / T-acc as 0 where ReLA does (`compute`).
    ESTIMATORS = {
        "giou": mean("iou"),
        "ciou": ratio("intersection", "union", empty=OMIT),
        **REJECTION_ESTIMATORS,
    }

    def __init__(self, protocol: str = "standard"):
        if protocol not in PROTOCOLS:
            raise ValueError(f"GRES protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol_name = protocol
        self.official = protocol == "official"
        self.outcomes = OutcomeCounts()
        self.breakdown: Counter[str] = Counter()
        self.sums = FieldSums.declared_by(self.ESTIMATORS)
        self.n_size_mismatch = 0
        self._for_sweep: list[tuple[bool, dict, int, Prediction, int, int]] = []
        self._any_scores = False

    def _pred_mask(self, pred: Prediction, threshold: float | None, height: int, width: int) -> tuple[bool, dict | None]:
        """(rejected, union of the answer's masks or None when it has none)."""
        if not is_answered(pred):
            return False, None
        objs = kept(pred.objects, threshold)
        masks = []
        for o in objs:
            if o.mask is None:
                continue
            m = rle.to_cocotools(o.mask)
            if list(m["size"]) != [height, width]:
                self.n_size_mismatch += 1
                continue
            masks.append(m)
        return not objs, (union_mask(masks, height, width) if masks else None)

    def judge(self, gt: dict, gt_area: int, pred: Prediction, threshold: float | None, height: int, width: int) -> dict[str, Any]:
        rejected, p = self._pred_mask(pred, threshold, height, width)
        a_p = _area(p) if p is not None else 0
        inter = _area(cocomask.merge([p, gt], intersect=True)) if p is not None and gt_area else 0
        return {"answered": is_answered(pred), "rejected": rejected, "i": inter, "u": a_p + gt_area - inter}

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        rec = record_base(sample, pred)
        h, w = sample.image.height, sample.image.width
        no_target = not sample.objects
        gt = union_mask([rle.to_cocotools(o.mask) for o in sample.objects if not o.iscrowd and o.mask is not None], h, w)
        gt_area = _area(gt)
        v = self.judge(gt, gt_area, pred, None, h, w)
        self.outcomes.add(pred, has_object=not v["rejected"] and v["answered"])
        self._any_scores |= has_scores(pred)
        self._for_sweep.append((no_target, gt, gt_area, pred, h, w))
        fields, kind = self._add(no_target, v)
        self.breakdown[kind] += 1
        rec.update(
            no_target=no_target, rejected=v["rejected"], intersection=v["i"], union=v["u"], iou=fields["iou"], outcome=kind
        )
        # the N-acc / T-acc numerators and denominators of this sample (paired comparisons)
        rec.update(has_target=fields["has_target"], nt_rejected=fields["nt_rejected"], t_answered=fields["t_answered"])
        return rec

    def _add(self, no_target: bool, v: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Score one sample's verdict into the declared state; returns its fields and outcome."""
        inter, union = v["i"], v["u"]
        if no_target:
            # a correct rejection scores IoU 1; a mask where there is nothing is all union
            rejected = v["rejected"]
            iou, kind = (1.0, "correct_rejection") if rejected else (0.0, "false_alarm" if v["answered"] else "not_answered")
            answered = False
        else:
            answered = v["answered"] and not v["rejected"]  # an unread answer is no success for T-acc either
            if not answered:
                inter = 0
            iou = inter / union if union else 0.0
            kind = (
                "not_answered"
                if not v["answered"]
                else "false_rejection"
                if v["rejected"]
                else "hit@0.5"
                if iou >= 0.5
                else "low_iou"
            )
        fields = {
            "iou": iou,
            "intersection": inter,
            "union": union,
            "no_target": no_target,
            "has_target": not no_target,
            "nt_rejected": kind == "correct_rejection",
            "t_answered": answered,
        }
        self.sums.add(fields)
        return fields, kind

    def _target_ious(self) -> list[float]:
        columns = self.sums.columns
        return [iou for iou, t in zip(columns["iou"].values, columns["has_target"].values) if t]

    def compute(self) -> dict[str, float]:
        declared = self.sums.estimate(self.ESTIMATORS)
        totals = self.sums.totals()
        n_nt, n_t = totals["no_target"], totals["has_target"]
        out: dict[str, float] = {k: declared[k] for k in ("giou", "ciou") if k in declared}
        target_ious = self._target_ious()
        if n_t:
            out.update({f"pr@{t:g}": sum(iou >= t for iou in target_ious) / n_t for t in PR_THRESHOLDS})
        if self.official:
            tp, fp = totals["nt_rejected"], n_t - totals["t_answered"]
            out["t_acc"] = declared["t_acc"] if n_nt and n_t else 0.0
            out["n_acc"] = declared["n_acc"] if n_nt else 0.0
            out["t_acc_initial_commit"] = tp / (tp + fp + 1) if n_nt else 0.0
            out["n_acc_initial_commit"] = tp / (n_nt + 1) if n_nt else 0.0
        else:
            out.update({k: declared[k] for k in ("n_acc", "t_acc") if k in declared})
            if n_t:
                out["miou_target"] = math.fsum(target_ious) / n_t
        return out

    def sweep(self) -> list[dict[str, float]]:
        """gIoU, cIoU, N-acc and T-acc with the objects below each score threshold dropped."""
        rows = []
        for th in SWEEP:
            probe = GresMetric(self.protocol_name)
            for no_target, gt, gt_area, pred, h, w in self._for_sweep:
                probe._add(no_target, probe.judge(gt, gt_area, pred, th, h, w))
            rows.append(
                {"threshold": th, **{k: v for k, v in probe.compute().items() if k in ("giou", "ciou", "n_acc", "t_acc")}}
            )
        return rows

    def counts(self) -> dict[str, int]:
        totals = self.sums.totals()
        return {
            **self.outcomes.as_dict(),
            "n_no_target": totals["no_target"],
            "n_target": totals["has_target"],
            "n_mask_size_mismatch": self.n_size_mismatch,
        }

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"breakdown": {k: int(self.breakdown[k]) for k in BREAKDOWN}}
        if self._any_scores:
            out["threshold_sweep"] = self.sweep()
        return out

    def notes(self) -> list[str]:
        totals = self.sums.totals()
        nt, t = totals["no_target"], totals["has_target"]
        notes = undefined_notes(nt, t, "the official code reports 0") if not self.official else []
        if self.official and nt == 0:
            notes.append("N-acc and T-acc are reported as 0 because the split has no no-target sample (ReLA's rule)")
        notes += rejects_everything_note(self.breakdown["correct_rejection"] + self.breakdown["false_rejection"], self.sums.n)
        if self.n_size_mismatch:
            notes.append(f"{self.n_size_mismatch} predicted masks differ in size from their image and were left out")
        return notes

    def protocol(self) -> dict[str, Any]:
        common = {
            "pred_mask": "union of every answered object's mask; the answer rejects when it holds no object",
            "gt_mask": "union of the non-crowd target masks (empty for a no-target sample)",
            "giou": "mean per-sample IoU over all samples; a correct rejection scores 1, a mask on a no-target sample 0",
            "ciou": "sum of intersections / sum of unions over all samples (a mask on a no-target sample adds its area)",
            "pr": "share of target samples with IoU >= 0.7 / 0.8 / 0.9",
            "score_threshold": f"none (every object counts); the threshold sweep drops low scores; {UNSCORED}",
            "misses": "missing, unparseable and errored samples score as an empty mask and are never a correct rejection",
        }
        if self.official:
            return {
                "source": "henghuiding/ReLA@884ef17 gres_model/evaluation/refer_evaluation.py ReferEvaluator.evaluate",
                "quirks": [
                    "N-acc and T-acc are 0 (not undefined) on a split without no-target samples",
                    "the initial commit (ReLA@a389648) computed T-acc = TP/(TP+FP+1) and N-acc = TP/(TP+FN+1) with TP the "
                    "correct rejections: reported as *_initial_commit",
                    "counts named the other way round: its TP is a correct rejection, its TN a target sample given a mask",
                ],
                **common,
            }
        return {"undefined": "N-acc / T-acc / cIoU / Pr are left out (with a note) when nothing is counted", **common}
