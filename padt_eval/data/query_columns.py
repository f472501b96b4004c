"""A REC/RES split read as columns, for the columnar scoring path (`scoring/columnar.py`).

The same lines a reader turns into `Sample` objects, read once with orjson into what
scoring needs: ids, image sizes, target boxes (original-image pixels), the targets'
masks (RES only, in pycocotools' form) and image ids; and for the alarms
(`scoring/alarm_watch.py`) which samples share an expression and which an image, as group
numbers. The columns are kept in a cache
keyed by the file's sha256 (`core/derived_cache.py`, verified on every read), so a split
is parsed, and its target masks checked, once. Only the common case is read here: any line that is not plainly well formed gives None, and the caller scores the
split through the reader itself, whose checks then name the file, line and field.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import is_finite_box
from padt_eval.core.derived_cache import Built, derived_file
from padt_eval.core.expressions import expression_group
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.jsonl import InMemoryFile, open_source
from padt_eval.core.types import Task
from padt_eval.data.jsonl_split import BLOCK_LINES
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.split import SplitReader

_DRIVE = re.compile(r"^[A-Za-z]:")


class TargetMasks:
    """The targets' masks in pycocotools' form, `{"size": [h, w], "counts": bytes}`, made
    when asked for: the compressed counts of all of them stay one array (a dict and a
    bytes object a mask would double the memory a 50k-sample split holds)."""

    def __init__(self, sizes: np.ndarray, blob: np.ndarray, ends: np.ndarray, areas: np.ndarray) -> None:
        self.sizes, self.blob, self.ends = sizes, blob, ends
        self._areas = areas  # computed when the cache was built
        self._counts = memoryview(blob)  # slices of a memoryview are cheaper than of the array
        self._ends = ends.tolist()

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, row: int) -> dict:
        return {"size": self.sizes[row].tolist(), "counts": self.counts(row)}

    def counts(self, row: int) -> bytes:
        """The compressed counts of `self[row]` alone."""
        return self._counts[self._ends[row - 1] if row else 0 : self._ends[row]].tobytes()

    def areas(self) -> np.ndarray:
        """Every mask's pixel area (`rle.areas`, computed when the cache was built)."""
        return self._areas


@dataclass
class QueryColumns:
    """One row a sample, in the split's order."""

    ids: list[str]
    image_ids: list[Any]
    sizes: np.ndarray  # (n, 2) int64: height, width
    boxes: np.ndarray  # (n, 4) float64: the target's box, x1 y1 x2 y2 in pixels
    #: RES: the targets' masks; once the IoUs are known, only those the chance-level alarm
    #: reads (`scoring/columnar._keep_alarm_masks`)
    masks: TargetMasks | dict[int, dict] | None
    #: equal numbers for equal `core.expressions.expression_group`s of the expressions
    expression_groups: np.ndarray
    #: equal numbers for the same image file (the same path under the image root)
    image_groups: np.ndarray

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


#: the columnar cache's layout and checks; a new version rebuilds every cache
_VERSION = "padt-jsonl-columns-v3"  # v2: expression and image groups; v3: the target masks' areas


class _NotPlain(Exception):
    """A line the columnar reader leaves to the reader's own checks."""


def _padt_jsonl(reader: PadtRefcocoJsonlReader, with_masks: bool) -> QueryColumns | None:
    """The split's columns from a cache keyed by the file's sha256 (built, and for RES its
    target masks checked, on the first read: `core/derived_cache.py` verifies it on
    every read); a split kept in memory is parsed each time."""
    try:
        if isinstance(reader.path, InMemoryFile):
            return _from_npz(_parsed(reader, with_masks).data, reader)
        kind = "res" if with_masks else "rec"
        cached = cache_dir() / "query-columns" / f"{reader.path.stem}_{kind}_{sha256_file(reader.path)[:24]}.npz"
        derived = derived_file(cached, _VERSION, lambda: _parsed(reader, with_masks))
        return _from_npz(derived.path if derived.path is not None else derived.read_bytes(), reader)
    except _NotPlain:
        return None


def _parsed(reader: PadtRefcocoJsonlReader, with_masks: bool) -> Built:
    # PaDT's JSONL: sample_id is the 0-based line index (blank lines keep their number).
    lines: list[int] = []
    image_ids: list[Any] = []
    sizes: list[list[int]] = []
    boxes: list[list[float]] = []
    masks: list[dict] = []
    expressions: dict[str, int] = {}
    images: dict[str, int] = {}
    expression_groups: list[int] = []
    image_groups: list[int] = []
    with open_source(reader.path) as f:
        for line_index, raw in enumerate(f):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise _NotPlain from None
            objects = obj.get("objects") if type(obj) is dict else None
            if type(objects) is not list or len(objects) != 1 or type(objects[0]) is not dict:
                raise _NotPlain
            o = objects[0]
            mask, nb = o.get("rle"), o.get("bbox")
            if rlemod.size_problem(mask) is not None or not is_finite_box(nb) or type(o.get("label")) is not str:
                raise _NotPlain
            if not _plain_image_path(obj.get("image")):
                raise _NotPlain
            h, w = mask["size"]
            if h <= 0 or w <= 0:
                raise _NotPlain
            lines.append(line_index)
            image_ids.append(obj.get("id"))
            sizes.append([h, w])
            boxes.append([nb[0] * w, nb[1] * h, nb[2] * w, nb[3] * h])
            if with_masks:
                masks.append(mask)
            expression_groups.append(expressions.setdefault(expression_group(o["label"]), len(expressions)))
            # the reader's image path is the root joined with these parts (`ImageRoot.join`)
            image = "/".join(p for p in obj["image"].replace("\\", "/").split("/") if p not in ("", "."))
            image_groups.append(images.setdefault(image, len(images)))
    if not lines:
        raise _NotPlain
    arrays = {
        "lines": np.array(lines, dtype=np.int64),
        "image_ids": np.frombuffer(orjson.dumps(image_ids), dtype=np.uint8),
        "sizes": np.array(sizes, dtype=np.int64).reshape(-1, 2),
        "boxes": np.array(boxes, dtype=np.float64).reshape(-1, 4),
        "expression_groups": np.array(expression_groups, dtype=np.int64),
        "image_groups": np.array(image_groups, dtype=np.int64),
    }
    if with_masks:
        for start in range(0, len(masks), BLOCK_LINES):
            if any(why is not None for why in rlemod.problems(masks[start : start + BLOCK_LINES])):
                raise _NotPlain
        counts = [rlemod.to_cocotools(rlemod.normalise(m))["counts"] for m in masks]
        arrays["counts"] = np.frombuffer(b"".join(counts), dtype=np.uint8)
        arrays["counts_end"] = np.cumsum([len(c) for c in counts], dtype=np.int64)
        arrays["areas"] = rlemod.areas([{"size": m["size"], "counts": c} for m, c in zip(masks, counts)])
    out = io.BytesIO()
    np.savez(out, **arrays)
    return Built(out.getvalue(), len(lines))


def _from_npz(source: Path | bytes, reader: PadtRefcocoJsonlReader) -> QueryColumns:
    # The ids are the reader's own strings (the same line indices): one copy in memory.
    ids = list(reader.sample_ids())
    with np.load(io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False) as z:
        if not np.array_equal(z["lines"], np.fromiter(map(int, ids), dtype=np.int64, count=len(ids))):
            raise _NotPlain  # cannot happen for one file's bytes; the reader's reading then decides
        sizes = z["sizes"]
        masks = None
        if "counts" in z:
            masks = TargetMasks(sizes, z["counts"], z["counts_end"], z["areas"])
        return QueryColumns(
            ids, orjson.loads(z["image_ids"].tobytes()), sizes, z["boxes"], masks, z["expression_groups"], z["image_groups"]
        )
