"""evalscope's cached predictions and reviews of its `refcoco` benchmark (`eval_mode=bbox_rec`).

Layout, read in modelscope/evalscope@fde259d2 (`evalscope/api/evaluator/cache.py`):
`<work_dir>/predictions/<model>/refcoco_<subset>.jsonl` holds one `ModelResult` a line
(`index`, `model`, `model_output.choices[0].message.content` the answer, `messages` the
chat, `metadata`), and `<work_dir>/reviews/<model>/refcoco_<subset>.jsonl` one
`ReviewResult` a line (`index`, `target`, `messages`, `sample_score` with
`score.value` {`IoU`, `ACC@0.5`, …}, `score.extracted_prediction` (its box, normalised),
`score.prediction` (the answer), `sample_id`, `group_id`, `generation_index` and
`sample_metadata`). The metadata (`evalscope/benchmarks/refcoco/refcoco_adapter.py`) holds
`question_id`, `file_name`, `answer` (every expression of the object), `original_bbox` (COCO
xywh pixels), `bbox` (xyxy normalised) and `image_size`; the expression a row asked about
is the end of its prompt, after "this sentence describes:".

Its reading of the answer (`extract_answer`): the first `[a, b, c, d]`; if any number is
above 1 all four are divided by the image size (pixels), else read as 0-1; none found gives
`[0, 0, 0, 0]`. A reviews file carries its verdict (`ACC@0.5`); a predictions file does not.
"""

from __future__ import annotations

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

NAME = "evalscope"
FRAME = "0-1 of the original image; pixels when any number is above 1 (divided by the image size)"
_DESCRIBES = re.compile(r"describes:\s*(.+?)\s*$", re.DOTALL | re.IGNORECASE)
_BOX = re.compile(r"\[\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)\s*\]")


def read(paths: list[Path]) -> ImportedFile:
    rows: list[ImportedRow] = []
    for path in paths:
        for where, obj in jsonl_objects(path, "evalscope file"):
            rows.append(_row(obj, where))
    notes = []
    if rows and all(r.view is None for r in rows):
        notes.append("a predictions file: evalscope's verdicts are in its reviews/ file of the same name")
    return ImportedFile(
        NAME, [str(p) for p in paths], rows, "evalscope predictions/ or reviews/ JSONL (refcoco, bbox_rec)", notes
    )


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(t for t in parts if isinstance(t, str))
    return None


def _prompt_expression(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            found = _DESCRIBES.search(_content_text(m.get("content")) or "")
            if found:
                return found.group(1)
    return None


def _field(d: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(d, dict) or key not in d or not isinstance(d[key], kind):
        raise DataError(f"{where}: no '{key}' of the expected kind ({kind})")
    return d[key]


def _four(v: Any) -> list[float] | None:
    if isinstance(v, list) and len(v) == 4 and all(isinstance(x, (int, float)) for x in v):
        return [float(x) for x in v]
    m = _BOX.search(v) if isinstance(v, str) else None
    return [float(m.group(i)) for i in range(1, 5)] if m else None


def _row(obj: Any, where: str) -> ImportedRow:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    index = obj.get("index")
    view = None
    generation = None
    if "sample_score" in obj:
        sample_score = _field(obj, "sample_score", where, dict)
        score = _field(sample_score, "score", f"{where} sample_score", dict)
        value = _field(score, "value", f"{where} sample_score.score", dict)
        metadata = sample_score.get("sample_metadata") or {}
        text = score.get("prediction") if isinstance(score.get("prediction"), str) else None
        generation = sample_score.get("generation_index")
        if "ACC@0.5" not in value:
            raise DataError(f"{where}: sample_score.score.value has no 'ACC@0.5' (is this a refcoco bbox_rec review?)")
        box = _four(score.get("extracted_prediction"))
        gt = _four(metadata.get("bbox")) if isinstance(metadata, dict) else None
        view = ToolkitView(
            hit=bool(value["ACC@0.5"]),
            iou=float(value["IoU"]) if isinstance(value.get("IoU"), (int, float)) else None,
            box=None if box in (None, [0.0, 0.0, 0.0, 0.0]) else box,
            gt_box=gt,
            units=NORMALISED,
            frame=FRAME,
            verdict_source="its review's sample_score.score.value['ACC@0.5']",
        )
    elif "model_output" in obj:
        metadata = obj.get("metadata") or {}
        output = obj.get("model_output") or {}
        choices = output.get("choices") if isinstance(output, dict) else None
        message = choices[0].get("message") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        text = _content_text(message.get("content")) if isinstance(message, dict) else None
    else:
        raise DataError(f"{where}: neither a review (sample_score) nor a prediction (model_output) of evalscope")
    if not isinstance(metadata, dict):
        raise DataError(f"{where}: the sample metadata must be an object")
    keys = RowKeys(
        ann_id=str(metadata["question_id"]) if metadata.get("question_id") is not None else None,
        image_id=(
            str(image_id_from_file_name(metadata.get("file_name")))
            if image_id_from_file_name(metadata.get("file_name"))
            else None
        ),
        expression=normalised_expression(_prompt_expression(obj.get("messages"))),
    )
    return ImportedRow(
        where,
        keys,
        text=text,
        view=view,
        toolkit_id=str(index) if index is not None else None,
        generation=generation if isinstance(generation, int) else None,
    )
