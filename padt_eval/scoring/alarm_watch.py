"""The alarms of one scored run: columns gathered while the run is scored, checked at the end.

`score()` hands every chunk of (samples, predictions, per-sample records) to `AlarmWatch.add`,
which keeps a few plain columns (answers as `answer_key`s, expressions, images, the hit-max flag and,
for REC/RES, each sample's score, target and image size); `AlarmWatch.alarms` runs the
checks of `metrics/alarms.py` on them once every sample is in. The chance-level test
(`metrics/chance.py`) needs the trivial answers' IoUs: REC's are numpy over the boxes;
RES's are exact pixel counts on RLE (pycocotools, only for the pairs whose boxes meet).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from padt_eval.core import rle
from padt_eval.core.errors import DataError
from padt_eval.core.types import GroundTruthObject, Prediction, Sample, Task
from padt_eval.data.instances import load_image_instances
from padt_eval.data.split import SplitReader
from padt_eval.metrics import alarms as checks
from padt_eval.metrics import chance
from padt_eval.metrics.alarms import Alarm
from padt_eval.metrics.base import Metric
from padt_eval.results.record import ModelDescription

#: Where a prediction says it stopped at --max-new-tokens, in the order looked for: the
#: adapters' cost field (`hit_max_new_tokens`, true when it ran to the limit), the HF
#: adapter's `stopped` (an end token was generated), PaDT's `finished`.
HIT_MAX_FIELDS = ("hit_max_new_tokens", "stopped", "finished")


def answer_key(pred: Prediction, width: int, height: int) -> Hashable | None:
    """What "the same answer" compares: the answer's objects where it has any (boxes in
    hundredths of the image size, so one box asked of two images of different sizes is
    recognised; a mask-only object by its RLE), else its text; None when it has neither.
    Text alone would not do: a model may say "the red object" every time and point at a
    different object on every image. Runs once per sample: the one-box case is a tuple of
    four ints, without string formatting."""
    objs = pred.objects
    if objs:
        if len(objs) == 1 and objs[0].bbox is not None and width > 0 and height > 0:
            b, sx, sy = objs[0].bbox, 100 / width, 100 / height
            return (int(b[0] * sx + 0.5), int(b[1] * sy + 0.5), int(b[2] * sx + 0.5), int(b[3] * sy + 0.5))
        parts: list[Hashable] = []
        for o in objs:
            if o.bbox is not None and width > 0 and height > 0:
                b, sx, sy = o.bbox, 100 / width, 100 / height
                parts.append((int(b[0] * sx + 0.5), int(b[1] * sy + 0.5), int(b[2] * sx + 0.5), int(b[3] * sy + 0.5)))
            elif o.mask is not None:
                parts.append(f"mask {o.mask.get('size')} {o.mask.get('counts')}")
            else:
                parts.append(str(o.label))
        return tuple(parts)
    text = (pred.text or "").strip()
    return text or None


def hit_max(meta: dict[str, Any]) -> tuple[bool | None, str | None]:
    """(whether this prediction stopped at --max-new-tokens, the field that says so)."""
    flag = meta.get(HIT_MAX_FIELDS[0])
    if isinstance(flag, bool):
        return flag, HIT_MAX_FIELDS[0]
    for key in HIT_MAX_FIELDS[1:]:
        v = meta.get(key)
        if isinstance(v, bool):
            return not v, key
    return None, None


class AlarmWatch:
    """Collects what the alarms need from one run while it is scored."""

    def __init__(self, task: Task, protocol: str, metric: Metric, seed: int = chance.RANDOM_SEED) -> None:
        self.task = task
        # REC/RES chance level on the standard protocol's per-sample records (the PaDT
        # release's best-of-N answers are scored in its final records, not per chunk)
        self.chance = task in (Task.REC, Task.RES) and protocol == "standard"
        self.metric = metric
        self.seed = seed
        self.answers: list[Hashable | None] = []  # `answer_key` of each sample's prediction
        self.expressions: list[str | None] = []
        self.images: list[str] = []
        self.hit_max: list[bool | None] = []
        self.hit_max_field: str | None = None
        self.scores: list[Any] = []
        self.targets: list[GroundTruthObject] = []
        self.image_ids: list[Any] = []
        self.wh: list[tuple[int, int]] = []

    def add(self, samples: Sequence[Sample], preds: Sequence[Prediction], records: Sequence[dict[str, Any]]) -> None:
        self.answers += [answer_key(p, s.image.width, s.image.height) for s, p in zip(samples, preds)]
        self.expressions += [s.expression for s in samples]
        self.images += [s.image.path for s in samples]
        for p in preds:
            flag, where = hit_max(p.meta) if p.meta else (None, None)
            self.hit_max.append(flag)
            self.hit_max_field = self.hit_max_field or where
        if self.chance and len(records) == len(samples):
            key, default = ("hit@0.5", False) if self.task == Task.REC else ("iou", 0.0)
            self.scores += [r.get(key, default) for r in records]
            self.targets += [s.objects[0] for s in samples]
            self.image_ids += [s.meta.get("image_id") for s in samples]
            self.wh += [(s.image.width, s.image.height) for s in samples]
        else:
            self.chance = False

    def alarms(self, reader: SplitReader, counts: dict[str, int], model: ModelDescription) -> list[Alarm]:
        found = [
            self._chance(reader),
            checks.same_answer(self.answers),
            checks.parse_failures(int(counts.get("n_parse_failed", 0)), int(counts.get("n_samples", len(self.answers)))),
            checks.hit_max_tokens(self.hit_max, self.hit_max_field or ""),
            checks.image_blind(self.expressions, self.images, self.answers),
            checks.untrained_weights(model.find("weight_stats")),
        ]
        return [a for a in found if a is not None]

    # -- chance level ---------------------------------------------------------------------
    def _chance(self, reader: SplitReader) -> Alarm | None:
        if not self.chance or len(self.scores) < chance.MIN_SAMPLES:
            return None
        lookup, why = self._instances(reader)
        wh = np.asarray(self.wh, dtype=np.float64)
        if self.task == Task.REC:
            gt = np.asarray([t.bbox for t in self.targets], dtype=np.float64)
            largest = np.full_like(gt, np.nan)
            if lookup is not None:
                boxes = _largest_boxes(lookup, self.image_ids)
                for i, image_id in enumerate(self.image_ids):
                    box = boxes.get(image_id)
                    if box is not None:
                        largest[i] = box
            tests = chance.rec_tests(np.asarray(self.scores, dtype=bool), gt, wh, largest, self.seed)
        else:
            # exact pixel counts cost a pycocotools merge a sample: a large split is
            # tested on a seeded subset (metrics/chance.py, MASK_SAMPLES)
            idx = chance.mask_subset(len(self.scores), self.seed)
            trivial = self._res_trivial(wh[idx], lookup, idx.tolist())
            tests = chance.res_tests(np.asarray(self.scores, dtype=np.float64)[idx], trivial)
        alarm = checks.chance_level(tests)
        if alarm is not None and why:
            alarm.evidence["largest_instance_note"] = why
        if alarm is not None and self.task == Task.RES and len(self.scores) > chance.MASK_SAMPLES:
            alarm.evidence["subset"] = f"a seeded random {chance.MASK_SAMPLES} of the {len(self.scores)} samples"
        return alarm

    def _instances(self, reader: SplitReader):
        """The image-instance lookup: the error breakdown's when it has one, else the
        split's instances file; (None, why) when the split has none."""
        errors = getattr(self.metric, "error_counts", None)
        if errors is not None and errors.lookup is not None:
            return errors.lookup, None
        info = reader.info
        if not info.instances_file:
            return (
                None,
                info.instances_note or f"the {info.layout} layout carries no image instances: largest-instance test left out",
            )
        try:
            return load_image_instances(info.instances_file, set(self.image_ids)).get, None
        except DataError as exc:
            return None, f"instances file unusable ({exc}): largest-instance test left out"

    def _res_trivial(self, wh: np.ndarray, lookup, idx: list[int]) -> dict[str, np.ndarray]:
        """Per-sample IoU of the target masks of samples `idx` with the whole image, the
        largest instance's mask and a random box, exact on RLE; NaN where a trivial answer
        is unknown."""
        targets = [self.targets[i] for i in idx]
        image_ids = [self.image_ids[i] for i in idx]
        gts = [rle.to_cocotools(t.mask) for t in targets]  # type: ignore[arg-type]
        a_g = rle.areas(gts).astype(np.float64)
        out = {"whole_image": a_g / np.maximum(wh[:, 0] * wh[:, 1], 1.0)}
        gt_boxes = np.asarray([t.bbox for t in targets], dtype=np.float64)
        boxes = chance.random_boxes(wh, self.seed)
        out["random_box"] = _mask_vs_masks(gts, a_g, _box_rles(boxes, wh), gt_boxes, boxes)
        largest = np.full(len(idx), np.nan)
        if lookup is not None:
            largest = _largest_ious(lookup, image_ids, gts, a_g, gt_boxes)
        out["largest_instance"] = largest
        return out


def _largest_ious(lookup, image_ids: list[Any], gts: list[dict], a_g: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """IoU of each target mask with its image's largest instance; NaN where unknown.
    Computed once per (image, target): a RefCOCO object is named by several expressions;
    and without a merge where the two RLEs are the same (IoU 1)."""
    masks = _largest_masks(lookup, image_ids)
    groups: dict[tuple[Any, bytes], list[int]] = {}
    for i, image_id in enumerate(image_ids):
        m = masks.get(image_id)
        if m is not None and list(m[0]["size"]) == list(gts[i]["size"]):
            groups.setdefault((image_id, gts[i]["counts"]), []).append(i)
    out = np.full(len(gts), np.nan)
    firsts = [members[0] for members in groups.values()]
    same = [i for i in firsts if masks[image_ids[i]][0]["counts"] == gts[i]["counts"]]
    other = [i for i in firsts if masks[image_ids[i]][0]["counts"] != gts[i]["counts"]]
    out[same] = np.where(a_g[same] > 0, 1.0, 0.0)
    if other:
        out[other] = _mask_vs_masks(
            [gts[i] for i in other],
            a_g[other],
            [masks[image_ids[i]][0] for i in other],
            gt_boxes[other],
            np.asarray([masks[image_ids[i]][1] for i in other], dtype=np.float64).reshape(-1, 4),
        )
    for members in groups.values():
        out[members[1:]] = out[members[0]]
    return out


def _largest_boxes(lookup, image_ids: Sequence[Any]) -> dict[Any, list[float]]:
    """image id -> the box of its largest instance (by box area), once per image."""
    out: dict[Any, list[float]] = {}
    for image_id in set(image_ids):
        insts = lookup(image_id)
        if insts:
            out[image_id] = max(insts, key=lambda i: (i.bbox[2] - i.bbox[0]) * (i.bbox[3] - i.bbox[1])).bbox
    return out


def _largest_masks(lookup, image_ids: Sequence[Any]) -> dict[Any, tuple[dict, list[float]]]:
    """image id -> (pycocotools RLE, box) of its largest instance by mask area, once per
    image; the areas of every image's instances in one pycocotools call."""
    per_image = [(image_id, insts) for image_id in set(image_ids) if (insts := lookup(image_id))]
    masks = [rle.to_cocotools(i.mask) for _, insts in per_image for i in insts]
    areas = rle.areas(masks) if masks else np.zeros(0)
    out: dict[Any, tuple[dict, list[float]]] = {}
    pos = 0
    for image_id, insts in per_image:
        k = int(np.argmax(areas[pos : pos + len(insts)]))
        out[image_id] = (masks[pos + k], insts[k].bbox)
        pos += len(insts)
    return out


def _box_rles(boxes: np.ndarray, wh: np.ndarray) -> list[dict]:
    """Each xyxy box as a mask of its image's size (pycocotools form): the pixels whose
    centres lie inside it."""
    xa = np.clip(np.ceil(boxes[:, 0] - 0.5), 0, wh[:, 0]).astype(np.int64).tolist()
    xb = np.clip(np.ceil(boxes[:, 2] - 0.5), 0, wh[:, 0]).astype(np.int64).tolist()
    ya = np.clip(np.ceil(boxes[:, 1] - 0.5), 0, wh[:, 1]).astype(np.int64).tolist()
    yb = np.clip(np.ceil(boxes[:, 3] - 0.5), 0, wh[:, 1]).astype(np.int64).tolist()
    sizes = wh.astype(np.int64).tolist()
    return [
        {"size": [h, w], "counts": _rect_counts(x0, x1, y0, y1, w, h)} for x0, x1, y0, y1, (w, h) in zip(xa, xb, ya, yb, sizes)
    ]


def _rect_counts(x0: int, x1: int, y0: int, y1: int, w: int, h: int) -> bytes:
    """The compressed COCO counts of the rectangle [x0, x1) × [y0, y1), written directly.

    Column-major, its runs are: x0·h + y0 zeros, then per column `rows` ones and h − rows
    zeros, the last column's ones followed by the rest of the image. pycocotools stores
    each run from the fourth on as its difference to the run two before (`rleToString`), so
    every inner run is the digit 0 and the string is four numbers around a row of '0's:
    no per-column work (rasterising the box as a polygon costs ~0.4 ms a box)."""
    if x1 <= x0 or y1 <= y0:
        return _compress([w * h])
    rows, cols = y1 - y0, x1 - x0
    tail = w * h - ((x1 - 1) * h + y1)
    if cols == 1:
        return _compress([x0 * h + y0, rows, tail])
    # runs: a, rows, h-rows, (rows, h-rows) × (cols-2), rows, tail: 2·cols + 1 of them
    return _encode(x0 * h + y0) + _encode(rows) + _encode(h - rows) + b"0" * (2 * cols - 3) + _encode(tail - (h - rows))


def _compress(runs: list[int]) -> bytes:
    return b"".join(_encode(r - runs[i - 2] if i > 2 else r) for i, r in enumerate(runs))


def _encode(x: int) -> bytes:
    """One run (or difference) in pycocotools' string form: 5 bits a character, least
    significant first, 0x20 a continuation bit, offset 48."""
    out = bytearray()
    more = True
    while more:
        c = x & 0x1F
        x >>= 5
        more = x != -1 if c & 0x10 else x != 0
        if more:
            c |= 0x20
        out.append(c + 48)
    return bytes(out)


def _mask_vs_masks(
    gts: list[dict], a_g: np.ndarray, others: list[dict], gt_boxes: np.ndarray, other_boxes: np.ndarray
) -> np.ndarray:
    """IoU of gts[i] with others[i]; an intersection is only computed where the boxes,
    grown by a pixel (an annotated box may miss its rasterised mask by one), meet: masks
    lie inside their boxes, so elsewhere it is 0."""
    n = len(gts)
    a_o = rle.areas(others).astype(np.float64) if n else np.zeros(0)
    inter = np.zeros(n)
    grow = np.array([-1.0, -1.0, 1.0, 1.0])
    meet = np.flatnonzero(chance.row_box_iou(gt_boxes + grow, other_boxes + grow) > 0) if n else []
    if len(meet):
        inter[meet] = rle.areas([rle.intersection(others[i], gts[i]) for i in meet])
    union = a_o + a_g - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
