"""A REC/RES split read as columns, for the columnar scoring path (`scoring/columnar.py`).

The same lines a reader turns into `Sample` objects, read once with orjson into what
scoring needs: ids, image sizes, target boxes (original-image pixels), the targets'
masks (RES only, in pycocotools' form) and image ids. RES checks the targets' masks
once per file content (`core/derived_cache.py`'s source records). Only the common case
is read here: any line that is not plainly well formed gives None, and the caller scores the
split through the reader itself, whose checks then name the file, line and field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import is_finite_box
from padt_eval.core.derived_cache import record_source_validated, source_validated
from padt_eval.core.jsonl import open_source
from padt_eval.core.types import Task
from padt_eval.data.jsonl_split import BLOCK_LINES
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.split import SplitReader

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class QueryColumns:
    """One row a sample, in the split's order."""

    ids: list[str]
    image_ids: list[Any]
    sizes: np.ndarray  # (n, 2) int64: height, width
    boxes: np.ndarray  # (n, 4) float64: the target's box, x1 y1 x2 y2 in pixels
    masks: list[dict] | None  # RES: the target's mask, {"size", "counts": bytes}

    def __len__(self) -> int:
        return len(self.ids)


def _plain_image_path(p: Any) -> bool:
    """What `ImageRoot.join` accepts without a message (anything else: the reader's turn)."""
    if type(p) is not str or not p or p.startswith(("/", "\\")) or _DRIVE.match(p):
        return False
    return ".." not in p.replace("\\", "/").split("/")


def read_query_columns(reader: SplitReader, task: Task) -> QueryColumns | None:
    """The split as columns, or None where the columnar path does not read this split
    (another layout, or a line that is not plainly well formed)."""
    if type(reader) is PadtRefcocoJsonlReader and task in (Task.REC, Task.RES):
        return _padt_jsonl(reader, task == Task.RES)
    return None


#: the checks the RES ground truth of a PaDT JSONL file passes (`rle.problems`); a new
#: version makes every file checked again
GT_CHECKS = "padt-jsonl-res-gt-v1"


def _padt_jsonl(reader: PadtRefcocoJsonlReader, with_masks: bool) -> QueryColumns | None:
    # PaDT's JSONL: sample_id is the 0-based line index (blank lines keep their number).
    ids: list[str] = []
    image_ids: list[Any] = []
    sizes: list[list[int]] = []
    boxes: list[list[float]] = []
    masks: list[dict] = []
    digest = hashlib.sha256()
    with open_source(reader.path) as f:
        for line_index, raw in enumerate(f):
            digest.update(raw)
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None
            objects = obj.get("objects") if type(obj) is dict else None
            if type(objects) is not list or len(objects) != 1 or type(objects[0]) is not dict:
                return None
            o = objects[0]
            mask, nb = o.get("rle"), o.get("bbox")
            if rlemod.size_problem(mask) is not None or not is_finite_box(nb) or type(o.get("label")) is not str:
                return None
            if not _plain_image_path(obj.get("image")):
                return None
            h, w = mask["size"]
            if h <= 0 or w <= 0:
                return None
            ids.append(str(line_index))
            image_ids.append(obj.get("id"))
            sizes.append([h, w])
            boxes.append([nb[0] * w, nb[1] * h, nb[2] * w, nb[3] * h])
            if with_masks:
                masks.append(mask)
    if not ids or (with_masks and not _masks_checked(masks, digest.hexdigest())):
        return None
    return QueryColumns(
        ids,
        image_ids,
        np.array(sizes, dtype=np.int64).reshape(-1, 2),
        np.array(boxes, dtype=np.float64).reshape(-1, 4),
        _in_cocotools_form(masks) if with_masks else None,
    )


def _in_cocotools_form(masks: list[dict]) -> list[dict]:
    for i, m in enumerate(masks):  # in place: the masks are the biggest thing a split holds
        masks[i] = rlemod.to_cocotools(rlemod.normalise(m))
    return masks


def _masks_checked(masks: list[dict], digest: str) -> bool:
    """RES: every target mask is a valid RLE. The file's bytes are checked once: a file
    with this sha256 that passed before is not checked again (`derived_cache`)."""
    if source_validated("padt-jsonl", GT_CHECKS, digest):
        return True
    for start in range(0, len(masks), BLOCK_LINES):
        if any(why is not None for why in rlemod.problems(masks[start : start + BLOCK_LINES])):
            return False
    record_source_validated("padt-jsonl", GT_CHECKS, digest, len(masks))
    return True
