"""Demo predictions built to contain known REC/RES misses, and the counts they must give.

Each sentence of the synthetic world is assigned one designed outcome by a seeded
generator: the target itself (`hit`), another object of the same image (`wrong_object`),
the left 40 % of the target (`localization`), a 2×2-pixel speck in the image corner
(`background`), an answer without objects (`no_object`) or an unreadable one
(`unparsed`). The expected category of every sample is then recomputed here with plain
numpy (decoded masks, box arithmetic, every object of the image), independently of
`padt_eval.metrics`, and must equal the design: the demo checks the scorer's `errors`
object against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from padt_eval.core import rle as rlemod
from padt_eval.demo.data import _box_iou_plain, _mask_iou_plain, rec_expected, res_expected
from padt_eval.demo.synthetic import SynthImage, iter_sentences

DESIGN: dict[str, float] = {
    "hit": 0.30,
    "wrong_object": 0.25,
    "localization": 0.25,
    "background": 0.08,
    "no_object": 0.06,
    "unparsed": 0.06,
}
FG, BG = 0.5, 0.1
LOCALIZATION_FRACTION = 0.4  # share of the target's width the localization answer keeps


@dataclass
class ExpectedErrors:
    designed: dict[str, int]  # how many samples got each designed outcome
    rec: dict[str, int]  # the categories recomputed with box IoU
    res: dict[str, int]  # ... and with mask IoU
    rec_metrics: dict[str, float]
    res_metrics: dict[str, float]


def _category(iou_target: float, iou_others: list[float]) -> str:
    if iou_target >= FG:
        return "hit"
    if max(iou_others, default=0.0) >= FG:
        return "wrong_object"
    if iou_target >= BG:
        return "localization"
    if max(iou_others, default=0.0) >= BG:
        return "near_other"
    return "background"


def make_error_predictions(world: list[SynthImage], path: Path, seed: int = 0) -> ExpectedErrors:
    """Write a predictions JSONL over the world's sentences (sample_id = sentence id, as
    the PaDT JSONL and refer layouts number them) and return what it must score."""
    rng = np.random.default_rng(seed)
    names = list(DESIGN)
    probs = np.array([DESIGN[n] for n in names])
    probs = probs / probs.sum()
    designed = {n: 0 for n in names}
    rec = {c: 0 for c in ("hit", "wrong_object", "localization", "near_other", "background", "no_object", "unparsed")}
    res = dict(rec)
    box_ious: list[float] = []
    mask_i: list[int] = []
    mask_u: list[int] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for sent_id, img, j, _expr in iter_sentences(world):
            outcome = names[int(rng.choice(len(names), p=probs))]
            designed[outcome] += 1
            masks = [rlemod.decode(o.mask).astype(bool) for o in img.objects]
            boxes = [
                [o.bbox_xywh[0], o.bbox_xywh[1], o.bbox_xywh[0] + o.bbox_xywh[2], o.bbox_xywh[1] + o.bbox_xywh[3]]
                for o in img.objects
            ]
            line: dict = {"sample_id": str(sent_id), "objects": []}
            box: list[float] | None = None
            mask: np.ndarray | None = None
            if outcome == "hit":
                box, mask = boxes[j], masks[j]
            elif outcome == "wrong_object":
                k = (j + 1) % len(img.objects)
                box, mask = boxes[k], masks[k]
            elif outcome == "localization":
                x1, y1, x2, y2 = boxes[j]
                cut = x1 + LOCALIZATION_FRACTION * (x2 - x1)
                box = [x1, y1, cut, y2]
                mask = masks[j].copy()
                mask[:, int(round(cut)) :] = False
            elif outcome == "background":
                box = [0.0, 0.0, 2.0, 2.0]
                mask = np.zeros_like(masks[j])
                mask[:2, :2] = True
            elif outcome == "unparsed":
                line.update(text="somewhere", parse_status="failed", parse_reason="no box in the text")
            if box is not None and mask is not None:
                line["objects"].append({"bbox": [float(v) for v in box], "score": 0.9, "mask": rlemod.encode(mask)})
            f.write(json.dumps(line) + "\n")
            # the expectation, recomputed from geometry alone
            if outcome in ("no_object", "unparsed"):
                rec[outcome] += 1
                res[outcome] += 1
                box_ious.append(0.0)
                mask_i.append(0)
                mask_u.append(int(masks[j].sum()))
                continue
            assert box is not None and mask is not None
            others = [k for k in range(len(img.objects)) if k != j]
            rec[_category(_box_iou_plain(box, boxes[j]), [_box_iou_plain(box, boxes[k]) for k in others])] += 1
            res[_category(_mask_iou_plain(mask, masks[j]), [_mask_iou_plain(mask, masks[k]) for k in others])] += 1
            box_ious.append(_box_iou_plain(box, boxes[j]))
            mask_i.append(int(np.logical_and(mask, masks[j]).sum()))
            mask_u.append(int(np.logical_or(mask, masks[j]).sum()))
    return ExpectedErrors(designed, rec, res, rec_expected(box_ious), res_expected(mask_i, mask_u))
