"""lmms-eval's `--log_samples` file of a `refcoco{,+,g}_bbox_rec_*` task.

Layout, read in EvolvingLMMs-Lab/lmms-eval@75571cfe (`lmms_eval/evaluator.py` builds each
sample, `lmms_eval/loggers/evaluation_tracker.py::save_results_samples` writes
`<output_path>/<model>/<date>_samples_<task>.jsonl`): one JSON object a line with
`doc_id` (the row of the task's exploded dataset), `target` (str of the normalised box),
`input` (the prompt), `filtered_resps` (the answer, unwrapped when there is one), `resps`
(dropped when equal), `doc_hash`, and one key per metric, here `refcoco_IoU`,
`refcoco_ACC@0.5` … (the same prefix in refcoco+ and refcocog, whose `utils_rec.py` are
copies), each holding `process_results`' record `{answer, pred, ann_id, bbox}`
(`lmms_eval/tasks/refcoco/utils_rec.py`): `answer` the expression, `ann_id` the dataset's
`question_id`, `bbox` the ground truth as xyxy normalised to 0-1 by the image size, `pred`
the first `[a, b, c, d]` of the answer, or `[0, 0, 0, 0]` when there is none. Versions
before the tracker popped it also kept `doc` (with `question_id`, `file_name`, `answer`,
`image_width`, `image_height`); an old single-JSON log (`{"logs": [...]}`) is read too.

`question_id` is matched as the split's COCO annotation id (the name lmms-eval gives it);
lmms-lab/RefCOCO's values could not be checked here, and a row whose id is not one is
listed unmatched, never paired by its expression alone.

lmms-eval stores no boolean verdict: its per-sample `ACC@0.5` is `compute_iou(bbox, pred)
>= 0.5` over that record, so the verdict is recomputed from the record with its rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from padt_eval.core.errors import DataError
from padt_eval.imports.rows import (
    NORMALISED,
    ImportedFile,
    ImportedRow,
    RowKeys,
    ToolkitView,
    image_id_from_file_name,
    jsonl_objects,
    normalised_expression,
)

NAME = "lmms-eval"
FRAME = "0-1 of the original image, read as written (the bbox_rec prompt's frame; no per-model conversion)"
# lmms-eval's parse: the first bracketed four numbers with commas (utils_rec.parse_float_sequence_within)
_BRACKETED = re.compile(r"\[\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)\s*\]")
_METRIC_SUFFIX = "_ACC@0.5"


def read(paths: list[Path]) -> ImportedFile:
    rows: list[ImportedRow] = []
    for path in paths:
        for where, obj in _records(path):
            rows.append(_row(obj, where))
    return ImportedFile(NAME, [str(p) for p in paths], rows, "lmms-eval --log_samples JSONL (refcoco*_bbox_rec_* tasks)")


def _records(path: Path):
    if not path.is_file():
        raise DataError(f"lmms-eval samples file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as f:  # a look at the start only; lines are checked below
        head = f.read(4096).lstrip()
    if head.startswith("{") and '"logs"' in head:  # an old single-JSON log; else JSONL
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("logs"), list):
            for k, obj in enumerate(doc["logs"]):
                yield f"{path} logs[{k}]", obj
            return
    yield from jsonl_objects(path, "lmms-eval samples file")


def _answer_text(obj: dict[str, Any], where: str) -> str | None:
    value = obj.get("filtered_resps", obj.get("resps"))
    while isinstance(value, list):  # [[text]] or [text]: lmms-eval's per-request wrappers
        if not value:
            return None
        value = value[0]  # several generations of one doc: process_results reads the first
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: 'filtered_resps' must hold the answer text, got {type(value).__name__}")
    return value


def _record(obj: dict[str, Any], where: str) -> dict[str, Any] | None:
    for key, value in obj.items():
        if key.endswith(_METRIC_SUFFIX) and isinstance(value, dict):
            for field in ("pred", "bbox"):
                v = value.get(field)
                if not (isinstance(v, list) and len(v) == 4 and all(isinstance(x, (int, float)) for x in v)):
                    raise DataError(f"{where}: '{key}.{field}' must be four numbers, got {v!r:.80}")
            return value
    return None


def _iou(gt: list[float], pred: list[float]) -> float:
    """lmms-eval's compute_iou (utils_rec.py), unguarded there: a zero union crashes its run."""
    ix = max(0.0, min(gt[2], pred[2]) - max(gt[0], pred[0]))
    iy = max(0.0, min(gt[3], pred[3]) - max(gt[1], pred[1]))
    inter = ix * iy
    union = (gt[2] - gt[0]) * (gt[3] - gt[1]) + (pred[2] - pred[0]) * (pred[3] - pred[1]) - inter
    return inter / union if union else 0.0


def _row(obj: Any, where: str) -> ImportedRow:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    doc = obj.get("doc") if isinstance(obj.get("doc"), dict) else {}
    text = _answer_text(obj, where)
    record = _record(obj, where)
    ann_id = (record or {}).get("ann_id", doc.get("question_id"))
    expression = (record or {}).get("answer", doc.get("answer"))
    if not isinstance(expression, str):
        expression = None
    image_id = image_id_from_file_name(doc.get("file_name")) if doc.get("file_name") else None
    keys = RowKeys(
        ann_id=str(ann_id) if ann_id is not None else None,
        image_id=str(image_id) if image_id is not None else None,
        expression=normalised_expression(expression),
    )
    view = None
    if record is not None:
        pred = [float(v) for v in record["pred"]]
        gt = [float(v) for v in record["bbox"]]
        read_none = pred == [0.0, 0.0, 0.0, 0.0] and not _BRACKETED.search(text or "")
        iou = _iou(gt, pred)
        view = ToolkitView(
            hit=iou >= 0.5,
            iou=iou,
            box=None if read_none else pred,
            gt_box=gt,
            units=NORMALISED,
            frame=FRAME,
            verdict_source="its stored record (pred, bbox) by its own rule: compute_iou(bbox, pred) >= 0.5",
        )
    doc_id = obj.get("doc_id")
    return ImportedRow(where, keys, text=text, view=view, toolkit_id=str(doc_id) if doc_id is not None else None)
