"""The PaDT release's REC/RES scoring, reproduced: `--protocol padt-release`.

PaDT's `eval/evaluation_scripts/eval_refcoco.py` (commit 912a8ae) scores differently from
the paper's words and from `metrics/rec.py`/`res.py` (see docs/reference/padt_paper_protocol.md §4,
rows 1, 2 and 4). This module reimplements its rules (not its code) so that a results
table can show how much the protocol alone moves a model's numbers:

* **Keys, not samples.** Ground truth and predictions are keyed by
  `"{image_id}_{expression}"`. When two samples share a key, the ground truth of the
  *last* one (split order) overwrites the others: every sample with that key is scored
  against it.
* **A predicted object belongs to the key of its echoed label.** PaDT's parser labels an
  object with the quoted expression the model echoed; the release keys the object by that
  label, so an object whose echo does not match any ground-truth key on the image is
  silently ignored, and one that echoes another sample's expression scores for *that*
  key. Objects without a label (predictions files that do not carry one) are keyed by
  their own sample's expression, i.e. as if the echo had matched.
* **Best of N.** A key's box IoU is the maximum over every object keyed to it (from
  every sample with that key), and its mask IoU, separately, the maximum over their
  masks. A key with no object scores 0.
* **Boxes as the release has them.** Both boxes are compared as integer
  `[x, y, w, h]`. The ground truth is rounded from the split's normalised box in the
  release's order (`round(x1n*W)`, `round((x2n - x1n)*W)`: `release_gt_xywh`); a
  prediction's `round()` of its corner and its width (PaDT's inference writes them as
  integers already), with the release's IoU:
  areas `w*h` without clamping, a zero union scores 0. Hit = IoU >= 0.5.
* **"cIoU" is a mean.** The RES number is the mean over items of the key's best
  per-object mask IoU (what the release prints as `RES CIoU`), not ΣI/ΣU.
* **Items are the split's samples.** Each sample is one item and takes its key's values,
  as in the release's "VLM-R1 validation set" branch (the one behind the paper's tables)
  when the item list equals the split: misses count 0, and duplicate keys count once per
  item. (The release's other branch, "our validation set", counts each key once and
  averages RES only over keys that received a prediction; not reproduced.)

For OVD the release scores with pycocotools' COCOeval (bbox, default parameters) against
its filtered ground truth (`--gt padt-filtered`, which the protocol implies) and keeps a
detection only when its label, lower-cased, is exactly a class name as the annotation
file writes it (names are not lower-cased, so "Traffic Light" never matches): no
synonyms, no other normalisation. Its GT keeps every image of the annotation file, so a
detection on an image the filter dropped is a false positive (`ReleaseDetectionMetric`).

Nothing here is used by the standard protocol. Because a key's value is known only when
every sample is in, records are produced by `final_records()` at the end of a run. The
state keeps each sample's objects, in split order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from padt_eval.core import rle
from padt_eval.core.boxes import NORMALISED_BOX_META, release_gt_xywh
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base
from padt_eval.metrics.detection import DetectionMetric
from padt_eval.metrics.estimators import Estimator, estimate_records, mean
from padt_eval.metrics.rec import THRESHOLDS, RecMetric

PROTOCOL_NAME = "padt-release"
RELEASE_REFERENCE = "Gorilla-Lab-SCUT/PaDT@912a8ae eval/evaluation_scripts/eval_refcoco.py"


def release_key(image_id: Any, expression: str) -> str:
    return f"{image_id}_{expression}"


def image_key(sample: Sample) -> Any:
    """The image part of the key: the COCO image id when the reader knows it, else the file."""
    image_id = sample.meta.get("image_id")
    return image_id if image_id is not None else sample.meta.get("image_file", sample.image.path)


def release_xywh(box: Sequence[float]) -> list[int]:
    """`[x1, y1, x2, y2]` → the release's integer `[x, y, w, h]` (Python's round, half to even)."""
    return [round(box[0]), round(box[1]), round(box[2] - box[0]), round(box[3] - box[1])]


def _gt_xywh(sample: Sample) -> list[int]:
    """A sample's ground truth as the release builds it: from the split's normalised box
    when the reader kept it (PaDT's split files), else from the pixel corners."""
    norm = sample.meta.get(NORMALISED_BOX_META)
    if norm is not None:
        return release_gt_xywh(norm, sample.image.width, sample.image.height)
    return release_xywh(sample.objects[0].bbox)


def release_box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The release's `calculate_iou` on `[x, y, w, h]`: areas are `w*h`, not clamped."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union != 0 else 0.0


class _KeyState:
    __slots__ = ("gt_box", "gt_mask", "gt_sample", "objects", "n_items")

    def __init__(self) -> None:
        self.gt_box: list[int] | None = None
        self.gt_mask: dict | None = None
        self.gt_sample: str | None = None
        self.objects: list[dict[str, Any]] = []  # {"box": xywh | None, "mask": RLE | None, "from": sample_id}
        self.n_items = 0


class ReleaseMetric(Metric):
    """REC (`acc@t`, `mean_iou`) or RES (`ciou` as the release computes it) under the release's rules."""

    @classmethod
    def declared(cls, task: Task) -> dict[str, Estimator]:
        # REC: the standard REC's formulas over the key-pooled records; RES: the release's
        # "cIoU" is a mean over items of a per-item IoU, not ΣI/ΣU
        return RecMetric.ESTIMATORS if task == Task.REC else {"ciou": mean("iou")}

    def __init__(self, task: Task) -> None:
        if task not in (Task.REC, Task.RES):
            raise ValueError(f"the padt-release protocol covers REC and RES, not {task.value}")
        self.task = task
        # Each sample in update order: (record base, key, objects (label, box, mask)).
        self.items: list[dict[str, Any]] = []
        self.outcomes = OutcomeCounts()
        self._scored: tuple[list[dict[str, Any]], dict[str, int]] | None = None

    # -- collecting -------------------------------------------------------------------
    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        self.update_many([sample], [pred])
        return {}

    def update_many(self, samples: Sequence[Sample], preds: Sequence[Prediction]) -> list[dict[str, Any]]:
        self._scored = None
        for sample, pred in zip(samples, preds):
            if len(sample.objects) != 1:
                raise ValueError(f"sample {sample.sample_id}: REC/RES needs exactly one ground-truth object")
            gt = sample.objects[0]
            if self.task == Task.RES and gt.mask is None:
                raise ValueError(f"sample {sample.sample_id}: RES needs a ground-truth mask")
            img = image_key(sample)
            objs = []
            if is_answered(pred):
                for o in pred.objects:
                    objs.append(
                        {
                            "label": o.label,
                            "box": list(o.bbox) if o.bbox is not None else None,
                            "mask": o.mask if self.task == Task.RES else None,
                        }
                    )
            self.outcomes.add(pred, has_object=bool(objs))
            self.items.append(
                {
                    "base": record_base(sample, pred),
                    "image": img,
                    "expression": sample.expression or "",
                    "gt_xywh": _gt_xywh(sample),
                    "gt_mask": gt.mask if self.task == Task.RES else None,
                    "objects": objs,
                }
            )
        return []

    # -- scoring ----------------------------------------------------------------------
    def _score(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        if self._scored is None:
            self._scored = self._score_now()
        return self._scored

    def _score_now(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        keys: dict[str, _KeyState] = {}
        for it in self.items:  # the last sample of a key owns its ground truth
            k = keys.setdefault(release_key(it["image"], it["expression"]), _KeyState())
            # (states saved before the release's rounding order was followed hold pixel corners)
            k.gt_box = list(it["gt_xywh"]) if "gt_xywh" in it else release_xywh(it["gt_box"])
            k.gt_mask = it["gt_mask"]
            k.gt_sample = it["base"]["sample_id"]
            k.n_items += 1
        extra = {
            "n_keys": len(keys),
            "n_objects": 0,
            "n_objects_unmatched": 0,
            "n_objects_other_key": 0,
            "n_mask_size_mismatch": 0,
        }
        for it in self.items:
            own = release_key(it["image"], it["expression"])
            for o in it["objects"]:
                extra["n_objects"] += 1
                key = own if o["label"] is None else release_key(it["image"], o["label"])
                if key not in keys:
                    extra["n_objects_unmatched"] += 1
                    continue
                if key != own:
                    extra["n_objects_other_key"] += 1
                keys[key].objects.append({"box": o["box"], "mask": o["mask"], "from": it["base"]["sample_id"]})
        box_best: dict[str, float] = {}
        mask_best: dict[str, float] = {}
        for name, k in keys.items():
            b = m = 0.0
            for o in k.objects:
                if o["box"] is not None:
                    b = max(b, release_box_iou(release_xywh(o["box"]), k.gt_box))  # type: ignore[arg-type]
                if self.task == Task.RES and o["mask"] is not None:
                    try:
                        inter, union = rle.intersection_and_union(o["mask"], k.gt_mask)  # type: ignore[arg-type]
                    except ValueError:
                        extra["n_mask_size_mismatch"] += 1
                        continue
                    m = max(m, inter / union if union > 0 else 0.0)
            box_best[name], mask_best[name] = b, m
        records = []
        for it in self.items:
            key = release_key(it["image"], it["expression"])
            rec = dict(it["base"])
            k = keys[key]
            rec["key"] = key
            rec["key_items"] = k.n_items
            rec["n_objects_for_key"] = len(k.objects)
            if k.gt_sample != rec["sample_id"]:
                rec["gt_from"] = k.gt_sample
            if self.task == Task.REC:
                iou = box_best[key]
                rec["iou"] = iou
                for t in THRESHOLDS:
                    rec[f"hit@{t:g}"] = iou >= t
            else:
                rec["iou"] = mask_best[key]
                rec["box_iou"] = box_best[key]
            records.append(rec)
        extra["n_key_collisions"] = sum(k.n_items for k in keys.values() if k.n_items > 1)
        return records, extra

    def final_records(self) -> list[dict[str, Any]]:
        return self._score()[0]

    def compute(self) -> dict[str, float]:
        # the items' values added in split order, as the release adds them
        return estimate_records(self.declared(self.task), self._score()[0], in_order=True)

    def counts(self) -> dict[str, int]:
        d = self.outcomes.as_dict()
        d.update(self._score()[1])
        return d

    def protocol(self) -> dict[str, Any]:
        common = {
            "name": PROTOCOL_NAME,
            "reference": RELEASE_REFERENCE,
            "key": "image id + expression; the last sample of a key owns its ground truth",
            "selection": "best of N: maximum IoU over every object keyed to the item's key (objects are keyed by their echoed label)",
            "items": "every sample of the split is an item; misses count 0",
        }
        if self.task == Task.REC:
            common.update(
                hit_rule="IoU >= threshold",
                iou="release IoU on round()ed integer [x, y, w, h] boxes, areas not clamped",
            )
        else:
            common.update(
                ciou="mean over items of the key's best per-object mask IoU (printed by the release as 'RES CIoU'; not ΣI/ΣU)"
            )
        return common


class _ExactNameMapper:
    """The release's label rule: `name_to_cat_id[label.lower()]` where `name_to_cat_id` is
    keyed by the class names *as written* (not lower-cased): a class whose name has a
    capital letter can never be matched."""

    def __init__(self, categories) -> None:
        self._by_name = {str(n): int(c) for c, n in categories}

    def category_id(self, label: str | None) -> int | None:
        return None if label is None else self._by_name.get(label.lower())


class ReleaseDetectionMetric(DetectionMetric):
    """OVD as the release's `eval_coco.py` scores it (the ground truth is the reader's).

    The release's GT keeps every image of the original annotation file, also those its
    filter left without ground truth (or out of its split file): a detection there is a
    false positive. `add_image_outside_split` takes such an image's prediction.
    """

    def __init__(self, categories=None) -> None:
        super().__init__(categories)
        self.mapper = _ExactNameMapper(self.categories)

    def add_image_outside_split(self, image_id: str, width: int, height: int, pred: Prediction) -> None:
        """An image the release keeps in its GT but our filtered split does not hold: no
        ground truth; its detections count (as false positives)."""
        image = self.store.add(str(image_id), height, width, outside_split=True)
        self._add_detections(pred.objects if is_answered(pred) else [], image)

    def counts(self) -> dict[str, int]:
        d = super().counts()
        outside = self.store.outside_split
        d.update(n_images_outside_split=sum(outside), n_dets_outside_split=sum(1 for row in self.store.dt if outside[row[0]]))
        return d

    def protocol(self) -> dict[str, Any]:
        d = dict(super().protocol())
        d.update(
            name=PROTOCOL_NAME,
            reference="Gorilla-Lab-SCUT/PaDT@912a8ae eval/evaluation_scripts/eval_coco.py",
            labels="kept only when the label, lower-cased, is exactly a category name as written (names are not lower-cased; "
            "no synonyms, no other normalisation)",
            gt="PaDT's filtered ground truth (--gt padt-filtered, implied by this protocol)",
            images="every image of the annotation file: detections on an image the filter drops (longer side > 1288 px) "
            "are false positives",
        )
        d.pop("synonyms", None)
        return d
