"""OVD error breakdown in the style of TIDE (Bolya et al., ECCV 2020): the AP50 each error costs.

padt-eval's own implementation of the published definitions (the `tidecv` package was
not usable here: see docs/metrics.md). Box IoU; `fg` = 0.5 (foreground), `bg` = 0.1
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

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from padt_eval.metrics.errors import ErrorThresholds

ERROR_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
SCHEMA = "padt-eval/tide/v1"
MAX_DETS = 100


def _overlaps(d: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, intersection / detection area) of every detection (n×4 xywh) with every GT (m×4)."""
    ix = np.clip(np.minimum(d[:, None, 0] + d[:, None, 2], g[None, :, 0] + g[None, :, 2]) - np.maximum(d[:, None, 0], g[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(d[:, None, 1] + d[:, None, 3], g[None, :, 1] + g[None, :, 3]) - np.maximum(d[:, None, 1], g[None, :, 1]), 0, None)
    inter = ix * iy
    area_d = (d[:, 2] * d[:, 3])[:, None]
    union = area_d + (g[:, 2] * g[:, 3])[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        cover = np.where(area_d > 0, inter / np.where(area_d > 0, area_d, 1.0), 0.0)
    return iou, cover


def _boxes(items: list, key: int) -> np.ndarray:
    return np.array([[float(v) for v in it[key]] for it in items], dtype=np.float64).reshape(len(items), 4)


@dataclass
class _Det:
    order: int  # global rank key: image order, then score order inside the image
    cls: int
    score: float
    tp: bool = False
    error: str | None = None
    target: int | None = None  # global GT index a localization / classification fix would claim


@dataclass
class _Analysis:
    dets: list[_Det] = field(default_factory=list)
    gt_cls: list[int] = field(default_factory=list)
    gt_used: list[bool] = field(default_factory=list)


def _analyse(images: Sequence[dict[str, Any]], th: ErrorThresholds) -> _Analysis:
    out = _Analysis()
    order = 0
    for img in images:
        gts = [g for g in img["gt"] if not g[2]]
        crowds = [g for g in img["gt"] if g[2]]
        base = len(out.gt_cls)
        out.gt_cls += [int(g[1]) for g in gts]
        out.gt_used += [False] * len(gts)
        ranked = sorted(range(len(img["dt"])), key=lambda i: -float(img["dt"][i][1]))[:MAX_DETS]
        dts = [img["dt"][i] for i in ranked]
        iou, _ = _overlaps(_boxes(dts, 0), _boxes(gts, 0))
        _, crowd_cover = _overlaps(_boxes(dts, 0), _boxes(crowds, 0))
        det_cls = np.array([int(d[2]) for d in dts], dtype=np.int64)
        same = det_cls[:, None] == np.array([int(g[1]) for g in gts], dtype=np.int64)[None, :]
        crowd_same = det_cls[:, None] == np.array([int(c[1]) for c in crowds], dtype=np.int64)[None, :]
        dets = []
        for k, d in enumerate(dts):
            det = _Det(order, int(d[2]), float(d[1]))
            order += 1
            cand = np.where(same[k] & ~np.array(out.gt_used[base:], dtype=bool), iou[k], -1.0)
            if cand.size and cand.max() >= th.foreground:
                j = int(cand.argmax())
                out.gt_used[base + j] = True
                det.tp = True
            elif crowd_cover.size and bool(np.any(crowd_same[k] & (crowd_cover[k] >= th.foreground))):
                det.error = "ignored"
            dets.append(det)
        used = np.array(out.gt_used[base:], dtype=bool)
        for k, det in enumerate(dets):
            if det.tp or det.error == "ignored":
                continue
            own = np.where(same[k], iou[k], 0.0)
            other = np.where(~same[k], iou[k], 0.0)
            if own.size and th.background <= own.max() < th.foreground:
                det.error, det.target = "localization", base + int(own.argmax())
            elif other.size and other.max() >= th.foreground:
                det.error, det.target = "classification", base + int(other.argmax())
            elif own.size and np.where(used, own, 0.0).max() >= th.foreground:
                det.error = "duplicate"
            elif not iou.size or iou[k].max() < th.background:
                det.error = "background"
            else:
                det.error = "both"
        out.dets += dets
    return out


def ap50(points: Sequence[tuple[int, int, float, bool]], n_gt: dict[int, int]) -> float:
    """COCO's interpolated AP over classes with GT; points = (class, order, score, is_tp)."""
    aps = []
    by_cls: dict[int, list[tuple[int, float, bool]]] = {}
    for c, o, s, tp in points:
        by_cls.setdefault(c, []).append((o, s, tp))
    for c, n in n_gt.items():
        if n <= 0:
            continue
        pts = sorted(by_cls.get(c, []), key=lambda p: (-p[1], p[0]))
        tps = np.array([p[2] for p in pts], dtype=bool)
        tp_cum = np.cumsum(tps)
        fp_cum = np.cumsum(~tps)
        recall = tp_cum / n
        precision = tp_cum / np.maximum(tp_cum + fp_cum, 1)
        precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
        idx = np.searchsorted(recall, np.linspace(0.0, 1.0, 101), side="left")
        q = np.array([precision[i] if i < precision.size else 0.0 for i in idx])
        aps.append(float(q.mean()))
    return float(np.mean(aps)) if aps else float("nan")


def _fixed_points(a: _Analysis, fix: str) -> tuple[list[tuple[int, int, float, bool]], dict[int, int]]:
    # The error allowed to claim each GT: the highest-scoring loc/cls error pointing at an unmatched GT.
    best: dict[int, _Det] = {}
    for d in a.dets:
        if d.error in ("localization", "classification") and d.target is not None and not a.gt_used[d.target]:
            cur = best.get(d.target)
            if cur is None or d.score > cur.score:
                best[d.target] = d
    n_gt = Counter(a.gt_cls)
    points = []
    for d in a.dets:
        if d.error == "ignored":
            continue
        if d.error != fix:
            points.append((d.cls, d.order, d.score, d.tp))
        elif fix in ("localization", "classification") and d.target is not None and best.get(d.target) is d:
            points.append((a.gt_cls[d.target], d.order, d.score, True))
        # else: the fixed error is removed
    if fix == "missed":
        claimed = set(best)
        for j, c in enumerate(a.gt_cls):
            if not a.gt_used[j] and j not in claimed:
                n_gt[c] -= 1
    return points, dict(n_gt)


def _error_counts(a: _Analysis) -> Counter[str]:
    counts = Counter(d.error for d in a.dets if d.error not in (None, "ignored"))
    claimed = {d.target for d in a.dets if d.error in ("localization", "classification") and d.target is not None and not a.gt_used[d.target]}
    counts["missed"] = sum(1 for j, used in enumerate(a.gt_used) if not used and j not in claimed)
    return counts


def image_error_counts(image: dict[str, Any], th: ErrorThresholds) -> dict[str, int]:
    """One image's errors by type (only the types that occur), for its per-sample record:
    the types depend on that image alone, only their AP cost needs the whole split."""
    counts = _error_counts(_analyse([image], th))
    return {t: int(counts[t]) for t in ERROR_TYPES if counts.get(t)}


def tide_breakdown(images: Sequence[dict[str, Any]], th: ErrorThresholds = ErrorThresholds()) -> dict[str, Any]:
    """The `errors` object of an OVD metrics.json, from DetectionMetric's per-image records."""
    a = _analyse(images, th)
    base_points, n_gt = _fixed_points(a, "")
    base = ap50(base_points, n_gt)
    counts = _error_counts(a)
    dap: dict[str, float | None] = {}
    for t in ERROR_TYPES:
        fixed = ap50(*_fixed_points(a, t))
        dap[t] = max(fixed - base, 0.0) if np.isfinite(base) and np.isfinite(fixed) else None
    return {
        "schema": SCHEMA,
        "iou": "box",
        "thresholds": {"foreground": th.foreground, "background": th.background},
        "ap50": base if np.isfinite(base) else None,
        "dap": dap,
        "counts": {t: int(counts.get(t, 0)) for t in ERROR_TYPES},
        "n_true_positives": int(sum(d.tp for d in a.dets)),
        "n_ignored": int(sum(d.error == "ignored" for d in a.dets)),
        "n_gt": len(a.gt_cls),
        "implementation": "padt-eval metrics/tide.py (the published TIDE definitions; tidecv not used)",
        "notes": [],
    }
