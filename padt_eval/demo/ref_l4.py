"""Ref-L4-layout demo data, Ref-L4's review of the demo RefCOCO, and Ref-L4 predictions
whose scores are known by construction.

* `write_ref_l4` writes `ref_l4/ref-l4-{val,test}.parquet` (the release's columns: id,
  caption, bbox xywh, bbox_area, bbox_id, ori_category_id, image_id, height, width,
  file_name, is_rewrite, split) and the images under `ref_l4/images`: one long expression
  per object, naming its colour (so the colour-finder can answer). Class ids alternate
  between the RefCOCO and Objects365 spellings, so the evaluator's class merge is exercised.
* `write_review` writes `ref_l4/refcocos_annotation_reviewed/refcoco_val_reviewed.json` in
  MDETR's format for the demo RefCOCO (`synthetic.write_refer`), marking every sentence
  whose sent_id ≡ 3 (mod 5) erroneous (`caption_quality` 0); it returns their sent_ids.
* `make_ref_l4_predictions` answers each sample by design (exact box, a box of half the
  width at IoU exactly 0.5, a box elsewhere, no answer) and returns what both protocols
  must score, counted from the designs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

from padt_eval.core.types import Sample
from padt_eval.demo.data import _box_iou_plain, rec_expected
from padt_eval.demo.synthetic import SHAPE_CATEGORY_IDS, SynthImage, iter_sentences, write_images
from padt_eval.metrics.ref_l4 import CLASS_MERGE

REF_L4_SPLITS = ("val", "test")
FLAG_EVERY, FLAG_AT = 5, 3  # sent_id % 5 == 3: marked erroneous by the demo review
DESIGNS = ("exact", "half_width", "elsewhere", "no_answer")
_PLACES = ("upper left", "upper right", "lower left", "lower right")


def ref_l4_split_of(image_id: int) -> str:
    return REF_L4_SPLITS[(image_id - 1) % 2]


def _caption(img: SynthImage, j: int) -> str:
    o = img.objects[j]
    x, y, w, h = o.bbox_xywh
    place = _PLACES[(2 if y + h / 2 > img.height / 2 else 0) + (1 if x + w / 2 > img.width / 2 else 0)]
    others = len(img.objects) - 1
    return (
        f"The {o.colour} {o.shape} in the {place} part of the picture, drawn flat on the plain background "
        f"beside {others} other shape{'s' if others != 1 else ''} of different colours."
    )


def ref_l4_rows(world: list[SynthImage]) -> dict[str, list[dict]]:
    """The rows of each Ref-L4 split file, in the release's columns."""
    rows: dict[str, list[dict]] = {s: [] for s in REF_L4_SPLITS}
    ann = 0
    for img in world:
        split = ref_l4_split_of(img.image_id)
        for j, o in enumerate(img.objects):
            ann += 1
            cid = SHAPE_CATEGORY_IDS[o.shape]
            rows[split].append(
                {
                    "id": ann,
                    "caption": _caption(img, j),
                    "bbox": [float(v) for v in o.bbox_xywh],
                    "bbox_area": float(o.bbox_xywh[2] * o.bbox_xywh[3]),
                    "bbox_id": f"coco_{ann}",
                    "ori_category_id": f"refcoco_{cid}" if ann % 2 else f"o365_{100 + cid}",
                    "image_id": f"coco_{img.image_id}",
                    "height": img.height,
                    "width": img.width,
                    "file_name": img.file_name,
                    "is_rewrite": bool(ann % 3 == 0),
                    "split": split,
                }
            )
    return rows


def write_parquet(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_ref_l4(world: list[SynthImage], data_dir: Path) -> dict[str, int]:
    """The Ref-L4 layout under `data_dir/ref_l4`; returns the row count of each split."""
    out = data_dir / "ref_l4"
    write_images(world, out / "images")
    counts = {}
    for split, rows in ref_l4_rows(world).items():
        write_parquet(rows, out / f"ref-l4-{split}.parquet")
        counts[split] = len(rows)
    return counts


def review_document(world: list[SynthImage]) -> tuple[dict, list[str]]:
    """MDETR-format review of the demo RefCOCO (every sentence, split val) and the sent_ids it flags."""
    ann_ids: dict[tuple[int, int], int] = {}
    for img in world:  # the annotation ids of synthetic.write_refer: 1, 2, ... in image, then object order
        for j in range(len(img.objects)):
            ann_ids[(img.image_id, j)] = len(ann_ids) + 1
    images, annotations, flagged = [], [], []
    for n, (sent_id, img, j, expr) in enumerate(iter_sentences(world)):
        bad = sent_id % FLAG_EVERY == FLAG_AT
        if bad:
            flagged.append(str(sent_id))
        images.append(
            {
                "id": n,
                "file_name": img.file_name,
                "height": img.height,
                "width": img.width,
                "original_id": img.image_id,
                "caption": expr,
                "dataset_name": "refcoco",
            }
        )
        annotations.append(
            {
                "id": n,
                "image_id": n,
                "bbox": list(img.objects[j].bbox_xywh),
                "category_id": SHAPE_CATEGORY_IDS[img.objects[j].shape],
                "original_id": ann_ids[(img.image_id, j)],
                "caption_quality": 0 if bad else 1,
            }
        )
    return {"images": images, "annotations": annotations}, flagged


def write_review(world: list[SynthImage], data_dir: Path) -> list[str]:
    doc, flagged = review_document(world)
    path = data_dir / "ref_l4" / "refcocos_annotation_reviewed" / "refcoco_val_reviewed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return flagged


@dataclass
class ExpectedRefL4:
    standard: dict[str, float]
    official: dict[str, float]
    designs: dict[str, int] = field(default_factory=dict)


# The IoU each design gives, whatever the box: exact 1, half the width 0.5, elsewhere and
# no answer 0 (the half-width box's IoU is 0.5 exactly in float32 and float64: the demo's
# boxes have integer corners).
DESIGN_IOU = {"exact": 1.0, "half_width": 0.5, "elsewhere": 0.0, "no_answer": 0.0}
_MACC = [i / 100 for i in range(50, 100, 5)]


def _expected(samples: list[Sample], designs: list[str], strict: bool) -> dict[str, float]:
    """Every number of the Ref-L4 metric, counted from the designs' IoUs in plain Python."""
    ious = [DESIGN_IOU[d] for d in designs]

    def acc(vals: list[float], t: float) -> float:
        return sum((v > t) if strict else (v >= t) for v in vals) / len(vals)

    out = {f"acc@{t:g}": acc(ious, t) for t in (0.5, 0.75, 0.9)}
    out["macc"] = mean(acc(ious, t) for t in _MACC)
    buckets: dict[str, list[float]] = {}
    classes: dict[str, list[float]] = {}
    for s, v in zip(samples, ious):
        _, _, w, h = s.meta["bbox_xywh"]
        size = math.sqrt(w * h)
        buckets.setdefault("small" if size < 128 else "medium" if size <= 256 else "large", []).append(v)
        cls = s.meta["ori_category_id"]
        classes.setdefault(CLASS_MERGE.get(cls, cls), []).append(v)
    for b, vals in buckets.items():
        out[f"{b}_acc@0.5"] = acc(vals, 0.5)
        out[f"{b}_macc"] = mean(acc(vals, t) for t in _MACC)
    out["cls_acc@0.5"] = mean(acc(v, 0.5) for v in classes.values())
    out["cls_macc"] = mean(mean(acc(v, t) for v in classes.values()) for t in _MACC)
    return out


def make_ref_l4_predictions(samples: list[Sample], path: Path) -> ExpectedRefL4:
    """Sample k gets design k mod 4; every number follows from the designs: the half-width
    box (IoU exactly 0.5) is a hit under IoU ≥ 0.5 and a miss under the evaluator's IoU > 0.5."""
    designs = {d: 0 for d in DESIGNS}
    lines, chosen = [], []
    for k, s in enumerate(samples):
        design = DESIGNS[k % len(DESIGNS)]
        designs[design] += 1
        chosen.append(design)
        x1, y1, x2, y2 = s.objects[0].bbox
        box = {
            "exact": [x1, y1, x2, y2],
            "half_width": [x1, y1, x1 + (x2 - x1) / 2, y2],
            "elsewhere": [x2 + 1, y2 + 1, x2 + 2 + (x2 - x1), y2 + 2 + (y2 - y1)],
        }.get(design)
        if box is not None:
            lines.append({"sample_id": s.sample_id, "objects": [{"bbox": box}]})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    standard = _expected(samples, chosen, strict=False)
    official = {**_expected(samples, chosen, strict=True), "acc@0.5_padt_eval": standard["acc@0.5"]}
    return ExpectedRefL4(standard, official, designs)


def rec_expected_from_file(predictions: Path, samples: list[Sample]) -> dict[str, float]:
    """REC's numbers for `samples` from a demo predictions file, recomputed in plain Python:
    the highest-scored box of each answer (the first of equal scores), IoU 0 for a sample
    with no line, an unread line or no box. For the cleaned split's expectation."""
    answers = {}
    for raw in predictions.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        objs = [o for o in line.get("objects", []) if o.get("bbox") is not None]
        if line.get("parse_status", "ok") == "ok" and objs:
            answers[line["sample_id"]] = max(objs, key=lambda o: o.get("score", 0.0))["bbox"]
    return rec_expected(
        _box_iou_plain(answers[s.sample_id], s.objects[0].bbox) if s.sample_id in answers else 0.0 for s in samples
    )
