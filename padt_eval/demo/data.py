"""Demo predictions: the ground truth with controlled perturbations, and the metrics they must give.

Each sample is assigned one outcome by a seeded generator, so the expected scores are
known by construction. The expected values are computed here with plain numpy on decoded
masks and plain box arithmetic, independently of `padt_eval.metrics`, so the demo is a
live cross-check of the scorer, not a restatement of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from padt_eval.core import rle as rlemod
from padt_eval.core.types import Sample

# outcome -> probability; see `_perturb` for what each one writes.
OUTCOMES: dict[str, float] = {
    "exact": 0.50,
    "shift_quarter": 0.15,  # box moved right by a quarter of its width: IoU 0.6
    "shift_away": 0.08,  # box moved right by its width + 1 px: IoU 0
    "missing": 0.08,  # no line at all
    "unparseable": 0.06,  # a line whose text could not be read
    "decoy_first": 0.07,  # a wrong object with a higher score, then the right one
    "no_object": 0.06,  # the model answered, but with no object
}


@dataclass
class Expected:
    rec: dict[str, float]
    res: dict[str, float]
    outcomes: dict[str, int]
    # the same predictions under --protocol padt-release (best of N; no key collides in
    # the synthetic world, where every expression is unique on its image)
    rec_release: dict[str, float] | None = None
    res_release: dict[str, float] | None = None


def _shift_mask(mask: np.ndarray, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    if dx < mask.shape[1]:
        out[:, dx:] = mask[:, : mask.shape[1] - dx]
    return out


def _box_iou_plain(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def _release_iou_plain(a: list[float], b: list[float]) -> float:
    """IoU as the PaDT release computes it: both boxes as round()ed integer x, y, w, h."""
    ax, ay, aw, ah = round(a[0]), round(a[1]), round(a[2] - a[0]), round(a[3] - a[1])
    bx, by, bw, bh = round(b[0]), round(b[1]), round(b[2] - b[0]), round(b[3] - b[1])
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - ix * iy
    return ix * iy / union if union else 0.0


def _mask_iou_plain(p: np.ndarray, g: np.ndarray) -> float:
    u = int(np.logical_or(p, g).sum())
    return int(np.logical_and(p, g).sum()) / u if u else 0.0


def rec_expected(ious: Iterable[float]) -> dict[str, float]:
    """REC's four numbers from per-sample box IoUs, in plain numpy."""
    iou = np.asarray(list(ious), dtype=np.float64)
    return {
        "acc@0.5": float((iou >= 0.5).mean()),
        "acc@0.75": float((iou >= 0.75).mean()),
        "acc@0.9": float((iou >= 0.9).mean()),
        "mean_iou": float(iou.mean()),
    }


def res_expected(mask_inter: Iterable[int], mask_union: Iterable[int]) -> dict[str, float]:
    """RES's mIoU and cIoU from per-sample pixel intersections and unions."""
    inter, union = np.array(list(mask_inter)), np.array(list(mask_union))
    per_sample = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return {"miou": float(per_sample.mean()), "ciou": float(inter.sum() / union.sum())}


def make_predictions(samples: Iterable[Sample], path: Path, seed: int = 0) -> Expected:
    """Write a predictions JSONL for `samples` and return the metrics it must score."""
    rng = np.random.default_rng(seed)
    names = list(OUTCOMES)
    probs = np.array([OUTCOMES[n] for n in names])
    probs = probs / probs.sum()
    ious: list[float] = []
    mask_inter: list[int] = []
    mask_union: list[int] = []
    release_box: list[float] = []
    release_mask: list[float] = []
    counts = {n: 0 for n in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for s in samples:
            outcome = names[int(rng.choice(len(names), p=probs))]
            counts[outcome] += 1
            gt = s.objects[0]
            gt_mask = rlemod.decode(gt.mask).astype(bool)
            x1, y1, x2, y2 = gt.bbox
            w = x2 - x1
            line: dict | None = {"sample_id": s.sample_id, "objects": []}
            pred_box: list[float] | None = None
            pred_mask: np.ndarray | None = None
            if outcome == "exact":
                pred_box, pred_mask = list(gt.bbox), gt_mask
            elif outcome in ("shift_quarter", "shift_away"):
                dx = w / 4 if outcome == "shift_quarter" else w + 1
                pred_box = [x1 + dx, y1, x2 + dx, y2]
                pred_mask = _shift_mask(gt_mask, int(round(dx)))
            elif outcome == "decoy_first":
                decoy = [x2 + 1, y1, x2 + 1 + w, y2]
                line["objects"].append(
                    {"bbox": decoy, "score": 0.9, "mask": rlemod.encode(_shift_mask(gt_mask, int(round(w + 1))))}
                )
                # The right answer comes second with a lower score: the one-answer rule
                # picks the decoy, so this sample is a miss (no best-of-N).
                line["objects"].append({"bbox": list(gt.bbox), "score": 0.4, "mask": rlemod.encode(gt_mask)})
                pred_box = decoy
                pred_mask = _shift_mask(gt_mask, int(round(w + 1)))
            elif outcome == "missing":
                line = None
            elif outcome == "unparseable":
                line.update(text="I think it is somewhere over there.", parse_status="failed", parse_reason="no box in the text")
            if pred_box is not None and outcome != "decoy_first":
                line["objects"].append({"bbox": pred_box, "score": 0.8, "mask": rlemod.encode(pred_mask)})
            if line is not None:
                f.write(json.dumps(line) + "\n")
            # every object written, for the release's best-of-N
            if outcome == "decoy_first":
                written = [(pred_box, pred_mask), (list(gt.bbox), gt_mask)]
            else:
                written = [(pred_box, pred_mask)] if pred_box is not None else []
            release_box.append(max((_release_iou_plain(b, gt.bbox) for b, _ in written), default=0.0))
            release_mask.append(max((_mask_iou_plain(m, gt_mask) for _, m in written), default=0.0))
            ious.append(_box_iou_plain(pred_box, gt.bbox) if pred_box is not None else 0.0)
            p = pred_mask if pred_mask is not None else np.zeros_like(gt_mask)
            mask_inter.append(int(np.logical_and(p, gt_mask).sum()))
            mask_union.append(int(np.logical_or(p, gt_mask).sum()))
    return Expected(
        rec=rec_expected(ious),
        res=res_expected(mask_inter, mask_union),
        outcomes=counts,
        rec_release=rec_expected(release_box),
        res_release={"ciou": float(np.mean(release_mask))},
    )
