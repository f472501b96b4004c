"""GREC (gRefCOCO, generalized REC): Pr@(F1=1, IoU≥0.5), N-acc and T-acc.

Every sample's answer is a set of boxes, kept when their score is at least the score
threshold (0.7, the official value; an unscored box is always kept). Kept boxes are matched
one to one with the targets; TP = matched pairs, FP = kept boxes left over, FN = targets
left over, F1 = 2TP / (2TP + FP + FN). A sample with targets is correct iff every box
matched and every target was found (F1 = 1); a no-target sample is correct iff nothing is
kept. Pr@(F1=1) is the share of correct samples, over all samples.
N-acc = no-target samples with nothing kept / no-target samples;
T-acc = target samples with at least one box kept / target samples.

Two protocols (metrics.json `protocol` lists the rules used):

* `official` reproduces gRefCOCO's `RefExpEvaluator.summarize`
  (henghuiding/gRefCOCO@b4b1e55, mdetr/datasets/refexp.py): boxes sorted by score, pairs
  matched **greedily** (highest first) while their **generalized** IoU is ≥ 0.5, scores
  compared as the float32 values MDETR holds them in (so 0.7 itself is dropped; the GIoU is
  computed in float64 here, float32 there, which can only matter at a tie with 0.5). The code
  names the counts the other way round (its "TP" is a correct rejection, its "TN" a target
  sample with a box); the values are the same.
* `standard` (padt-eval): plain IoU ≥ 0.5 and a **maximum** one-to-one matching, so a
  sample's verdict does not depend on the order the greedy pass took pairs in, and a
  GIoU penalty for the empty space of the enclosing box does not reject a box whose IoU
  passes.

Both protocols: a sample whose output was not read counts as wrong on every count (never
a correct rejection); a ratio with nothing to count is left out with a note (the official
code divides by zero, and it raises on an empty box list or a reversed box, which are
scored here as no box and as a zero-area box).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from padt_eval.core import rle
from padt_eval.core.boxes import box_area, box_iou
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base
from padt_eval.metrics.estimators import FieldSums, mean
from padt_eval.metrics.generalized import (
    REJECTION_ESTIMATORS,
    SWEEP,
    UNSCORED,
    has_scores,
    kept,
    rejects_everything_note,
    undefined_notes,
)

SCORE_THRESHOLD = 0.7
IOU_THRESHOLD = 0.5
PROTOCOLS = ("standard", "official")
BREAKDOWN = (
    "correct_rejection",
    "false_alarm",  # no-target sample, boxes kept
    "exact",
    "false_rejection",  # target sample, nothing kept
    "missed_targets",  # FN > 0, FP = 0
    "extra_boxes",  # FP > 0, FN = 0
    "missed_and_extra",
    "not_answered",
)


def generalized_iou(a: list[float], b: list[float]) -> float:
    """GIoU of two xyxy boxes as MDETR's `generalized_box_iou` computes it (IoU minus the
    share of the enclosing box outside the union). A reversed box has zero area here (the
    official code asserts instead); an empty union gives IoU 0 and an empty enclosing box GIoU = IoU."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = box_area(a) + box_area(b) - inter
    iou = inter / union if union > 0 else 0.0
    enclosing = max(0.0, max(a[2], b[2]) - min(a[0], b[0])) * max(0.0, max(a[3], b[3]) - min(a[1], b[1]))
    return iou - (enclosing - union) / enclosing if enclosing > 0 else iou


def greedy_matches(sim: list[list[float]], threshold: float) -> int:
    """The official pass: take the highest remaining pair while it is ≥ threshold, then
    zero its row and column; at most min(rows, cols) pairs. Ties go to the first pair in
    row-major order."""
    rows = [list(r) for r in sim]
    n_rows, n_cols = len(rows), len(rows[0]) if rows else 0
    tp = 0
    for _ in range(min(n_rows, n_cols)):
        best, bi, bj = _argmax(rows)
        if best < threshold:
            break
        tp += 1
        for j in range(n_cols):
            rows[bi][j] = 0.0
        for i in range(n_rows):
            rows[i][bj] = 0.0
    return tp


def _argmax(rows: list[list[float]]) -> tuple[float, int, int]:
    best, bi, bj = float("-inf"), 0, 0
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if v > best:
                best, bi, bj = v, i, j
    return best, bi, bj


def maximum_matches(sim: list[list[float]], threshold: float) -> int:
    """The size of a maximum one-to-one matching over pairs with sim ≥ threshold
    (augmenting paths; a sample has a handful of boxes)."""
    edges = [[j for j, v in enumerate(r) if v >= threshold] for r in sim]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(augment(i, set()) for i in range(len(sim)))


def _float32(score: float | None) -> float:
    """A score as the official pipeline holds it: a float32 tensor element (None: kept, as 1)."""
    return 1.0 if score is None else float(np.float32(score))


def _boxes(pred: Prediction, threshold: float | None, official: bool) -> list[list[float]]:
    if not official:
        return [_box(o) for o in kept(pred.objects, threshold)]
    # The evaluator compares float32 scores with the float64 threshold (a score of exactly
    # 0.7 is 0.69999999 there and is dropped) and sorts (score, box) pairs, highest first.
    objs = [o for o in pred.objects if threshold is None or _float32(o.score) >= threshold]
    objs.sort(key=lambda o: (_float32(o.score), _box(o)), reverse=True)
    return [_box(o) for o in objs]


def _box(o) -> list[float]:
    # a mask-only answer (LISA-style) is scored with the tight box of its mask, as in REC
    return [float(v) for v in o.bbox] if o.bbox is not None else rle.bbox_xyxy(o.mask)


class GrecMetric(Metric):
    task = Task.GREC
    # Both protocols: Pr@(F1=1) over all samples; N-acc and T-acc left out when nothing is counted.
    ESTIMATORS = {"pr_f1": mean("correct", binary=True), **REJECTION_ESTIMATORS}

    def __init__(
        self, protocol: str = "standard", score_threshold: float = SCORE_THRESHOLD, iou_threshold: float = IOU_THRESHOLD
    ):
        if protocol not in PROTOCOLS:
            raise ValueError(f"GREC protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol_name = protocol
        self.official = protocol == "official"
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.outcomes = OutcomeCounts()
        self.breakdown: Counter[str] = Counter()
        self.sums = FieldSums.declared_by(self.ESTIMATORS)
        self.n_nt = self.n_t = self.n_multi = 0
        # (gt boxes, prediction) of every sample, for the threshold sweep
        self._kept_for_sweep: list[tuple[list[list[float]], Prediction]] = []
        self._any_scores = False

    def _match(self, gt: list[list[float]], boxes: list[list[float]]) -> int:
        if not gt or not boxes:
            return 0
        if self.official:
            return greedy_matches([[generalized_iou(b, g) for g in gt] for b in boxes], self.iou_threshold)
        return maximum_matches([[box_iou(b, g) for g in gt] for b in boxes], self.iou_threshold)

    def judge(self, gt: list[list[float]], pred: Prediction, threshold: float | None) -> dict[str, Any]:
        """One sample's verdict at a score threshold: kept boxes, TP/FP/FN, F1, correct."""
        answered = is_answered(pred)
        boxes = _boxes(pred, threshold, self.official) if answered else []
        tp = self._match(gt, boxes)
        fp, fn = len(boxes) - tp, len(gt) - tp
        if not gt:
            f1 = 1.0 if answered and not boxes else 0.0
        else:
            f1 = 2 * tp / (2 * tp + fp + fn)
        correct = answered and fp == 0 and fn == 0
        return {"answered": answered, "n_kept": len(boxes), "tp": tp, "fp": fp, "fn": fn, "f1": f1, "correct": correct}

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        rec = record_base(sample, pred)
        gt = [o.bbox for o in sample.objects]
        v = self.judge(gt, pred, self.score_threshold)
        self.outcomes.add(pred, has_object=v["n_kept"] > 0)
        self._any_scores |= has_scores(pred)
        self._kept_for_sweep.append((gt, pred))
        if not gt:
            self.n_nt += 1
            kind = _no_target_kind(v)
        else:
            self.n_t += 1
            self.n_multi += len(gt) > 1
            kind = _target_kind(v)
        self.breakdown[kind] += 1
        rec.update(no_target=not gt, n_targets=len(gt), **{k: v[k] for k in ("n_kept", "tp", "fp", "fn", "f1", "correct")})
        rec.update(_rejection_fields(gt, v, kind))
        rec["outcome"] = kind
        self.sums.add(rec)
        return rec

    def compute(self) -> dict[str, float]:
        return self.sums.estimate(self.ESTIMATORS)

    def sweep(self) -> list[dict[str, float]]:
        """Pr@(F1=1), N-acc and T-acc at each score threshold of `SWEEP`: the declared
        estimators over each sample's verdict at that threshold."""
        rows = []
        for th in SWEEP:
            sums = FieldSums.declared_by(self.ESTIMATORS)
            for gt, pred in self._kept_for_sweep:
                v = self.judge(gt, pred, th)
                kind = _no_target_kind(v) if not gt else _target_kind(v)
                sums.add({"correct": v["correct"], **_rejection_fields(gt, v, kind)})
            rows.append({"threshold": th, **sums.estimate(self.ESTIMATORS)})
        return rows

    def counts(self) -> dict[str, int]:
        return {**self.outcomes.as_dict(), "n_no_target": self.n_nt, "n_target": self.n_t, "n_multi_target": self.n_multi}

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"breakdown": {k: int(self.breakdown[k]) for k in BREAKDOWN}}
        if self._any_scores:
            out["threshold_sweep"] = self.sweep()
        return out

    def notes(self) -> list[str]:
        rejected = self.breakdown["correct_rejection"] + self.breakdown["false_rejection"]
        return undefined_notes(self.n_nt, self.n_t, "the official code divides by zero") + rejects_everything_note(
            rejected, self.n_nt + self.n_t
        )

    def protocol(self) -> dict[str, Any]:
        common = {
            "score_threshold": f"boxes with score >= {self.score_threshold} are kept; {UNSCORED}",
            "correct": "a target sample iff F1 = 1 (every kept box matched, every target found); a no-target sample iff nothing is kept",
            "n_acc": "no-target samples with nothing kept / no-target samples",
            "t_acc": "target samples with at least one kept box / target samples",
            "misses": "missing, unparseable and errored samples are wrong on every count, never a correct rejection",
        }
        if self.official:
            return {
                "source": "henghuiding/gRefCOCO@b4b1e55 mdetr/datasets/refexp.py RefExpEvaluator.summarize",
                "match": f"greedy, highest generalized IoU first, while GIoU >= {self.iou_threshold}",
                "quirks": [
                    "generalized IoU, not IoU, decides a match (gRefCOCO issue 9)",
                    "greedy matching can find fewer pairs than exist",
                    "scores are compared as float32: a score of exactly 0.7 falls below the 0.7 threshold",
                    "counts named the other way round: its TP is a correct rejection, its TN a target sample with a box",
                    "the official code raises on an empty box list, a reversed box and a split without no-target or target samples",
                ],
                **common,
            }
        return {"match": f"maximum one-to-one matching on IoU >= {self.iou_threshold}", **common}


def _no_target_kind(v: dict[str, Any]) -> str:
    if not v["answered"]:
        return "not_answered"
    return "correct_rejection" if v["n_kept"] == 0 else "false_alarm"


def _rejection_fields(gt: list, v: dict[str, Any], kind: str) -> dict[str, bool]:
    """The N-acc / T-acc numerators and denominators of one sample."""
    return {
        "no_target": not gt,
        "has_target": bool(gt),
        "nt_rejected": kind == "correct_rejection",
        "t_answered": bool(gt) and v["n_kept"] > 0,
    }


def _target_kind(v: dict[str, Any]) -> str:
    if not v["answered"]:
        return "not_answered"
    if v["n_kept"] == 0:
        return "false_rejection"
    if v["fp"] == 0 and v["fn"] == 0:
        return "exact"
    if v["fp"] == 0:
        return "missed_targets"
    return "extra_boxes" if v["fn"] == 0 else "missed_and_extra"
