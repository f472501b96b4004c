"""The PaDT release's own REC result files (`eval/evaluation_scripts`, Gorilla-Lab-SCUT/PaDT@912a8ae5).

`utils.py::infer_dataset` writes, per rank r, `<split>_<r>_pred_results_<suffix>.json`:
JSONL, one line per *decoded object* (a sample whose answer holds no object writes none),
`{"image_id", "score" (sigmoid of the score head), "category" (the label its answer
quoted), "bbox" (COCO xywh, original pixels, each value round()ed), "mask" (COCO RLE)}`,
and `<split>_<r>_pred_comp_<suffix>.json` with `{"image_id", "completion"}` per sample. A
completion line names no expression, so it cannot be told apart from the image's other
samples: padt-eval reads the results files (the decoded objects) and skips completions.

`eval_refcoco.py` scores them by key `"<image_id>_<category>"` against the PaDT JSONL (its
ground truth: the normalised box times the image size, each xywh value round()ed), keeping
for each key **the best IoU over all of its objects** (a max, so every extra object is
another chance), hit at IoU >= 0.5. padt-eval scores the same objects with its one answer
rule (the highest-scoring object), so the agreement names `best_box` where the release's hit
came from another object of the answer, and `rounding` where its rounded boxes decide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from padt_eval.core.boxes import NORMALISED_BOX_META
from padt_eval.core.errors import DataError
from padt_eval.core.types import ObjectPred, Sample
from padt_eval.imports.rows import PIXELS, ImportedFile, ImportedRow, RowKeys, ToolkitView, jsonl_objects, normalised_expression

NAME = "padt-release"
FRAME = "decoded boxes written as round()ed COCO xywh in original pixels"


def read(paths: list[Path]) -> ImportedFile:
    rows: list[ImportedRow] = []
    skipped = 0
    for path in paths:
        for where, obj in jsonl_objects(path, "PaDT release result file"):
            if isinstance(obj, dict) and "completion" in obj and "bbox" not in obj:
                skipped += 1
                continue
            rows.append(_row(obj, where))
    notes = []
    if skipped:
        notes.append(f"{skipped} pred_comp line(s) skipped: a completion names only its image, not its expression")
    return ImportedFile(
        NAME, [str(p) for p in paths], rows, "PaDT release pred_results JSONL (one line per decoded object)", notes, True
    )


def _row(obj: Any, where: str) -> ImportedRow:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("image_id", "category", "bbox"):
        if key not in obj:
            raise DataError(f"{where}: no '{key}' field (a pred_results line holds image_id, score, category, bbox, mask)")
    box = obj["bbox"]
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
        raise DataError(f"{where}: 'bbox' must be four numbers (COCO xywh), got {box!r:.80}")
    score = obj.get("score")
    if score is not None and not isinstance(score, (int, float)):
        raise DataError(f"{where}: 'score' must be a number, got {score!r:.40}")
    mask = obj.get("mask")
    if mask is not None and not isinstance(mask, dict):
        raise DataError(f"{where}: 'mask' must be a COCO RLE object")
    x, y, w, h = (float(v) for v in box)
    label = str(obj["category"])
    pred = ObjectPred(bbox=[x, y, x + w, y + h], score=float(score) if score is not None else None, label=label, mask=mask)
    keys = RowKeys(image_id=str(obj["image_id"]), expression=normalised_expression(label))
    return ImportedRow(where, keys, objects=[pred], toolkit_id=f"{obj['image_id']}_{label}")


def _release_iou(a: list[float], b: list[float]) -> float:
    """eval_refcoco.py::calculate_iou on COCO xywh boxes (0 for an empty union)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def release_gt_xywh(sample: Sample) -> list[float]:
    """The release's ground truth: the PaDT JSONL's normalised box times the image size,
    each xywh value round()ed (eval_refcoco.py); from the pixel box on other layouts."""
    w, h = sample.image.width, sample.image.height
    nb = sample.meta.get(NORMALISED_BOX_META)
    if nb is None:
        b = sample.objects[0].bbox
        nb = [b[0] / w, b[1] / h, b[2] / w, b[3] / h]
    return [round(nb[0] * w), round(nb[1] * h), round((nb[2] - nb[0]) * w), round((nb[3] - nb[1]) * h)]


def release_view(sample: Sample, objects: list[ObjectPred]) -> ToolkitView:
    """The release's verdict on one sample, by its own rule: best IoU over every object."""
    gt = release_gt_xywh(sample)
    best_iou, best_box = 0.0, None
    for o in objects:
        if o.bbox is None:
            continue
        xywh = [o.bbox[0], o.bbox[1], o.bbox[2] - o.bbox[0], o.bbox[3] - o.bbox[1]]
        iou = _release_iou(gt, xywh)
        if best_box is None or iou > best_iou:
            best_iou, best_box = iou, list(o.bbox)
    return ToolkitView(
        hit=best_iou >= 0.5,
        iou=best_iou,
        box=best_box,
        gt_box=[gt[0], gt[1], gt[0] + gt[2], gt[1] + gt[3]],
        units=PIXELS,
        frame=FRAME,
        verdict_source="eval_refcoco.py's rule on its own objects: the best IoU over the key's objects >= 0.5, against round()ed xywh",
    )
