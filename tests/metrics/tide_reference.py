"""The TIDE breakdown as padt-eval computed it detection by detection (Python objects per
detection, one sort per class and fix), kept as the oracle of the array implementation in
`padt_eval/metrics/tide.py`: `test_tide_arrays.py` checks that both give the same numbers.
The definitions are in that module's docstring."""

from __future__ import annotations

from collections import Counter
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


@dataclass(slots=True)
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


def _row_max(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row maximum and its first index; 0 / 0 for rows of an empty matrix."""
    if a.shape[1] == 0:
        return np.zeros(a.shape[0]), np.zeros(a.shape[0], dtype=np.int64)
    return a.max(axis=1), a.argmax(axis=1)


def _analyse(images: Sequence[dict[str, Any]], th: ErrorThresholds) -> _Analysis:
    out = _Analysis()
    order = 0
    for img in images:
        gts = [g for g in img["gt"] if not g[2]]
        crowds = [g for g in img["gt"] if g[2]]
        base = len(out.gt_cls)
        out.gt_cls += [int(g[1]) for g in gts]
        ranked = sorted(range(len(img["dt"])), key=lambda i: -float(img["dt"][i][1]))[:MAX_DETS]
        dts = [img["dt"][i] for i in ranked]
        d_boxes = _boxes(dts, 0)
        iou, _ = _overlaps(d_boxes, _boxes(gts, 0))
        _, crowd_cover = _overlaps(d_boxes, _boxes(crowds, 0))
        det_cls = np.array([int(d[2]) for d in dts], dtype=np.int64)
        same = det_cls[:, None] == np.array([int(g[1]) for g in gts], dtype=np.int64)[None, :]
        crowd_hit = (det_cls[:, None] == np.array([int(c[1]) for c in crowds], dtype=np.int64)[None, :]) & (
            crowd_cover >= th.foreground
        )
        own = np.where(same, iou, 0.0)
        # Greedy matching in score order; only detections with some own-class IoU >= fg can match.
        used = np.zeros(len(gts), dtype=bool)
        tp = np.zeros(len(dts), dtype=bool)
        for k in np.flatnonzero((own >= th.foreground).any(axis=1) if own.size else np.zeros(len(dts), dtype=bool)):
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
        for k, d in enumerate(dts):
            det = _Det(order, int(d[2]), float(d[1]), tp=bool(tp[k]))
            order += 1
            if det.tp:
                pass
            elif ignored[k]:
                det.error = "ignored"
            elif th.background <= own_max[k] < th.foreground:
                det.error, det.target = "localization", base + int(own_arg[k])
            elif other_max[k] >= th.foreground:
                det.error, det.target = "classification", base + int(other_arg[k])
            elif dup_max[k] >= th.foreground:
                det.error = "duplicate"
            elif all_max[k] < th.background:
                det.error = "background"
            else:
                det.error = "both"
            out.dets.append(det)
        out.gt_used += used.tolist()
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
    claimed = {
        d.target
        for d in a.dets
        if d.error in ("localization", "classification") and d.target is not None and not a.gt_used[d.target]
    }
    counts["missed"] = sum(1 for j, used in enumerate(a.gt_used) if not used and j not in claimed)
    return counts


def analyse_image(image: dict[str, Any], th: ErrorThresholds) -> tuple[_Analysis, dict[str, int]]:
    """One image's matching and error types, and its error counts by type (only the types
    that occur) for its per-sample record: the types depend on that image alone, only
    their AP cost needs the whole split. The analysis can be handed to `tide_breakdown`."""
    a = _analyse([image], th)
    counts = _error_counts(a)
    return a, {t: int(counts[t]) for t in ERROR_TYPES if counts.get(t)}


def _concat(parts: Sequence[_Analysis]) -> _Analysis:
    """Per-image analyses joined in image order, with global detection order and GT indices."""
    out = _Analysis()
    for a in parts:
        base, first = len(out.gt_cls), len(out.dets)
        for d in a.dets:
            out.dets.append(_Det(first + d.order, d.cls, d.score, d.tp, d.error, None if d.target is None else base + d.target))
        out.gt_cls += a.gt_cls
        out.gt_used += a.gt_used
    return out


def tide_breakdown(
    images: Sequence[dict[str, Any]], th: ErrorThresholds = ErrorThresholds(), analyses: Sequence[_Analysis | None] | None = None
) -> dict[str, Any]:
    """The `errors` object of an OVD metrics.json, from DetectionMetric's per-image records
    (in COCOeval's image order); `analyses[i]`, when given, is image i's `analyse_image`."""
    given = list(analyses) if analyses is not None else [None] * len(images)
    a = _concat([p if p is not None else _analyse([img], th) for img, p in zip(images, given)])
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
