"""OVD: the 12 COCO detection statistics (box, and mask when predictions carry masks).

The numbers come from COCOeval itself: faster-coco-eval's `COCOeval_faster`, which gives
the same statistics as pycocotools (tests check it to 1e-12) several times faster. This
module only prepares its inputs:

* ground truth: every GT object of every scored image, with its category, `iscrowd`
  and `area` (COCO's area-range buckets use the annotation's `area`; when a split gives
  none, the mask area, else the box area);
* detections: each predicted object whose label maps to a category (`labels.py`), box
  xyxy → xywh (a reversed box has zero width/height), score as given or 1.0 when the
  model gives none. Unmapped labels are counted, never scored.

AP is not a sum over images, so the state is the list of per-image records (GT and
detections) and `compute()` runs COCOeval once. Records are put in sample-id order
before evaluation, so the result does not depend on the order the samples came in
(COCOeval breaks score ties by image order).
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterable
from typing import Any

from padt_eval.core import rle as rlemod
from padt_eval.core.coco_categories import COCO_CATEGORIES
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base
from padt_eval.metrics.errors import ErrorThresholds
from padt_eval.metrics.labels import SYNONYMS, LabelMapper, most_common

STAT_KEYS = (
    "ap",
    "ap50",
    "ap75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
)
DEFAULT_SCORE = 1.0
N_LISTED_LABELS = 20


def _xywh(b: list[float]) -> list[float]:
    return [float(b[0]), float(b[1]), max(0.0, float(b[2]) - float(b[0])), max(0.0, float(b[3]) - float(b[1]))]


def _numeric_ids(records: list[dict]) -> bool:
    return all(r["sample_id"].isdigit() and (r["sample_id"] == "0" or r["sample_id"][0] != "0") for r in records)


def _stats_dict(stats: Iterable[float], prefix: str = "") -> dict[str, float | None]:
    # COCOeval writes -1 where a statistic is undefined (no GT of that size): null, not a number.
    return {prefix + k: (None if v < 0 else float(v)) for k, v in zip(STAT_KEYS, stats)}


def _results(gt: dict, dets: list[dict], iou_type: str):
    """What `COCO.loadRes` builds, without its per-detection polygon for bbox results
    (never read by a bbox evaluation): ids from 1, `iscrowd` 0, `area` = w*h for boxes and
    the mask area for masks (then `bbox` from the mask, as loadRes does)."""
    from faster_coco_eval import COCO
    from faster_coco_eval.core import mask as fmask

    if iou_type == "segm":
        rles = [d["segmentation"] for d in dets]
        areas = fmask.area(rles)
        boxes = fmask.toBbox(rles)
        for i, d in enumerate(dets):
            d["area"], d["bbox"] = float(areas[i]), boxes[i].tolist()
    else:
        for d in dets:
            d["area"] = d["bbox"][2] * d["bbox"][3]
    for i, d in enumerate(dets, 1):
        d["id"], d["iscrowd"] = i, 0
    res = COCO()
    res.dataset = {"images": list(gt["images"]), "categories": list(gt["categories"]), "annotations": dets}
    res.createIndex()
    return res


def coco_stats(gt: dict, dets: list[dict], iou_type: str) -> list[float]:
    """Run faster-coco-eval's COCOeval on a GT dataset dict and a results list; the 12 stats."""
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        coco_dt = _results(gt, dets, iou_type) if dets else coco_gt.loadRes(dets)
        ev = COCOeval_faster(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats[:12]]


class DetectionMetric(Metric):
    task = Task.OVD

    def __init__(
        self, categories: Iterable[tuple[int, str]] | None = None, tide_thresholds: ErrorThresholds | None = None
    ) -> None:
        self.categories = [(int(c), str(n)) for c, n in (categories if categories is not None else COCO_CATEGORIES)]
        self.mapper = LabelMapper(self.categories)
        self.images: list[dict[str, Any]] = []
        self.outcomes = OutcomeCounts()
        self.unmapped: Counter[str] = Counter()
        self.n_dets = 0
        self.n_dets_unmapped = 0
        self.n_dets_without_score = 0
        self.n_dets_with_mask = 0
        self.n_gt_without_mask = 0
        # The IoU thresholds when the TIDE-style error breakdown is wanted; the per-image
        # analyses made for the records are kept so `errors()` need not redo them.
        self.tide_thresholds = tide_thresholds
        self._tide_images: dict[str, Any] = {}

    # -- per sample ---------------------------------------------------------------
    def _gt_category(self, sample: Sample, i: int) -> int:
        o = sample.objects[i]
        cid = o.category_id if o.category_id is not None else self.mapper.category_id(o.label)
        if cid is None:
            raise ValueError(
                f"sample {sample.sample_id}: ground-truth object {i} has no category id and label {o.label!r} names no category"
            )
        return int(cid)

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        rec = record_base(sample, pred)
        gts = []
        for i, o in enumerate(sample.objects):
            area = o.area
            if area is None:
                area = float(rlemod.area(o.mask)) if o.mask is not None else _xywh(o.bbox)[2] * _xywh(o.bbox)[3]
            if o.mask is None:
                self.n_gt_without_mask += 1
            gts.append([_xywh(o.bbox), self._gt_category(sample, i), int(bool(o.iscrowd)), float(area), o.mask])
        objects = pred.objects if is_answered(pred) else []
        dets, n_unmapped = self._detections(objects)
        self.n_dets_unmapped += n_unmapped
        self.outcomes.add(pred, has_object=bool(objects))
        self.images.append(
            {"sample_id": sample.sample_id, "h": sample.image.height, "w": sample.image.width, "gt": gts, "dt": dets}
        )
        rec.update(n_gt=len(gts), n_det=len(dets), n_unmapped=n_unmapped)
        if self.tide_thresholds is not None:
            from padt_eval.metrics.tide import analyse_image

            self._tide_images[sample.sample_id], rec["errors"] = analyse_image(self.images[-1], self.tide_thresholds)
        return rec

    def _detections(self, objects) -> tuple[list[list], int]:
        """[xywh, score, category id, mask] of each object whose label maps to a category,
        and how many did not map (counted and listed, never scored)."""
        dets = []
        n_unmapped = 0
        for o in objects:
            self.n_dets += 1
            cid = self.mapper.category_id(o.label)
            if cid is None:
                n_unmapped += 1
                self.unmapped[(o.label or "").strip() or "<no label>"] += 1
                continue
            if o.score is None:
                self.n_dets_without_score += 1
            if o.mask is not None:
                self.n_dets_with_mask += 1
            box = o.bbox if o.bbox is not None else rlemod.bbox_xyxy(o.mask)  # type: ignore[arg-type]
            dets.append([_xywh(box), DEFAULT_SCORE if o.score is None else float(o.score), cid, o.mask])
        return dets, n_unmapped

    # -- the numbers --------------------------------------------------------------
    def coco_inputs(self, with_masks: bool) -> tuple[dict, list[dict], list[dict]]:
        """(GT dataset dict, bbox results, segm results or []) in COCO's own formats."""
        records = sorted(self.images, key=lambda r: r["sample_id"])
        if _numeric_ids(records):
            records.sort(key=lambda r: int(r["sample_id"]))
            ids = [int(r["sample_id"]) for r in records]
        else:
            ids = list(range(1, len(records) + 1))
        images, anns, bbox_dets, segm_dets = [], [], [], []
        for image_id, r in zip(ids, records):
            images.append({"id": image_id, "width": r["w"], "height": r["h"]})
            for box, cid, crowd, area, mask in r["gt"]:
                ann = {"id": len(anns) + 1, "image_id": image_id, "category_id": cid, "bbox": box, "area": area, "iscrowd": crowd}
                if with_masks:
                    ann["segmentation"] = mask
                anns.append(ann)
            for box, score, cid, mask in r["dt"]:
                bbox_dets.append({"image_id": image_id, "category_id": cid, "bbox": box, "score": score})
                if with_masks:
                    # A detection without a mask is an empty mask: it can only be a false positive.
                    m = mask if mask is not None else rlemod.empty(r["h"], r["w"])
                    segm_dets.append({"image_id": image_id, "category_id": cid, "segmentation": m, "score": score})
        cats = [{"id": c, "name": n, "supercategory": ""} for c, n in self.categories]
        return {"images": images, "annotations": anns, "categories": cats}, bbox_dets, segm_dets

    def _segm_possible(self) -> bool:
        return self.n_dets_with_mask > 0 and self.n_gt_without_mask == 0

    def compute(self) -> dict[str, float | None]:  # type: ignore[override]
        segm = self._segm_possible()
        gt, bbox_dets, segm_dets = self.coco_inputs(with_masks=segm)
        out = _stats_dict(coco_stats(gt, bbox_dets, "bbox"))
        if segm:
            out.update(_stats_dict(coco_stats(gt, segm_dets, "segm"), prefix="segm_"))
        return out

    def counts(self) -> dict[str, int]:
        d = self.outcomes.as_dict()
        d.update(
            n_gt=sum(len(r["gt"]) for r in self.images),
            n_dets=self.n_dets,
            n_dets_scored=self.n_dets - self.n_dets_unmapped,
            n_dets_unmapped=self.n_dets_unmapped,
            n_dets_without_score=self.n_dets_without_score,
            n_dets_with_mask=self.n_dets_with_mask,
        )
        return d

    def errors(self) -> dict[str, Any] | None:
        if self.tide_thresholds is None:
            return None
        from padt_eval.metrics.tide import tide_breakdown

        # The image order COCOeval sees (`coco_inputs`), so score ties break the same way.
        records = sorted(self.images, key=lambda r: r["sample_id"])
        if _numeric_ids(records):
            records.sort(key=lambda r: int(r["sample_id"]))
        return tide_breakdown(records, self.tide_thresholds, [self._tide_images.get(r["sample_id"]) for r in records])

    def scores_provided(self) -> bool:
        return self.n_dets_without_score == 0

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "scores_provided": self.scores_provided(),
            "unmapped_labels": most_common(self.unmapped, N_LISTED_LABELS),
            "n_distinct_unmapped_labels": len(self.unmapped),
        }
        if self.n_dets_with_mask and not self._segm_possible():
            d["segm_skipped"] = f"{self.n_gt_without_mask} ground-truth objects have no mask"
        return d

    def notes(self) -> list[str]:
        notes = []
        if not self.scores_provided():
            notes.append(
                f"{self.n_dets_without_score} of {self.n_dets - self.n_dets_unmapped} scored detections carry no score and were "
                "given 1.0: their precision ranking is arbitrary (ties keep output order), so AP is not comparable to a scored model's"
            )
        if self.n_dets_unmapped:
            top = ", ".join(f"{k!r} ×{v}" for k, v in most_common(self.unmapped, 5))
            notes.append(
                f"{self.n_dets_unmapped} detections had a label that names no category and were not scored (most frequent: {top})"
            )
        return notes

    def protocol(self) -> dict[str, Any]:
        return {
            "evaluator": "faster-coco-eval COCOeval_faster (equal to pycocotools COCOeval), default params: maxDets 1/10/100, IoU .50:.05:.95",
            "labels": "case-folded, whitespace/underscore/hyphen-collapsed exact category name, plus a fixed synonym table",
            "synonyms": dict(SYNONYMS),
            "unmapped_labels": "left out of AP, counted and listed",
            "missing_scores": f"a detection without a score gets {DEFAULT_SCORE}",
            "boxes": "xyxy -> xywh; a reversed box has zero width/height; no clipping",
            "gt_area": "the annotation's area (COCO: segmentation area); else mask area; else box area",
            "segm": "computed when any detection carries a mask and every GT has one; a detection without a mask is an empty mask",
            "misses": "missing, unparseable and errored samples contribute no detections; their GT counts in recall",
            "undefined": "COCO's -1 (no GT in that size range) is reported as null",
        }
