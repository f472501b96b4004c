"""VLMEvalKit's prediction sheet of its `RefCOCO` grounding dataset, and its `_detail` sheet.

Layout, read in open-compass/VLMEvalKit@e8e78f05: `vlmeval/inference.py` writes
`<work_dir>/<model>/<eval_id>/<model>_RefCOCO.<xlsx|tsv|json>` (PRED_FORMAT, xlsx by
default, `vlmeval/smp/file.py::dump`): the dataset's TSV row without `image`, plus
`prediction` (the model's answer). `vlmeval/dataset/refcoco.py::evaluate` then writes
`<model>_RefCOCO_detail.<fmt>`, the same rows plus `pred_bbox` (its box in pixels,
`'[x1, y1, x2, y2]'`, empty when it read none), `iou`, `hit` (1 when IoU >= 0.5) and
`split`. The aggregate TSV carries the columns that file reads: `index` (prefixed with the
split, e.g. `RefCOCO_val_12`), `question`, `answer`, `split` or `category`, `width`,
`height` and optionally `bbox_x1..bbox_y2`. Its loader names no sentence or annotation id,
so rows are matched by whichever id columns the sheet holds (`sent_id`; `ann_id`;
`image_id`, or a COCO `file_name`/`image_path`) with the expression (`expression`/`sentence`
column, or the `<ref>…</ref>` of `question`); a row with none of them is listed unmatched.

Its reading of the answer (`_parse_prediction`, `_to_absolute`): the first `[n n n n]`,
else the first four numbers anywhere, then a magnitude rule (largest |v| <= 1.5: 0-1;
<= 1000: 0-1000; otherwise pixels), clipped to the image and with corners swapped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from padt_eval.core.errors import DataError
from padt_eval.imports.rows import (
    PIXELS,
    ImportedFile,
    ImportedRow,
    RowKeys,
    ToolkitView,
    image_id_from_file_name,
    normalised_expression,
)
from padt_eval.imports.sheets import read_sheet

NAME = "vlmevalkit"
FRAME = "magnitude rule: largest |v| <= 1.5 read as 0-1, <= 1000 as 0-1000, else pixels; clipped, corners swapped"
_REF = re.compile(r"<ref>(.*?)</ref>", re.DOTALL)
_DESCRIBES = re.compile(r"describes:\s*(.+?)\s*$", re.DOTALL | re.IGNORECASE)
_NUMBER = r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"
_BOX = re.compile(rf"\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]")
_EXPRESSION_COLUMNS = ("expression", "sentence", "sent", "referring_expression", "ref")
_IMAGE_FILE_COLUMNS = ("file_name", "image_path", "image_name")
_GT_COLUMNS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")


def read(paths: list[Path]) -> ImportedFile:
    rows: list[ImportedRow] = []
    for path in paths:
        for number, cells in read_sheet(path):
            rows.append(_row(cells, f"{path} row {number}"))
    notes = []
    if rows and all(r.view is None for r in rows):
        notes.append(
            "no hit/iou columns: this is the prediction sheet, not the _detail sheet, so VLMEvalKit's verdicts are not known"
        )
    return ImportedFile(NAME, [str(p) for p in paths], rows, "VLMEvalKit RefCOCO prediction sheet (xlsx/tsv/csv/json)", notes)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


def _text(v: Any) -> str | None:
    return None if _blank(v) else str(v).strip()


def _number(cells: dict[str, Any], column: str, where: str) -> float | None:
    v = cells.get(column)
    if _blank(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise DataError(f"{where}: column '{column}' must be a number, got {v!r:.60}") from None


def _box_text(v: Any, column: str, where: str) -> list[float] | None:
    if _blank(v):
        return None
    m = _BOX.search(str(v))
    if m is None:
        raise DataError(f"{where}: column '{column}' must be a box '[x1, y1, x2, y2]', got {v!r:.60}")
    return [float(m.group(i)) for i in range(1, 5)]


def _expression(cells: dict[str, Any]) -> str | None:
    for column in _EXPRESSION_COLUMNS:
        if not _blank(cells.get(column)):
            return str(cells[column])
    question = _text(cells.get("question")) or ""
    m = _REF.search(question) or _DESCRIBES.search(question)
    return m.group(1) if m else None


def _id(cells: dict[str, Any], column: str) -> str | None:
    v = cells.get(column)
    if _blank(v):
        return None
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()


def _gt_box(cells: dict[str, Any], where: str) -> list[float] | None:
    values = [_number(cells, c, where) for c in _GT_COLUMNS]
    if all(v is not None for v in values):
        return values  # type: ignore[return-value]
    answer = _box_text(cells.get("answer"), "answer", where) if not _blank(cells.get("answer")) else None
    width, height = _number(cells, "width", where), _number(cells, "height", where)
    if answer is None or not width or not height:
        return None
    peak = max(abs(v) for v in answer)  # VLMEvalKit's own rule for its ground truth (_to_absolute)
    if peak <= 1.5:
        return [answer[0] * width, answer[1] * height, answer[2] * width, answer[3] * height]
    if peak <= 1000:
        return [answer[0] / 1000 * width, answer[1] / 1000 * height, answer[2] / 1000 * width, answer[3] / 1000 * height]
    return answer


def _row(cells: dict[str, Any], where: str) -> ImportedRow:
    if "prediction" not in cells:
        raise DataError(f"{where}: no 'prediction' column (VLMEvalKit's answer column)")
    image_id = _id(cells, "image_id")
    if image_id is None:
        for column in _IMAGE_FILE_COLUMNS:
            found = image_id_from_file_name(cells.get(column)) if not _blank(cells.get(column)) else None
            if found is not None:
                image_id = str(found)
                break
    keys = RowKeys(
        sample_id=_id(cells, "sent_id"),
        ann_id=_id(cells, "ann_id"),
        image_id=image_id,
        expression=normalised_expression(_expression(cells)),
    )
    view = None
    if "hit" in cells:
        hit = _number(cells, "hit", where)
        if hit is None:
            raise DataError(f"{where}: column 'hit' is empty")
        view = ToolkitView(
            hit=hit >= 1,
            iou=_number(cells, "iou", where),
            box=_box_text(cells.get("pred_bbox"), "pred_bbox", where),
            gt_box=_gt_box(cells, where),
            units=PIXELS,
            frame=FRAME,
            verdict_source="its _detail sheet's 'hit' column (IoU >= 0.5)",
        )
    split = _text(cells.get("split")) or _text(cells.get("dataset"))
    answer = cells.get("prediction")
    text = None if _blank(answer) else str(answer)  # the raw answer, as written
    return ImportedRow(where, keys, text=text, view=view, toolkit_id=_id(cells, "index"), split=split)
