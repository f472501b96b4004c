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

Everything is computed on arrays over many images at once (`analyse`): the IoUs of each
detection with its image's GT as pairs, the greedy matching step by step (the k-th
detection of every image at step k), the false-positive types as reductions over each
detection's pairs. The fixes only change which stored detections count, and as what,
before AP50 is accumulated again. tests/metrics/tide_reference.py is the detection-by-
detection oracle it is tested equal to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from padt_eval.metrics.coco_boxes import runs
from padt_eval.metrics.errors import ErrorThresholds

ERROR_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
SCHEMA = "padt-eval/tide/v1"
MAX_DETS = 100


def _pair_overlaps(d: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, intersection / detection area) of aligned rows of detections and GT (xywh)."""
    ix = np.clip(np.minimum(d[:, 0] + d[:, 2], g[:, 0] + g[:, 2]) - np.maximum(d[:, 0], g[:, 0]), 0, None)
    iy = np.clip(np.minimum(d[:, 1] + d[:, 3], g[:, 1] + g[:, 3]) - np.maximum(d[:, 1], g[:, 1]), 0, None)
    inter = ix * iy
    area_d = d[:, 2] * d[:, 3]
    union = area_d + g[:, 2] * g[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        cover = np.where(area_d > 0, inter / np.where(area_d > 0, area_d, 1.0), 0.0)
    return iou, cover


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


@dataclass
class Columns:
    """Images' objects as columns, image indices from 0: detections in output order (box
    xywh, score, class), GT (box xywh, class, crowd)."""

    d_image: np.ndarray
    d_box: np.ndarray
    d_score: np.ndarray
    d_cls: np.ndarray
    g_image: np.ndarray
    g_box: np.ndarray
    g_cls: np.ndarray
    g_crowd: np.ndarray

    @classmethod
    def of_images(cls, images: Sequence[dict[str, Any]]) -> Columns:
        """From DetectionMetric's per-image records ({"gt": [[xywh, class, crowd, ...]], "dt": [[xywh, score, class, ...]]})."""
        gts = [(i, g) for i, img in enumerate(images) for g in img["gt"]]
        dts = [(i, d) for i, img in enumerate(images) for d in img["dt"]]
        return cls(
            d_image=np.array([i for i, _ in dts], dtype=np.int64),
            d_box=np.array([d[0] for _, d in dts], dtype=np.float64).reshape(-1, 4),
            d_score=np.array([float(d[1]) for _, d in dts], dtype=np.float64),
            d_cls=np.array([int(d[2]) for _, d in dts], dtype=np.int64),
            g_image=np.array([i for i, _ in gts], dtype=np.int64),
            g_box=np.array([g[0] for _, g in gts], dtype=np.float64).reshape(-1, 4),
            g_cls=np.array([int(g[1]) for _, g in gts], dtype=np.int64),
            g_crowd=np.array([bool(g[2]) for _, g in gts], dtype=bool),
        )


def _pairs(d_image: np.ndarray, g_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (detection, GT) of the same image, a detection's pairs together in GT order
    (both sides sorted by image)."""
    lo = np.searchsorted(g_image, d_image, side="left")
    n = np.searchsorted(g_image, d_image, side="right") - lo
    p_det = np.repeat(np.arange(len(d_image)), n)
    return p_det, lo[p_det] + np.arange(len(p_det)) - np.repeat(np.cumsum(n) - n, n)


class _PerDetection:
    """Reductions over each detection's pairs (detection-major order): the maximum, and the
    first pair reaching it (as numpy's argmax over a row of the IoU matrix); 0 / -1 for a
    detection without pairs."""

    def __init__(self, p_det: np.ndarray, n_dets: int) -> None:
        self.n_dets = n_dets
        self.starts, _ = runs(p_det)
        self.owner = p_det[self.starts] if len(p_det) else p_det
        self.seg = np.repeat(np.arange(len(self.starts)), np.diff(np.r_[self.starts, len(p_det)]))

    def max(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n_dets)
        if len(self.starts):
            out[self.owner] = np.maximum.reduceat(values, self.starts)
        return out

    def argmax(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best = self.max(values)
        arg = np.full(self.n_dets, -1, dtype=np.int64)
        if len(self.starts):
            at = np.where(values == best[self.owner][self.seg], np.arange(len(values)), len(values))
            arg[self.owner] = np.minimum.reduceat(at, self.starts)
        return best, arg


def analyse(c: Columns, th: ErrorThresholds) -> tuple[_Analysis, np.ndarray, np.ndarray]:
    """The matching and error types of every detection of these images at once, and the
    image of each analysed detection and (non-crowd) GT. Per image: detections in descending
    score (ties: output order), at most 100; GT in order; GT indices (`target`) over all
    the images' non-crowd GT. Each detection's IoUs are with the GT of its image only, as
    pairs, not a matrix over all images."""
    order = np.lexsort((np.arange(len(c.d_image)), -c.d_score, c.d_image))
    _, rank = runs(c.d_image[order])
    order, rank = order[rank < MAX_DETS], rank[rank < MAX_DETS]
    d_img, d_box, d_cls, score = c.d_image[order], c.d_box[order], c.d_cls[order], c.d_score[order]
    plain = np.flatnonzero(~c.g_crowd)
    plain = plain[np.argsort(c.g_image[plain], kind="stable")]
    crowd = np.flatnonzero(c.g_crowd)
    crowd = crowd[np.argsort(c.g_image[crowd], kind="stable")]
    g_img, g_box, g_cls = c.g_image[plain], c.g_box[plain], c.g_cls[plain]
    n = len(d_img)

    p_det, p_gt = _pairs(d_img, g_img)
    iou, _ = _pair_overlaps(d_box[p_det], g_box[p_gt])
    same = d_cls[p_det] == g_cls[p_gt]
    own = np.where(same, iou, 0.0)

    # Greedy matching in score order: the k-th detections of all images choose together
    # (images share no GT), each the free GT of its class with the highest IoU >= fg.
    used = np.zeros(len(g_img), dtype=bool)
    tp = np.zeros(n, dtype=bool)
    fit = np.flatnonzero(own >= th.foreground)
    fit = fit[np.argsort(rank[p_det[fit]], kind="stable")]
    steps = np.searchsorted(rank[p_det[fit]], np.arange(MAX_DETS + 1))
    for s, e in zip(steps[:-1].tolist(), steps[1:].tolist()):
        if s == e:
            continue
        pairs = fit[s:e]
        free = np.where(~used[p_gt[pairs]], own[pairs], -1.0)
        best, first = _PerDetection(p_det[pairs], n).argmax(free)
        took = np.flatnonzero(best >= th.foreground)
        used[p_gt[pairs[first[took]]]] = True
        tp[took] = True

    c_det, c_gt = _pairs(d_img, c.g_image[crowd])
    _, cover = _pair_overlaps(d_box[c_det], c.g_box[crowd][c_gt])
    crowd_hit = np.zeros(n, dtype=bool)
    crowd_hit[c_det[(d_cls[c_det] == c.g_cls[crowd][c_gt]) & (cover >= th.foreground)]] = True
    ignored = ~tp & crowd_hit

    # The false-positive type of every other detection, in TIDE's order of tests.
    per = _PerDetection(p_det, n)
    own_max, own_arg = per.argmax(own)
    other_max, other_arg = per.argmax(np.where(~same, iou, 0.0))
    dup_max = per.max(np.where(used[p_gt], own, 0.0))
    all_max = per.max(iou)
    loc = (th.background <= own_max) & (own_max < th.foreground)
    cls = other_max >= th.foreground
    code = np.select(
        [tp, ignored, loc, cls, dup_max >= th.foreground, all_max < th.background],
        [TP, IGNORED, LOC, CLS, DUP, BKG],
        default=BOTH,
    ).astype(np.int8)
    target = np.full(n, -1, dtype=np.int64)  # a LOC / CLS detection always has pairs (an IoU >= bg)
    target[code == LOC] = p_gt[own_arg[code == LOC]]
    target[code == CLS] = p_gt[other_arg[code == CLS]]
    return _Analysis(d_cls, score, code, target, g_cls, used), d_img, g_img


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
    a, d_img, g_img = analyse(Columns.of_images([image]), th)
    return a, image_error_counts(a, d_img, g_img, 1)[0]


def image_error_counts(a: _Analysis, d_image: np.ndarray, g_image: np.ndarray, n_images: int) -> list[dict[str, int]]:
    """Each image's error counts by type, only the types that occur (per-sample records)."""
    codes = np.bincount(d_image * len(_CODE_NAMES) + a.code, minlength=n_images * len(_CODE_NAMES))
    codes = codes.reshape(n_images, len(_CODE_NAMES))
    missed = np.bincount(g_image[~a.gt_used & (_claims(a) < 0)], minlength=n_images)
    names = [(c, name) for c, name in enumerate(_CODE_NAMES) if c >= LOC]
    out = []
    for row, m in zip(codes.tolist(), missed.tolist()):
        counts = {name: row[c] for c, name in names}
        counts["missed"] = m
        out.append({t: counts[t] for t in ERROR_TYPES if counts[t]})
    return out


def in_image_order(parts: Sequence[tuple[_Analysis, np.ndarray, np.ndarray]], position: np.ndarray) -> _Analysis:
    """Analyses of batches of images (each with its detections' and GT's image indices,
    global) joined with the images put in `position` order (COCOeval's), each image's
    detections keeping their rank order, GT indices remapped."""
    a = _concat([p for p, _, _ in parts])
    d_pos = position[np.concatenate([d for _, d, _ in parts])] if parts else np.zeros(0, dtype=np.int64)
    g_pos = position[np.concatenate([g for _, _, g in parts])] if parts else np.zeros(0, dtype=np.int64)
    d_order, g_order = np.argsort(d_pos, kind="stable"), np.argsort(g_pos, kind="stable")
    new_index = np.empty(len(g_order), dtype=np.int64)
    new_index[g_order] = np.arange(len(g_order))
    target = a.target[d_order]
    return _Analysis(
        cls=a.cls[d_order],
        score=a.score[d_order],
        code=a.code[d_order],
        target=np.where(target >= 0, new_index[np.maximum(target, 0)], -1),
        gt_cls=a.gt_cls[g_order],
        gt_used=a.gt_used[g_order],
    )


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
    if analyses is None:
        return breakdown(analyse(Columns.of_images(images), th)[0], th)
    return breakdown(_concat([p if p is not None else analyse_image(img, th)[0] for img, p in zip(images, analyses)]), th)


def breakdown(a: _Analysis, th: ErrorThresholds) -> dict[str, Any]:
    """The `errors` object from the analysis of all images, in COCOeval's image order."""
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
