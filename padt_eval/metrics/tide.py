"""OVD error breakdown in the style of TIDE (Bolya et al., ECCV 2020): the AP50 each error costs.

padt-eval's own implementation of the published definitions (the authors' `tidecv` is
not a dependency: it imports opencv, matplotlib and seaborn; it served as a cross-check,
see docs/metrics.md). Box IoU; `fg` = 0.5 (foreground), `bg` = 0.1
(background), as in the paper.

Matching (per image): detections in descending score (ties: output order), at most 100
per image; each takes the unmatched ground truth of its class with the highest IoU >=
fg (a true positive). An unmatched detection that covers a crowd region of its class
(intersection over the detection's area >= fg) is ignored, as COCO does. Every other
detection is a false positive of exactly one type, tested in this order:

1. `localization`: its highest IoU with a GT of its own class is in [bg, fg);
2. `classification`: IoU >= fg with a GT of another class;
3. `duplicate`: IoU >= fg with a GT of its class that a higher-scoring detection took;
4. `background`: IoU < bg with every GT of the image;
5. `both`: anything else (IoU in [bg, fg) with a GT of another class).

A GT left unmatched is `missed` unless a localization or classification error could
claim it. Each type's cost is dAP = AP50(with that type fixed) − AP50(as is), floored at
0, where fixing means: a localization / classification error becomes a true positive of
the GT it points at (the GT's class), provided that GT is unmatched and this is the
highest-scoring localization-or-classification error pointing at it; otherwise (and
for duplicate, background and both errors) the detection is removed; a fixed miss is
removed from the GT count. AP50 is COCO's: 101-point interpolated precision, averaged
over the categories with at least one (non-crowd) GT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from padt_eval.metrics.errors import ErrorThresholds

ERROR_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
SCHEMA = "padt-eval/tide/v1"
MAX_DETS = 100


def _overlaps(d: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, intersection / detection area) of every detection (n×4 xywh) with every GT (m×4)."""
    ix = np.clip(
        np.minimum(d[:, None, 0] + d[:, None, 2], g[None, :, 0] + g[None, :, 2]) - np.maximum(d[:, None, 0], g[None, :, 0]),
        0,
        None,
    )
    iy = np.clip(
        np.minimum(d[:, None, 1] + d[:, None, 3], g[None, :, 1] + g[None, :, 3]) - np.maximum(d[:, None, 1], g[None, :, 1]),
        0,
        None,
    )
    inter = ix * iy
    area_d = (d[:, 2] * d[:, 3])[:, None]
    union = area_d + (g[:, 2] * g[:, 3])[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        cover = np.where(area_d > 0, inter / np.where(area_d > 0, area_d, 1.0), 0.0)
    return iou, cover


def _boxes(items: list, key: int) -> np.ndarray:
    return np.array([it[key] for it in items], dtype=np.float64).reshape(len(items), 4)


# Error codes of the detection arrays (index into _CODE_NAMES); TP and IGNORED are no error.
TP, IGNORED, LOC, CLS, DUP, BKG, BOTH = range(7)
_CODE_NAMES = (None, "ignored", "localization", "classification", "duplicate", "background", "both")
_FIX_CODE = {"localization": LOC, "classification": CLS, "duplicate": DUP, "background": BKG, "both": BOTH, "missed": -2, "": -1}


@dataclass
class _Analysis:
    """One image's (or, concatenated, the split's) matching, as arrays over its detections
    in rank order (image order, then score order inside an image) and over its GT."""

    cls: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    target: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # GT index a fix would claim, -1: none
    gt_cls: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    gt_used: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _row_max(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row maximum and its first index; 0 / 0 for rows of an empty matrix."""
    if a.shape[1] == 0:
        return np.zeros(a.shape[0]), np.zeros(a.shape[0], dtype=np.int64)
    return a.max(axis=1), a.argmax(axis=1)


def _analyse_one(img: dict[str, Any], th: ErrorThresholds) -> _Analysis:
    gts = [g for g in img["gt"] if not g[2]]
    crowds = [g for g in img["gt"] if g[2]]
    scores = np.array([float(d[1]) for d in img["dt"]], dtype=np.float64)
    ranked = np.argsort(-scores, kind="stable")[:MAX_DETS]  # descending score, ties in output order
    dts = [img["dt"][i] for i in ranked.tolist()]
    d_boxes = _boxes(dts, 0)
    iou, _ = _overlaps(d_boxes, _boxes(gts, 0))
    _, crowd_cover = _overlaps(d_boxes, _boxes(crowds, 0))
    det_cls = np.array([int(d[2]) for d in dts], dtype=np.int64)
    gt_cls = np.array([int(g[1]) for g in gts], dtype=np.int64)
    same = det_cls[:, None] == gt_cls[None, :]
    crowd_hit = (det_cls[:, None] == np.array([int(c[1]) for c in crowds], dtype=np.int64)[None, :]) & (
        crowd_cover >= th.foreground
    )
    own = np.where(same, iou, 0.0)
    # Greedy matching in score order; only detections with some own-class IoU >= fg can match.
    used = np.zeros(len(gts), dtype=bool)
    tp = np.zeros(len(dts), dtype=bool)
    for k in np.flatnonzero((own >= th.foreground).any(axis=1) if own.size else np.zeros(len(dts), dtype=bool)).tolist():
        cand = np.where(~used, own[k], -1.0)
        j = int(cand.argmax())
        if cand[j] >= th.foreground:
            used[j] = tp[k] = True
    ignored = ~tp & crowd_hit.any(axis=1) if crowd_hit.size else np.zeros(len(dts), dtype=bool)
    # The false-positive type of every other detection, in TIDE's order of tests.
    own_max, own_arg = _row_max(own)
    other_max, other_arg = _row_max(np.where(~same, iou, 0.0))
    dup_max, _ = _row_max(np.where(used[None, :], own, 0.0))
    all_max, _ = _row_max(iou)
    loc = (th.background <= own_max) & (own_max < th.foreground)
    cls = other_max >= th.foreground
    code = np.select(
        [tp, ignored, loc, cls, dup_max >= th.foreground, all_max < th.background],
        [TP, IGNORED, LOC, CLS, DUP, BKG],
        default=BOTH,
    ).astype(np.int8)
    target = np.where(code == LOC, own_arg, np.where(code == CLS, other_arg, -1)).astype(np.int64)
    return _Analysis(det_cls, scores[ranked], code, target, gt_cls, used)


def ap50_arrays(cls: np.ndarray, order: np.ndarray, score: np.ndarray, tp: np.ndarray, n_gt: dict[int, int]) -> float:
    """COCO's interpolated AP over the classes with GT (in `n_gt`'s order), from arrays of
    detections: class, rank key (ties of score), score and whether each is a true positive."""
    by = np.lexsort((order, -score, cls))  # per class: descending score, then rank
    cls, tp = cls[by], tp[by]
    bounds = np.searchsorted(cls, list(n_gt), side="left"), np.searchsorted(cls, list(n_gt), side="right")
    points = np.linspace(0.0, 1.0, 101)
    aps = []
    for n, lo, hi in zip(n_gt.values(), *bounds):
        if n <= 0:
            continue
        tps = tp[lo:hi]
        tp_cum = np.cumsum(tps)
        fp_cum = np.cumsum(~tps)
        recall = tp_cum / n
        precision = tp_cum / np.maximum(tp_cum + fp_cum, 1)
        precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
        idx = np.searchsorted(recall, points, side="left")
        q = np.where(idx < precision.size, precision[np.minimum(idx, max(precision.size - 1, 0))] if precision.size else 0.0, 0.0)
        aps.append(float(q.mean()))
    return float(np.mean(aps)) if aps else float("nan")


def _claims(a: _Analysis) -> np.ndarray:
    """Per GT: the detection allowed to claim it (the highest-scoring localization or
    classification error pointing at it while it is unmatched, the first on ties), or -1."""
    best = np.full(len(a.gt_cls), -1, dtype=np.int64)
    cand = np.flatnonzero(((a.code == LOC) | (a.code == CLS)) & (a.target >= 0))
    cand = cand[~a.gt_used[a.target[cand]]]
    if len(cand):
        by = cand[np.lexsort((cand, -a.score[cand], a.target[cand]))]
        first = np.ones(len(by), dtype=bool)
        first[1:] = a.target[by[1:]] != a.target[by[:-1]]
        best[a.target[by[first]]] = by[first]
    return best


def _class_counts(gt_cls: np.ndarray, keep: np.ndarray | None = None) -> dict[int, int]:
    """GT per class, classes in order of first appearance (the order AP averages them in)."""
    classes, first = np.unique(gt_cls, return_index=True)
    order = classes[np.argsort(first)]
    counts = np.bincount(np.searchsorted(classes, gt_cls[keep] if keep is not None else gt_cls), minlength=len(classes))
    return {int(c): int(counts[np.searchsorted(classes, c)]) for c in order}


def _fixed_ap50(a: _Analysis, fix: str, best: np.ndarray) -> float:
    code = _FIX_CODE[fix]
    order = np.arange(len(a.code))
    keep = a.code != IGNORED
    cls, tp = a.cls.copy(), a.code == TP
    missed_kept = None
    if code in (LOC, CLS):
        fixed = a.code == code
        claiming = fixed & (a.target >= 0)
        claiming[claiming] = best[a.target[claiming]] == np.flatnonzero(claiming)
        cls[claiming] = a.gt_cls[a.target[claiming]]
        tp |= claiming
        keep &= ~fixed | claiming
    elif code >= 0:
        keep &= a.code != code
    elif code == -2:
        missed_kept = a.gt_used | (best >= 0)  # a fixed miss leaves the GT count
    n_gt = _class_counts(a.gt_cls)
    if missed_kept is not None:
        kept = _class_counts(a.gt_cls, missed_kept)
        n_gt = {c: kept[c] for c in n_gt}
    return ap50_arrays(cls[keep], order[keep], a.score[keep], tp[keep], n_gt)


def _error_counts(a: _Analysis, best: np.ndarray) -> dict[str, int]:
    counts = np.bincount(a.code, minlength=len(_CODE_NAMES))
    out = {name: int(counts[c]) for c, name in enumerate(_CODE_NAMES) if c >= LOC}
    out["missed"] = int((~a.gt_used & (best < 0)).sum())
    return out


def analyse_image(image: dict[str, Any], th: ErrorThresholds) -> tuple[_Analysis, dict[str, int]]:
    """One image's matching and error types, and its error counts by type (only the types
    that occur) for its per-sample record: the types depend on that image alone, only
    their AP cost needs the whole split. The analysis can be handed to `tide_breakdown`."""
    a = _analyse_one(image, th)
    counts = _error_counts(a, _claims(a))
    return a, {t: counts[t] for t in ERROR_TYPES if counts.get(t)}


def _concat(parts: Sequence[_Analysis]) -> _Analysis:
    """Per-image analyses joined in image order, GT indices made global."""
    if not parts:
        return _Analysis()
    offsets = np.cumsum([0] + [len(p.gt_cls) for p in parts[:-1]])
    return _Analysis(
        cls=np.concatenate([p.cls for p in parts]),
        score=np.concatenate([p.score for p in parts]),
        code=np.concatenate([p.code for p in parts]),
        target=np.concatenate([np.where(p.target >= 0, p.target + off, -1) for p, off in zip(parts, offsets.tolist())]),
        gt_cls=np.concatenate([p.gt_cls for p in parts]),
        gt_used=np.concatenate([p.gt_used for p in parts]),
    )


def tide_breakdown(
    images: Sequence[dict[str, Any]], th: ErrorThresholds = ErrorThresholds(), analyses: Sequence[_Analysis | None] | None = None
) -> dict[str, Any]:
    """The `errors` object of an OVD metrics.json, from DetectionMetric's per-image records
    (in COCOeval's image order); `analyses[i]`, when given, is image i's `analyse_image`.

    The matching is made once; each fix only changes which stored detections count, and
    as what, before AP50 is accumulated again from the arrays."""
    given = list(analyses) if analyses is not None else [None] * len(images)
    a = _concat([p if p is not None else _analyse_one(img, th) for img, p in zip(images, given)])
    best = _claims(a)
    base = _fixed_ap50(a, "", best)
    counts = _error_counts(a, best)
    dap: dict[str, float | None] = {}
    for t in ERROR_TYPES:
        fixed = _fixed_ap50(a, t, best)
        dap[t] = max(fixed - base, 0.0) if np.isfinite(base) and np.isfinite(fixed) else None
    return {
        "schema": SCHEMA,
        "iou": "box",
        "thresholds": {"foreground": th.foreground, "background": th.background},
        "ap50": base if np.isfinite(base) else None,
        "dap": dap,
        "counts": {t: int(counts.get(t, 0)) for t in ERROR_TYPES},
        "n_true_positives": int((a.code == TP).sum()),
        "n_ignored": int((a.code == IGNORED).sum()),
        "n_gt": len(a.gt_cls),
        "implementation": "padt-eval metrics/tide.py (the published TIDE definitions; tidecv not used)",
        "notes": [],
    }
