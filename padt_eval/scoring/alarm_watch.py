"""The alarms of one scored run: columns gathered while the run is scored, checked at the end.

Both scoring paths feed one `AlarmWatch`: the object path hands it every chunk of
(samples, predictions, per-sample records) (`add`), the columnar path its columns once
(`add_columns`, from `scoring/columnar.py`, which reads each line's answer key and hit-max
flag with the line: `line_key`, `hit_max`). What is kept is columns: each answer as a raw
key (one box's coordinates in an (n, 4) array; anything else as a small tuple or its
text), expression and image group codes, the hit-max flags and, for REC/RES, each
sample's score, target and image size. `AlarmWatch.alarms` runs the checks of
`metrics/alarms.py` on them once every sample is in, with numpy over the columns (boxes
in hundredths of their image, grouped as packed integers), so the two paths give the same
alarms by construction and neither pays per-sample Python for them. The chance-level test
(`metrics/chance.py`) needs the trivial answers' IoUs: REC's are numpy over the boxes;
RES's are exact pixel counts on RLE (pycocotools, only for the pairs whose boxes meet).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from padt_eval.core import rle
from padt_eval.core.errors import DataError
from padt_eval.core.expressions import expression_group
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.data.instances import load_image_instances
from padt_eval.data.split import SplitReader
from padt_eval.metrics import alarms as checks
from padt_eval.metrics import chance
from padt_eval.metrics.alarms import Alarm
from padt_eval.metrics.base import Metric
from padt_eval.results.record import ModelDescription

if TYPE_CHECKING:
    from padt_eval.scoring.columnar import ColumnarScore

#: Where a prediction says it stopped at --max-new-tokens, in the order looked for: the
#: adapters' cost field (`hit_max_new_tokens`, true when it ran to the limit), the HF
#: adapter's `stopped` (an end token was generated), PaDT's `finished`.
HIT_MAX_FIELDS = ("hit_max_new_tokens", "stopped", "finished")

#: A raw answer key: one box's coordinates as given (a list: the common case, kept as a
#: row of an array), a tuple of parts for any other set of objects (("box", x1, y1, x2, y2),
#: ("mask", h, w, counts), ("label", label)), the stripped text, or None (no answer).
RawKey = Any


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


def answer_key(pred: Prediction) -> RawKey:
    """What "the same answer" compares, as a raw key (`RawKey`): the answer's objects where
    it has any, else its text; None when it has neither. Text alone would not do: a model
    may say "the red object" every time and point at a different object on every image.
    Boxes are put in hundredths of their image by `AlarmWatch` (so one box asked of two
    images of different sizes is recognised); a mask-only object counts by its RLE where
    the scoring path kept it (REC keeps only the answer's), else by its label."""
    objs = pred.objects
    if objs:
        if len(objs) == 1 and objs[0].bbox is not None:
            return objs[0].bbox
        return tuple(_part(o.bbox, o.mask, o.label) for o in objs)
    return (pred.text or "").strip() or None


def line_key(objects: list[dict], text: str | None, answer: int | None, all_masks: bool) -> RawKey:
    """`answer_key` of a predictions-file line already checked by the columnar path:
    `answer` is its answer's index, `all_masks` whether every mask is read (RES) or only
    the answer's (REC, as `predictions_file.prediction_from_line` does)."""
    if objects:
        if len(objects) == 1 and objects[0].get("bbox") is not None:
            return objects[0]["bbox"]
        parts = []
        for k, o in enumerate(objects):
            mask = o.get("mask")
            keep = mask is not None and o.get("bbox") is None and (all_masks or k == answer)
            parts.append(_part(o.get("bbox"), rle.normalise(mask) if keep else None, o.get("label")))
        return tuple(parts)
    return (text or "").strip() or None


def _part(bbox: Sequence[float] | None, mask: dict | None, label: str | None) -> Hashable:
    if bbox is not None:
        return ("box", *(float(v) for v in bbox))
    if mask is not None:
        return ("mask", int(mask["size"][0]), int(mask["size"][1]), mask["counts"])
    return ("label", label)


class AlarmWatch:
    """Collects what the alarms need from one run while it is scored."""

    def __init__(self, task: Task, protocol: str, metric: Metric, seed: int = chance.RANDOM_SEED) -> None:
        self.task = task
        # REC/RES chance level on the standard protocol's per-sample records (the PaDT
        # release's best-of-N answers are scored in its final records, not per chunk)
        self.chance = task in (Task.REC, Task.RES) and protocol == "standard"
        self.metric = metric
        self.seed = seed
        self.n = 0
        # answers: rows with one box and its coordinates, one after another, as C ints and
        # doubles (no Python object a value: 50,000 kept lists would cost memory and slow
        # every full garbage collection of the run); every other answer by row
        self.box_rows = array("q")
        self.boxes = array("d")
        self.other: dict[int, RawKey] = {}
        self.hits: dict[int, tuple[bool, str]] = {}  # row -> (stopped at the limit, field read)
        self._expr_codes: dict[str, int] = {}
        self._image_codes: dict[str, int] = {}
        self.expr_code: list[int] | np.ndarray = []
        self.image_code: list[int] | np.ndarray = []
        self.wh: list[tuple[int, int]] | np.ndarray = []  # width, height
        self.image_ids: list[Any] = []
        self.scores: list[Any] | np.ndarray = []
        self.target_boxes: list[Sequence[float]] | np.ndarray = []
        self.target_masks: list[Any] = []  # the object path's RLEs (RES)
        self.mask_of: Callable[[int], dict] = lambda i: rle.to_cocotools(self.target_masks[i])

    def add(self, samples: Sequence[Sample], preds: Sequence[Prediction], records: Sequence[dict[str, Any]]) -> None:
        """A chunk of the object path's samples, their predictions and per-sample records."""
        for row, p in enumerate(preds, start=self.n):
            key = answer_key(p)
            if type(key) is list:
                self.box_rows.append(row)
                self.boxes.extend(key)
            elif key is not None:
                self.other[row] = key
            if p.meta:
                flag, where = hit_max(p.meta)
                if flag is not None:
                    self.hits[row] = (flag, where)  # type: ignore[assignment]
        expr, images = self._expr_codes, self._image_codes
        self.expr_code += [
            expr.setdefault(expression_group(s.expression), len(expr)) if s.expression is not None else -1 for s in samples
        ]  # type: ignore[operator]
        self.image_code += [images.setdefault(s.image.path, len(images)) for s in samples]  # type: ignore[operator]
        self.wh += [(s.image.width, s.image.height) for s in samples]  # type: ignore[operator]
        self.n += len(samples)
        if self.chance and len(records) == len(samples):
            key, default = ("hit@0.5", False) if self.task == Task.REC else ("iou", 0.0)
            self.scores += [r.get(key, default) for r in records]  # type: ignore[operator]
            self.target_boxes += [s.objects[0].bbox for s in samples]  # type: ignore[operator]
            self.image_ids += [s.meta.get("image_id") for s in samples]
            if self.task == Task.RES:
                self.target_masks += [s.objects[0].mask for s in samples]
        else:
            self.chance = False

    def add_columns(self, columns: ColumnarScore) -> None:
        """The columnar path's whole run at once (its answers carry their keys and hit-max
        flags: `columnar.Answers`)."""
        cols, a = columns.cols, columns.answers
        self.n = len(cols)
        self.box_rows, self.boxes, self.other, self.hits = a.key_rows, a.key_boxes, a.key_other, a.hits
        self.expr_code, self.image_code = cols.expression_groups, cols.image_groups
        self.wh = cols.sizes[:, ::-1]
        iou = np.asarray(columns.iou, dtype=np.float64)
        self.scores = iou >= 0.5 if self.task == Task.REC else iou
        self.target_boxes, self.image_ids = cols.boxes, cols.image_ids
        if self.task == Task.RES:
            # the columnar path kept the seeded subset's targets, the only ones `_chance` reads
            # (`columnar._keep_alarm_masks`, with this class's default seed)
            masks = cols.masks
            assert masks is not None and self.seed == chance.RANDOM_SEED
            self.mask_of = masks.__getitem__

    def alarms(self, reader: SplitReader, counts: dict[str, int], model: ModelDescription) -> list[Alarm]:
        wh = np.asarray(self.wh, dtype=np.float64).reshape(-1, 2)
        codes, shown = self._answer_codes(wh)
        flags = sorted(self.hits.items())
        found = [
            self._chance(reader, wh),
            checks.same_answer_codes(codes, shown),
            checks.parse_failures(int(counts.get("n_parse_failed", 0)), int(counts.get("n_samples", self.n))),
            checks.hit_max_tokens([f for _, (f, _) in flags], flags[0][1][1] if flags else ""),
            checks.image_blind_codes(
                np.asarray(self.expr_code, dtype=np.int64), np.asarray(self.image_code, dtype=np.int64), codes
            ),
            checks.untrained_weights(model.find("weight_stats")),
        ]
        return [a for a in found if a is not None]

    # -- same answer ----------------------------------------------------------------------
    def _answer_codes(self, wh: np.ndarray) -> tuple[np.ndarray, Callable[[int], str]]:
        """Each sample's answer as an int (-1: none), equal ints for equal answers, and
        how an answer's int is shown. One-box answers, the common case, are grouped as
        packed integers of their box in hundredths of the image (numpy)."""
        codes = np.full(self.n, -1, dtype=np.int64)
        rows = np.frombuffer(self.box_rows, dtype=np.int64) if len(self.box_rows) else np.zeros(0, dtype=np.int64)
        boxes = np.frombuffer(self.boxes, dtype=np.float64) if len(self.boxes) else np.zeros(0)
        q = _hundredths(boxes.reshape(-1, 4), wh[rows])
        uniq, inverse = _unique_rows(q)
        codes[rows] = inverse
        others: dict[Hashable, int] = {}
        base = len(uniq)
        for row in sorted(self.other):
            key = self.other[row]
            if type(key) is tuple:
                key = tuple(_part_in_hundredths(p, wh[row]) for p in key)
            codes[row] = base + others.setdefault(key, len(others))
        other_keys = list(others)

        def shown(code: int) -> str:
            if code < base:
                return str([int(v) if np.isfinite(v) else float(v) for v in uniq[code]])
            return str(other_keys[code - base])

        return codes, shown

    # -- chance level ---------------------------------------------------------------------
    def _chance(self, reader: SplitReader, wh: np.ndarray) -> Alarm | None:
        n = len(self.scores)
        if not self.chance or n < chance.MIN_SAMPLES:
            return None
        lookup, why = self._instances(reader)
        gt = np.asarray(self.target_boxes, dtype=np.float64).reshape(-1, 4)
        subset = chance.subset(n, self.seed)
        if self.task == Task.REC:
            # the largest instance is looked up an image: on the seeded subset (SUBSET_SAMPLES)
            largest = np.full((len(subset), 4), np.nan)
            if lookup is not None:
                image_codes, uniq = _factorise([self.image_ids[i] for i in subset.tolist()])
                largest = _largest_boxes(lookup, uniq)[image_codes]
            tests = chance.rec_tests(np.asarray(self.scores, dtype=bool), gt, wh, largest, self.seed, subset)
        else:
            # exact pixel counts cost a pycocotools merge a sample: a large split is
            # tested on a seeded subset (metrics/chance.py, SUBSET_SAMPLES)
            trivial = self._res_trivial(wh[subset], gt[subset], lookup, subset.tolist())
            tests = chance.res_tests(np.asarray(self.scores, dtype=np.float64)[subset], trivial)
        alarm = checks.chance_level(tests)
        if alarm is not None and why:
            alarm.evidence["largest_instance_note"] = why
        if alarm is not None and n > chance.SUBSET_SAMPLES:
            tested = "the largest-instance test" if self.task == Task.REC else "every test"
            alarm.evidence["subset"] = f"{tested}: a seeded random {chance.SUBSET_SAMPLES} of the {n} samples"
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

    def _res_trivial(self, wh: np.ndarray, gt_boxes: np.ndarray, lookup, idx: list[int]) -> dict[str, np.ndarray]:
        """Per-sample IoU of the target masks of samples `idx` with the whole image, the
        largest instance's mask and a random box, exact on RLE; NaN where a trivial answer
        is unknown."""
        image_ids = [self.image_ids[i] for i in idx]
        gts = [self.mask_of(i) for i in idx]
        a_g = rle.areas(gts).astype(np.float64)
        out = {"whole_image": a_g / np.maximum(wh[:, 0] * wh[:, 1], 1.0)}
        boxes = chance.random_boxes(wh, self.seed)
        out["random_box"] = _mask_vs_masks(gts, a_g, _box_rles(boxes, wh), gt_boxes, boxes)
        largest = np.full(len(idx), np.nan)
        if lookup is not None:
            largest = _largest_ious(lookup, image_ids, gts, a_g, gt_boxes)
        out["largest_instance"] = largest
        return out


def _hundredths(boxes: np.ndarray, wh: np.ndarray) -> np.ndarray:
    """x1 y1 x2 y2 in hundredths of the image's width and height, rounded half up (as
    `int(v * 100 / size + 0.5)`, kept as floats: no overflow); raw where the image's size
    is unknown (0)."""
    sized = (wh[:, 0] > 0) & (wh[:, 1] > 0)
    scale = np.where(sized[:, None], 100.0 / np.where(wh > 0, wh, 1.0), 1.0)[:, [0, 1, 0, 1]]
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.where(sized[:, None], np.trunc(boxes * scale + 0.5), boxes)
    return q + 0.0  # -0.0 is 0.0


def _part_in_hundredths(part: Hashable, wh: np.ndarray) -> Hashable:
    if type(part) is tuple and part[0] == "box":
        return ("box", *_hundredths(np.asarray([part[1:]], dtype=np.float64), wh.reshape(1, 2))[0].tolist())
    return part


def _unique_rows(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct rows of q, each row's index among them). Boxes inside their image
    (hundredths in -32768..32767, the common case) are packed into one integer each."""
    if not len(q):
        return q, np.zeros(0, dtype=np.int64)
    if np.all(np.abs(q) < 32768):
        packed = (q.astype(np.int64) + 32768).astype(np.uint64)
        one = ((packed[:, 0] << 48) | (packed[:, 1] << 32)) | ((packed[:, 2] << 16) | packed[:, 3])
        _, first, inverse = np.unique(one, return_index=True, return_inverse=True)
        return q[first], inverse.ravel()
    rows = np.ascontiguousarray(q).view(np.dtype((np.void, q.dtype.itemsize * 4))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return q[first], inverse.ravel()


def _factorise(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """(each value's index among the distinct values, the distinct values): numpy's for
    integers (image ids are, in every layout the columnar path reads), else in first-seen order."""
    ints = np.asarray(values) if len(values) else np.zeros(0, dtype=np.int64)
    if ints.dtype.kind in "iu":
        uniq, inverse = np.unique(ints, return_inverse=True)
        return inverse.ravel().astype(np.int64), uniq.tolist()
    seen: dict[Any, int] = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(seen)


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


def _largest_boxes(lookup, image_ids: Sequence[Any]) -> np.ndarray:
    """(len(image_ids), 4): the box of each image's largest instance (by box area, the
    first of equal ones, as `max` picks), NaN where the image has none."""
    per_image = [lookup(image_id) or () for image_id in image_ids]
    counts = np.fromiter(map(len, per_image), dtype=np.int64, count=len(per_image))
    boxes = _rows(inst.bbox for insts in per_image for inst in insts)
    out = np.full((len(image_ids), 4), np.nan)
    which, first = _first_max(_xyxy_area(boxes), counts)
    out[which] = boxes[first]
    return out


def _xyxy_area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _rows(values: Iterable[Sequence[float]]) -> np.ndarray:
    """(n, 4) float64 of boxes given as sequences (np.fromiter: half the time of np.asarray)."""
    flat = np.fromiter(chain.from_iterable(values), dtype=np.float64)
    return flat.reshape(-1, 4)


def _first_max(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For consecutive groups of `counts[k]` values: (the groups that have a maximum, the
    index of each one's first maximal value)."""
    group = np.repeat(np.arange(len(counts)), counts)
    top = np.full(len(counts), -np.inf)
    np.maximum.at(top, group, values)
    at_top = np.flatnonzero(values == top[group])
    first = at_top[np.r_[True, group[at_top][1:] != group[at_top][:-1]]] if len(at_top) else at_top
    return group[first], first


def _largest_masks(lookup, image_ids: Sequence[Any]) -> dict[Any, tuple[dict, list[float]]]:
    """image id -> (pycocotools RLE, box) of its largest instance by mask area (the first
    of equal ones), once per image; the areas of every image's instances in one
    pycocotools call."""
    per_image = [(image_id, insts) for image_id in set(image_ids) if (insts := lookup(image_id))]
    flat = [i for _, insts in per_image for i in insts]
    masks = [rle.to_cocotools(i.mask) for i in flat]
    areas = rle.areas(masks).astype(np.float64) if masks else np.zeros(0)
    counts = np.fromiter((len(insts) for _, insts in per_image), dtype=np.int64, count=len(per_image))
    which, first = _first_max(areas, counts)
    return {per_image[k][0]: (masks[f], flat[f].bbox) for k, f in zip(which.tolist(), first.tolist())}


def _box_rles(boxes: np.ndarray, wh: np.ndarray) -> list[dict]:
    """Each xyxy box as a mask of its image's size (pycocotools form): the pixels whose
    centres lie inside it."""
    xa = np.clip(np.ceil(boxes[:, 0] - 0.5), 0, wh[:, 0]).astype(np.int64).tolist()
    xb = np.clip(np.ceil(boxes[:, 2] - 0.5), 0, wh[:, 0]).astype(np.int64).tolist()
    ya = np.clip(np.ceil(boxes[:, 1] - 0.5), 0, wh[:, 1]).astype(np.int64).tolist()
    yb = np.clip(np.ceil(boxes[:, 3] - 0.5), 0, wh[:, 1]).astype(np.int64).tolist()
    sizes = wh.astype(np.int64)
    w, h = sizes[:, 0], sizes[:, 1]
    x0, x1, y0, y1 = (np.asarray(v, dtype=np.int64) for v in (xa, xb, ya, yb))
    rows, cols = y1 - y0, x1 - x0
    # the common box (two columns or more), its four numbers encoded at once (`_rect_counts`)
    plain = (cols >= 2) & (rows > 0)
    nums = _encode_many(np.concatenate([x0 * h + y0, rows, h - rows, w * h - ((x1 - 1) * h + y1) - (h - rows)]))
    n = len(boxes)
    out = []
    for i, (wi, hi) in enumerate(sizes.tolist()):
        if plain[i]:
            counts = nums[i] + nums[n + i] + nums[2 * n + i] + b"0" * (2 * int(cols[i]) - 3) + nums[3 * n + i]
        else:
            counts = _rect_counts(xa[i], xb[i], ya[i], yb[i], wi, hi)
        out.append({"size": [hi, wi], "counts": counts})
    return out


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


def _encode_many(x: np.ndarray) -> list[bytes]:
    """`_encode` of every value of an int64 array, numpy a character position at a time."""
    x = x.astype(np.int64)
    chars = np.zeros((len(x), 13), dtype=np.uint8)  # 13 × 5 bits cover any int64
    length = np.zeros(len(x), dtype=np.int64)
    alive = np.ones(len(x), dtype=bool)
    for pos in range(13):
        if not alive.any():
            break
        c = x & 0x1F
        x = x >> 5  # arithmetic: a negative value ends at -1, as Python's >>
        more = np.where(c & 0x10, x != -1, x != 0) & alive
        chars[:, pos] = (c | np.where(more, 0x20, 0)) + 48
        length += alive
        alive = more
    return [row[:k].tobytes() for row, k in zip(chars, length.tolist())]


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
