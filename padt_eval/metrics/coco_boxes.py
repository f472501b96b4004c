"""COCO's box evaluation (pycocotools `COCOeval(..., "bbox")` with default parameters) on
numpy arrays: the 12 statistics without a dict per detection.

Why not hand the arrays to faster-coco-eval: at 500k detections its C++ core alone
costs more than reading, scoring and reporting everything else, because it reads each
annotation back from a Python dict. Here every step works on columns:

* **IoU** only between a detection and the GT of its own image and category (the pairs
  COCOeval computes), with pycocotools' `bbIou` formula and operation order, a crowd
  GT's union being the detection's area;
* **matching**, COCOeval's greedy loop, run for all (image, category) groups at once:
  step k takes the k-th detection (by score) of every group, for the 10 IoU thresholds
  and 4 area ranges together. Each detection takes, among the GT still free (a crowd
  is never used up) with IoU >= the threshold, a non-ignored one before an ignored one,
  the highest IoU, the later GT on ties, exactly as `evaluateImg`'s loop does;
* **accumulation** per category, area range and max-detections as `accumulate`:
  detections in descending score (ties: image order, then rank), cumulative TP/FP,
  101-point interpolated precision, recall at the last detection.

tests/metrics/test_coco_boxes.py checks the statistics against pycocotools to 1e-12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))  # all, small, medium, large
#: pairs matched in one block of images (bounds the (thresholds × areas × pairs) arrays)
PAIRS_PER_BLOCK = 400_000


@dataclass
class BoxSet:
    """Objects as columns: image index (COCOeval's image order), category id, box xywh
    (n×4 float64), and per kind: GT `area` and `crowd`, detection `score`."""

    image: np.ndarray
    category: np.ndarray
    box: np.ndarray
    area: np.ndarray | None = None
    crowd: np.ndarray | None = None
    score: np.ndarray | None = None


def pair_ious(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """pycocotools' bbIou for aligned rows of detections and GT (xywh): the same operations
    in the same order, so that equal IoUs stay equal (the matching breaks ties on them)."""
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = w * h
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, da + g[:, 2] * g[:, 3] - inter)
    hit = (w > 0) & (h > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hit, inter / np.where(hit, union, 1.0), 0.0)


def _group_order(image: np.ndarray, category: np.ndarray, score: np.ndarray | None) -> np.ndarray:
    keys = [np.arange(len(image))] + ([-score] if score is not None else []) + [category, image]
    return np.lexsort(keys)


def runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of each run of equal keys and each element's position inside its run."""
    if not len(key):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    lengths = np.diff(np.r_[starts, len(key)])
    return starts, np.arange(len(key)) - np.repeat(starts, lengths)


def _segment_max(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(values, starts, axis=-1)


def _match_block(
    pair_det: np.ndarray,
    pair_gt: np.ndarray,
    pair_iou: np.ndarray,
    pair_rank: np.ndarray,
    gt_ignored: np.ndarray,
    gt_crowd: np.ndarray,
    matched: np.ndarray,
    dt_ignored: np.ndarray,
) -> None:
    """COCOeval's matching of one block of images (pairs with IoU >= the lowest threshold:
    no other can be taken); marks the detections that take a GT in `matched` (T, A, n_dets)
    and gives them that GT's ignore flag in `dt_ignored`."""
    n_t, n_a = len(IOU_THRS), len(AREA_RANGES)
    thr = np.minimum(IOU_THRS, 1 - 1e-10)[:, None, None]
    used = np.zeros((n_t, n_a, gt_ignored.shape[1]), dtype=bool)
    order = np.lexsort((pair_det, pair_rank))  # step by step; a detection's pairs together, GT in order
    pair_det, pair_gt, pair_iou, pair_rank = pair_det[order], pair_gt[order], pair_iou[order], pair_rank[order]
    bounds = np.searchsorted(pair_rank, np.arange(int(pair_rank.max(initial=-1)) + 2))
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        if s == e:
            continue
        pd, pg, piou = pair_det[s:e], pair_gt[s:e], pair_iou[s:e]
        starts, _ = runs(pd)
        seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(pd)]))
        ok = (~used[:, :, pg] | gt_crowd[pg]) & (piou >= thr)
        # 2: a non-ignored GT, 1: an ignored one (taken only when no non-ignored qualifies)
        cls = ok * (2 - gt_ignored[:, pg]).astype(np.int8)[None]
        best_cls = _segment_max(cls, starts)
        cand = (cls == best_cls[:, :, seg]) & (cls > 0)
        iou_c = np.where(cand, piou, -1.0)
        chosen = cand & (iou_c == _segment_max(iou_c, starts)[:, :, seg])
        last = _segment_max(np.where(chosen, np.arange(len(pd)), -1), starts)  # ties: the later GT
        ti, ai, si = np.nonzero(last >= 0)
        gts, dets = pg[last[ti, ai, si]], pd[starts[si]]
        used[ti, ai, gts] = True
        matched[ti, ai, dets] = True
        dt_ignored[ti, ai, dets] = gt_ignored[ai, gts]


def box_stats(gt: BoxSet, dt: BoxSet, n_images: int, category_ids: list[int]) -> list[float]:
    """The 12 statistics of `COCOeval.summarize()` for boxes (-1 where undefined)."""
    cats = np.array(sorted(set(category_ids)), dtype=np.int64)
    # COCOeval evaluates the listed categories only (objects of any other are left out)
    keep = np.isin(dt.category, cats)
    dt = BoxSet(dt.image[keep], dt.category[keep], dt.box[keep], score=dt.score[keep])  # type: ignore[index]
    keep = np.isin(gt.category, cats)
    gt = BoxSet(gt.image[keep], gt.category[keep], gt.box[keep], area=gt.area[keep], crowd=gt.crowd[keep])  # type: ignore[index]
    n_cat_key = int(cats.max(initial=0)) + 1
    # GT grouped by (image, category), file order inside a group
    g_order = _group_order(gt.image, gt.category, None)
    g_box, g_area = gt.box[g_order], gt.area[g_order]  # type: ignore[index]
    g_crowd, g_cat = gt.crowd[g_order].astype(bool), gt.category[g_order]  # type: ignore[index]
    g_key = gt.image[g_order].astype(np.int64) * n_cat_key + g_cat
    # detections grouped likewise, descending score (ties: file order), at most 100 a group
    d_order = _group_order(dt.image, dt.category, dt.score)
    d_key = dt.image[d_order].astype(np.int64) * n_cat_key + dt.category[d_order]
    _, rank = runs(d_key)
    top = rank < MAX_DETS[-1]
    d_order, d_key, rank = d_order[top], d_key[top], rank[top]
    d_box, d_score, d_img, d_cat = dt.box[d_order], dt.score[d_order], dt.image[d_order], dt.category[d_order]  # type: ignore[index]
    d_area = d_box[:, 2] * d_box[:, 3]

    # ignore flags per area range: a crowd, or an area outside the range
    lo = np.array([a for a, _ in AREA_RANGES])[:, None]
    hi = np.array([b for _, b in AREA_RANGES])[:, None]
    gt_ignored = g_crowd[None, :] | (g_area[None, :] < lo) | (g_area[None, :] > hi)
    dt_outside = (d_area[None, :] < lo) | (d_area[None, :] > hi)

    # every (detection, GT) pair of the same image and category
    g_lo = np.searchsorted(g_key, d_key, side="left")
    n_pairs = np.searchsorted(g_key, d_key, side="right") - g_lo
    n_t, n_a, n_d = len(IOU_THRS), len(AREA_RANGES), len(d_key)
    matched = np.zeros((n_t, n_a, n_d), dtype=bool)
    dt_ignored = np.repeat(dt_outside[None], n_t, axis=0)  # an unmatched detection outside the range is ignored
    # blocks of whole images, so that a block's (thresholds × areas × pairs) arrays stay bounded
    if n_d:
        img_end = np.flatnonzero(np.r_[d_img[1:] != d_img[:-1], True]) + 1
        block = np.cumsum(n_pairs)[img_end - 1] // PAIRS_PER_BLOCK
        cuts = np.r_[0, img_end[np.r_[block[1:] != block[:-1], True]]]
        for start, end in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            counts = n_pairs[start:end]
            if not counts.sum():
                continue
            p_det = np.repeat(np.arange(start, end), counts)
            p_gt = g_lo[p_det] + np.arange(len(p_det)) - np.repeat(np.cumsum(counts) - counts, counts)
            p_iou = pair_ious(d_box[p_det], g_box[p_gt], g_crowd[p_gt])
            near = p_iou >= IOU_THRS[0]
            if near.any():
                p_det, p_gt = p_det[near], p_gt[near]
                _match_block(p_det, p_gt, p_iou[near], rank[p_det], gt_ignored, g_crowd, matched, dt_ignored)
    return _summarize(*_accumulate(cats, g_cat, gt_ignored, d_cat, d_score, d_img, rank, matched, dt_ignored))


def _accumulate(cats, g_cat, gt_ignored, d_cat, d_score, d_img, rank, matched, dt_ignored):
    n_t, n_r, n_k, n_a, n_m = len(IOU_THRS), len(REC_THRS), len(cats), len(AREA_RANGES), len(MAX_DETS)
    precision = -np.ones((n_t, n_r, n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))
    by_cat = np.lexsort((rank, d_img, -d_score, d_cat))  # per category: COCOeval's merged order
    counted = (matched & ~dt_ignored)[:, :, by_cat]  # true positives
    missed = (~matched & ~dt_ignored)[:, :, by_cat]  # false positives
    rank, d_cat = rank[by_cat], d_cat[by_cat]
    bounds = np.searchsorted(d_cat, cats, side="left"), np.searchsorted(d_cat, cats, side="right")
    npig_all = np.stack([np.bincount(np.searchsorted(cats, g_cat[~gt_ignored[a]]), minlength=n_k) for a in range(n_a)])
    for k in range(n_k):
        lo, hi = bounds[0][k], bounds[1][k]
        present = [a for a in range(n_a) if npig_all[a, k] > 0]
        if not present:
            continue
        areas = slice(None) if len(present) == n_a else present  # all: a view, not a copy
        npig = npig_all[present, k][None, :, None]
        for m, max_det in enumerate(MAX_DETS):
            tps, fps = counted[:, areas, lo:hi], missed[:, areas, lo:hi]
            if max_det < MAX_DETS[-1]:
                top = rank[lo:hi] < max_det
                tps, fps = tps[:, :, top], fps[:, :, top]
            # integer sums: int / int and int + float give what pycocotools' float sums give
            tp = np.cumsum(tps, axis=2)
            fp = np.cumsum(fps, axis=2)
            nd = tp.shape[2]
            rc = tp / npig
            pr = tp / (fp + tp + np.spacing(1))
            if not nd:
                recall[:, k, areas, m] = 0
                precision[:, :, k, areas, m] = 0
                continue
            recall[:, k, areas, m] = rc[:, :, -1]
            pr = np.maximum.accumulate(pr[:, :, ::-1], axis=2)[:, :, ::-1]  # precision envelope
            for t in range(n_t):
                for j, a in enumerate(present):
                    inds = np.searchsorted(rc[t, j], REC_THRS, side="left")
                    q = np.zeros(n_r)
                    inside = inds < nd
                    q[inside] = pr[t, j, inds[inside]]
                    precision[t, :, k, a, m] = q
    return precision, recall


def _summarize(precision: np.ndarray, recall: np.ndarray) -> list[float]:
    def one(ap: bool, iou: float | None = None, area: int = 0, max_det: int = 2) -> float:
        s = precision[:, :, :, area, max_det] if ap else recall[:, :, area, max_det]
        if iou is not None:
            s = s[np.where(iou == IOU_THRS)[0]]
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    return [
        one(True),
        one(True, 0.5),
        one(True, 0.75),
        one(True, area=1),
        one(True, area=2),
        one(True, area=3),
        one(False, max_det=0),
        one(False, max_det=1),
        one(False),
        one(False, area=1),
        one(False, area=2),
        one(False, area=3),
    ]
