"""What one row of another toolkit's prediction file says, in one shape for every toolkit.

A reader (one module per toolkit) turns each row of the toolkit's own file into an
`ImportedRow`: where it is (`file:line`, `file row N`), the keys it can be matched by, the
model's raw text (or, for the PaDT release, the objects its decoder wrote), and what the
toolkit itself recorded about it (`ToolkitView`: its verdict, the box it scored, the ground
truth it scored against, the frame it read the numbers in). Nothing here reads the split.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.core.errors import DataError
from padt_eval.core.types import Box, ObjectPred

PIXELS = "pixels"
NORMALISED = "normalised"  # 0-1 of the original image, x by its width and y by its height


def normalised_expression(text: str | None) -> str | None:
    """The expression as matching compares it: lower case, single spaces, without the
    quotes and the full stop a prompt or a raw sentence may add."""
    if text is None:
        return None
    t = " ".join(str(text).lower().split()).strip().strip("\"'“”").strip()
    return t.rstrip(".").strip() or None


_COCO_FILE_ID = re.compile(r"(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)


def image_id_from_file_name(name: object) -> int | None:
    """The COCO image id of `COCO_train2014_000000123456.jpg` (or `000000123456.jpg`)."""
    m = _COCO_FILE_ID.search(str(name or ""))
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class RowKeys:
    """What a row can be matched to a sample by. `sample_id` is set only where the
    toolkit's column is the split's own id (a refer `sent_id`)."""

    sample_id: str | None = None
    ann_id: str | None = None
    image_id: str | None = None
    expression: str | None = None  # normalised_expression

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in vars(self).items() if v is not None]
        return ", ".join(parts) or "no key"


@dataclass
class ToolkitView:
    """The toolkit's own account of a row: its verdict at IoU 0.5 (`hit`), its IoU, the box
    it scored and the ground truth it scored against (in `units`: pixels or normalised),
    and how it read the model's numbers (`frame`, in words)."""

    hit: bool | None
    iou: float | None = None
    box: Box | None = None  # None: the toolkit read no box (its own parse failed)
    gt_box: Box | None = None
    units: str = PIXELS
    frame: str = ""
    verdict_source: str = ""

    def in_pixels(self, box: Box | None, width: int, height: int) -> Box | None:
        if box is None or self.units == PIXELS:
            return box
        return [box[0] * width, box[1] * height, box[2] * width, box[3] * height]


@dataclass
class ImportedRow:
    where: str
    keys: RowKeys
    text: str | None = None
    objects: list[ObjectPred] | None = None  # structured answers (the PaDT release), else None
    view: ToolkitView | None = None
    toolkit_id: str | None = None
    split: str | None = None  # the toolkit's split label, where its file holds several
    generation: int | None = None  # repeats: which generation of the sample this row is
    meta: dict = field(default_factory=dict)


@dataclass
class ImportedFile:
    """Every row of a toolkit's file(s), and what the reader noted about the layout."""

    toolkit: str
    paths: list[str]
    rows: list[ImportedRow]
    layout: str  # the layout in words, e.g. "lmms-eval --log_samples JSONL"
    notes: list[str] = field(default_factory=list)
    grouped_objects: bool = False  # several rows of one sample are objects of one answer


def jsonl_objects(path: Path, what: str) -> Iterator[tuple[str, Any]]:
    """(`file:line`, the line's JSON value) for each non-blank line of a toolkit's JSONL file."""
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{number}: not UTF-8 text ({exc})") from None
            except ValueError as exc:
                raise DataError(f"{path}:{number}: not JSON ({exc})") from None
            yield f"{path}:{number}", value
