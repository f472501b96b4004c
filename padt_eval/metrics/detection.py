"""OVD: the 12 COCO detection statistics (box, and mask when predictions carry masks).

Box statistics come from `coco_boxes.py`, COCOeval's box evaluation on numpy columns
(equal to pycocotools to 1e-12, tests/metrics/test_coco_boxes.py); mask statistics from
faster-coco-eval's `COCOeval_faster` (equal to pycocotools, tests check it to 1e-12).
This module only prepares their inputs:

* ground truth: every GT object of every scored image, with its category, `iscrowd`
  and `area` (COCO's area-range buckets use the annotation's `area`; when a split gives
  none, the mask area, else the box area);
* detections: each predicted object whose label maps to a category (`labels.py`), box
  xyxy → xywh (a reversed box has zero width/height), score as given or 1.0 when the
  model gives none. Unmapped labels are counted, never scored.

AP is not a sum over images, so the state is every image's objects, kept as columns
(one list append per object, no dict per detection), and `compute()` evaluates once.
Images are put in sample-id order before evaluation, so the result does not depend on
the order the samples came in (COCOeval breaks score ties by image order). With the
error breakdown on, each batch of images is analysed as it comes (`tide.analyse`), for
the per-sample records, and the batches are joined in that order at the end.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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


class _Images:
    """The scored images, in arrival order: per image its id and size, per GT object
    [image, x, y, w, h, category, crowd, area] as columns and its mask, per detection a
    tuple (image, x1, y1, x2, y2, score, category) and its mask when it has one. Python
    lists while scoring (no dict per object); numpy arrays when asked for."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.sizes: list[tuple[int, int]] = []  # (h, w)
        self.outside_split: list[bool] = []
        self.gt: list[list] = [[] for _ in range(8)]
        self.gt_masks: list[Any] = []
        self.dt: list[tuple] = []
        self.dt_masks: dict[int, Any] = {}  # detection index -> its mask

    def add(self, sample_id: str, h: int, w: int, outside_split: bool = False) -> int:
        self.ids.append(sample_id)
        self.sizes.append((h, w))
        self.outside_split.append(outside_split)
        return len(self.ids) - 1

    def gt_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(image, box xywh, category, crowd, area) of every GT object."""
        image, x, y, w, h, cat, crowd, area = self.gt
        return (
            np.array(image, dtype=np.int64),
            np.array([x, y, w, h], dtype=np.float64).T.reshape(-1, 4),
            np.array(cat, dtype=np.int64),
            np.array(crowd, dtype=bool),
            np.array(area, dtype=np.float64),
        )

    def dt_columns(self, start: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(image, box xywh, score, category) of the scored detections from `start` on; a
        reversed box has zero width / height."""
        rows = np.array(self.dt[start:], dtype=np.float64).reshape(-1, 7)
        box = rows[:, 1:5].copy()
        box[:, 2:] = np.maximum(0.0, box[:, 2:] - box[:, :2])
        return rows[:, 0].astype(np.int64), box, rows[:, 5].copy(), rows[:, 6].astype(np.int64)

    def coco_order(self) -> tuple[list[int], np.ndarray]:
        """COCOeval's image order (sample ids sorted, numerically when all are numbers):
        the image ids it is given, and each arrival index's position in that order."""
        order = sorted(range(len(self.ids)), key=lambda i: self.ids[i])
        numeric = _numeric_ids([{"sample_id": self.ids[i]} for i in order])
        if numeric:
            order.sort(key=lambda i: int(self.ids[i]))
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        image_ids = [int(self.ids[i]) for i in order] if numeric else list(range(1, len(order) + 1))
        return image_ids, position


class DetectionMetric(Metric):
    task = Task.OVD

    def __init__(
        self, categories: Iterable[tuple[int, str]] | None = None, tide_thresholds: ErrorThresholds | None = None
    ) -> None:
        self.categories = [(int(c), str(n)) for c, n in (categories if categories is not None else COCO_CATEGORIES)]
        self.mapper = LabelMapper(self.categories)
        self.store = _Images()
        self.outcomes = OutcomeCounts()
        self.unmapped: Counter[str] = Counter()
        self.n_dets = 0
        self.n_dets_unmapped = 0
        self.n_dets_without_score = 0
        self.n_dets_with_mask = 0
        self.n_gt_without_mask = 0
        # The IoU thresholds when the TIDE-style error breakdown is wanted; the analyses of
        # each batch of images, made for the records, are kept so `errors()` need not redo them.
        self.tide_thresholds = tide_thresholds
        self._tide_parts: list[tuple[Any, np.ndarray, np.ndarray]] = []
        self._n_analysed = 0

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
        return self.update_many([sample], [pred])[0]

    def update_many(self, samples: Sequence[Sample], preds: Sequence[Prediction]) -> list[dict[str, Any]]:
        first = len(self.store.ids)
        n_gt_before, n_dt_before = len(self.store.gt[0]), len(self.store.dt)
        records = []
        for sample, pred in zip(samples, preds):
            rec = record_base(sample, pred)
            image = self.store.add(sample.sample_id, sample.image.height, sample.image.width)
            self._add_gt(sample, image)
            objects = pred.objects if is_answered(pred) else []
            n_det, n_unmapped = self._add_detections(objects, image)
            self.outcomes.add(pred, has_object=bool(objects))
            rec.update(n_gt=len(sample.objects), n_det=n_det, n_unmapped=n_unmapped)
            records.append(rec)
        if self.tide_thresholds is not None and records:
            from padt_eval.metrics.tide import analyse, image_error_counts

            # one array analysis for the batch: an image's error types depend on it alone
            columns = self._tide_columns(first, n_gt_before, n_dt_before)
            a, d_img, g_img = analyse(columns, self.tide_thresholds)
            self._tide_parts.append((a, d_img + first, g_img + first))
            self._n_analysed += len(records)
            for rec, counts in zip(records, image_error_counts(a, d_img, g_img, len(records))):
                rec["errors"] = counts
        return records

    def _tide_columns(self, first_image: int, first_gt: int, first_dt: int):
        """The stored objects from these on, as `tide.Columns` (image indices from `first_image`)."""
        from padt_eval.metrics.tide import Columns

        g, gl = self.store.gt, slice(first_gt, None)
        d_image, d_box, d_score, d_cls = self.store.dt_columns(first_dt)
        return Columns(
            d_image=d_image - first_image,
            d_box=d_box,
            d_score=d_score,
            d_cls=d_cls,
            g_image=np.array(g[0][gl], dtype=np.int64) - first_image,
            g_box=np.array([g[1][gl], g[2][gl], g[3][gl], g[4][gl]], dtype=np.float64).T.reshape(-1, 4),
            g_cls=np.array(g[5][gl], dtype=np.int64),
            g_crowd=np.array(g[6][gl], dtype=bool),
        )

    def _add_gt(self, sample: Sample, image: int) -> None:
        image_, x, y, w, h, cat, crowd, area_ = self.store.gt
        for i, o in enumerate(sample.objects):
            box = _xywh(o.bbox)
            area = o.area
            if area is None:
                area = float(rlemod.area(o.mask)) if o.mask is not None else box[2] * box[3]
            if o.mask is None:
                self.n_gt_without_mask += 1
            image_.append(image)
            x.append(box[0])
            y.append(box[1])
            w.append(box[2])
            h.append(box[3])
            cat.append(self._gt_category(sample, i))
            crowd.append(bool(o.iscrowd))
            area_.append(float(area))
            self.store.gt_masks.append(o.mask)

    def _add_detections(self, objects, image: int) -> tuple[int, int]:
        """Store each object whose label maps to a category (image, box xyxy, score, category
        id; mask); count those that do not map (listed, never scored). (stored, unmapped).
        One tuple an object: boxes become xywh on the columns, all at once."""
        rows, masks = self.store.dt, self.store.dt_masks
        category_id = self.mapper.category_id
        n_unmapped = 0
        for o in objects:
            cid = category_id(o.label)
            if cid is None:
                n_unmapped += 1
                self.unmapped[(o.label or "").strip() or "<no label>"] += 1
                continue
            score = o.score
            if score is None:
                self.n_dets_without_score += 1
                score = DEFAULT_SCORE
            box = o.bbox
            if o.mask is not None:
                self.n_dets_with_mask += 1
                masks[len(rows)] = o.mask
                if box is None:
                    box = rlemod.bbox_xyxy(o.mask)
            rows.append((image, box[0], box[1], box[2], box[3], score, cid))
        self.n_dets += len(objects)
        self.n_dets_unmapped += n_unmapped
        return len(objects) - n_unmapped, n_unmapped

    @property
    def images(self) -> list[dict[str, Any]]:
        """The per-image records {"sample_id", "h", "w", "gt": [[xywh, category, crowd, area,
        mask]], "dt": [[xywh, score, category, mask]]} in arrival order (the form
        `tide_breakdown` and the tests read; scoring itself keeps the columns)."""
        st = self.store
        out = [
            {"sample_id": sid, "h": h, "w": w, "gt": [], "dt": []} | ({"outside_split": True} if outside else {})
            for sid, (h, w), outside in zip(st.ids, st.sizes, st.outside_split)
        ]
        for k, (image, x, y, w, h, cat, crowd, area) in enumerate(zip(*st.gt)):
            out[image]["gt"].append([[x, y, w, h], cat, int(crowd), area, st.gt_masks[k]])
        d_image, d_box, d_score, d_cat = st.dt_columns()
        for k, (image, box, score, cat) in enumerate(zip(d_image.tolist(), d_box.tolist(), d_score.tolist(), d_cat.tolist())):
            out[image]["dt"].append([box, score, cat, st.dt_masks.get(k)])
        return out

    # -- the numbers --------------------------------------------------------------
    def coco_inputs(self, with_masks: bool) -> tuple[dict, list[dict], list[dict]]:
        """(GT dataset dict, bbox results, segm results or []) in COCO's own formats."""
        image_ids, position = self.store.coco_order()
        order = np.argsort(position)
        records = self.images
        images, anns, bbox_dets, segm_dets = [], [], [], []
        for image_id, r in zip(image_ids, (records[i] for i in order.tolist())):
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

    def box_stats(self) -> list[float]:
        """The 12 box statistics, computed on the columns (`coco_boxes.py`)."""
        from padt_eval.metrics.coco_boxes import BoxSet, box_stats

        _, position = self.store.coco_order()
        g_img, g_box, g_cat, g_crowd, g_area = self.store.gt_columns()
        d_img, d_box, d_score, d_cat = self.store.dt_columns()
        return box_stats(
            BoxSet(position[g_img], g_cat, g_box, area=g_area, crowd=g_crowd),
            BoxSet(position[d_img], d_cat, d_box, score=d_score),
            len(position),
            [c for c, _ in self.categories],
        )

    def compute(self) -> dict[str, float | None]:  # type: ignore[override]
        out = _stats_dict(self.box_stats())
        if self._segm_possible():
            gt, _, segm_dets = self.coco_inputs(with_masks=True)
            out.update(_stats_dict(coco_stats(gt, segm_dets, "segm"), prefix="segm_"))
        return out

    def counts(self) -> dict[str, int]:
        d = self.outcomes.as_dict()
        d.update(
            n_gt=len(self.store.gt[0]),
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
        from padt_eval.metrics.tide import analyse, breakdown, in_image_order

        parts = self._tide_parts
        if self._n_analysed != len(self.store.ids):
            # asked for after scoring, or images added outside update_many: all images at once
            parts = [analyse(self._tide_columns(0, 0, 0), self.tide_thresholds)]
        # The image order COCOeval sees, so score ties break the same way.
        _, position = self.store.coco_order()
        return breakdown(in_image_order(parts, position), self.tide_thresholds)

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
