"""RefCOCO/+/g with Ref-L4's review applied: the refer split minus the expressions the
reviewers marked erroneous.

Ref-L4 ships `refcocos_annotation_reviewed/<dataset>_<split>_reviewed.json` (Hugging Face
`JierunChen/Ref-L4`; the card: "For each instance in the 'annotation' field … we denote
erroneous entries with ["caption_quality"]=0"). The files follow MDETR's fine-tuning format
(ashkamath/mdetr `scripts/fine-tuning/refexp_coco_format.py`): one `images` entry per
expression, with `caption` (the sentence), `file_name` and `original_id` (the COCO image
id), and one `annotations` entry per expression, with `image_id` (that entry's id), `bbox`
(xywh), `original_id` (the COCO annotation id) and Ref-L4's `caption_quality`.

The review carries no sentence id, so each refer sentence is matched to its review entry by
(COCO image id, sentence text, COCO annotation id); where an entry has no `original_id`,
its box must equal the refer annotation's box instead. Sentences that repeat in one image
for one object take the entries in file order. The cleaned split keeps the refer samples
(sample_id = sent_id, masks included) whose entry has a `caption_quality` other than 0. A
refer sentence without an entry, and an entry that matches no sentence, are not guessed
at: they are dropped and counted in the split's notes.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from padt_eval.core.derived_cache import Built
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.jsonl import iter_lines, parse_line
from padt_eval.core.types import Sample, Task
from padt_eval.data.jsonl_split import JsonlSplitReader, cached_jsonl
from padt_eval.data.refer import ReferReader
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "refcoco-reviewed-v1"
LAYOUT = "refer+reviewed"
ERRONEOUS = 0  # the card's caption_quality of an erroneous expression
_COCO_FILE = re.compile(r"(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)
_BOX_TOL = 1e-3


class ReviewEntry:
    __slots__ = ("ann_id", "bbox", "quality", "position")

    def __init__(self, ann_id: Any, bbox: list[float] | None, quality: float, position: int) -> None:
        self.ann_id, self.bbox, self.quality, self.position = ann_id, bbox, quality, position


def _image_id(img: dict, where: str) -> Any:
    if img.get("original_id") is not None:
        return img["original_id"]
    m = _COCO_FILE.search(str(img.get("file_name", "")))
    if m is None:
        raise DataError(f"{where}: no 'original_id' and no COCO file name to read the image id from")
    return int(m.group(1))


def load_review(path: Path) -> tuple[dict[tuple[Any, str], list[ReviewEntry]], int]:
    """(image id, sentence) -> its review entries in file order, and the number of entries."""
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise DataError(f"reviewed annotations: file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(doc.get("annotations"), list):
        raise DataError(f"{path}: expected an object with 'images' and 'annotations' lists (MDETR's format)")
    images = {}
    for i, img in enumerate(doc["images"]):
        if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("caption"), str):
            raise DataError(f"{path}: images[{i}] needs an 'id' and a 'caption'")
        images[img["id"]] = img
    entries: dict[tuple[Any, str], list[ReviewEntry]] = defaultdict(list)
    for i, ann in enumerate(doc["annotations"]):
        where = f"{path}: annotations[{i}]"
        if not isinstance(ann, dict):
            raise DataError(f"{where}: expected an object")
        quality = ann.get("caption_quality")
        if isinstance(quality, bool) or not isinstance(quality, (int, float)):
            raise DataError(f"{where}: 'caption_quality' must be a number (0 marks an erroneous expression), got {quality!r}")
        img = images.get(ann.get("image_id"))
        if img is None:
            raise DataError(f"{where}: image_id {ann.get('image_id')!r} is not among the file's images")
        bbox = ann.get("bbox")
        box = [float(v) for v in bbox] if isinstance(bbox, list) and len(bbox) == 4 else None
        if ann.get("original_id") is None and box is None:
            raise DataError(f"{where}: needs 'original_id' (the COCO annotation id) or a 'bbox' to be matched by")
        key = (_image_id(img, f"{path}: images entry {img['id']!r}"), img["caption"])
        entries[key].append(ReviewEntry(ann.get("original_id"), box, quality, i))
    return entries, len(doc["annotations"])


def _matches(entry: ReviewEntry, ann_id: Any, bbox_xyxy: list[float]) -> bool:
    if entry.ann_id is not None:
        return entry.ann_id == ann_id
    x, y, w, h = entry.bbox  # type: ignore[misc]
    return all(abs(a - b) <= _BOX_TOL for a, b in zip((x, y, x + w, y + h), bbox_xyxy))


def clean_lines(
    refer_lines: list[dict[str, Any]], review: dict[tuple[Any, str], list[ReviewEntry]]
) -> tuple[list[dict], dict[str, Any]]:
    """The refer cache lines that the review keeps, and the counts of what was dropped
    (`flagged`: their sample ids; `unreviewed`: refer sentences without an entry;
    `unmatched`: entries that matched no sentence)."""
    used: set[int] = set()
    kept, flagged, unreviewed = [], [], []
    for line in refer_lines:
        meta = line["meta"]
        candidates = review.get((meta["image_id"], line["expression"]), [])
        entry = next((e for e in candidates if e.position not in used and _matches(e, meta["ann_id"], line["bbox"])), None)
        if entry is None:
            unreviewed.append(line["sample_id"])
            continue
        used.add(entry.position)
        if entry.quality == ERRONEOUS:
            flagged.append(line["sample_id"])
        else:
            kept.append({**line, "meta": {**meta, "caption_quality": entry.quality}})
    n_entries = sum(len(v) for v in review.values())
    return kept, {"flagged": flagged, "unreviewed": unreviewed, "unmatched": n_entries - len(used)}


class ReviewedReferReader(JsonlSplitReader):
    """A refer split (`split` of refs(<by>).p) filtered by Ref-L4's reviewed file for it."""

    def __init__(
        self,
        refs_path: str | Path,
        instances_path: str | Path,
        reviewed_path: str | Path,
        split: str,
        image_root: str | Path,
        task: Task,
        name: str | None = None,
    ) -> None:
        self.reviewed_path = Path(reviewed_path)
        self.base = ReferReader(refs_path, instances_path, split, image_root, task)
        if not self.reviewed_path.is_file():
            raise DataError(f"reviewed annotations: file not found: {self.reviewed_path}")
        refer_sha = (self.base.cache_record or {}).get("sha256", "")
        key = hashlib.sha256(f"{_CACHE_VERSION}|{refer_sha}|{sha256_file(self.reviewed_path)}".encode()).hexdigest()[:20]
        cached = cache_dir() / "refer_reviewed" / f"{self.base.refs_path.parent.name}_{split}_{key}.jsonl"

        def build() -> Built:
            review, _ = load_review(self.reviewed_path)
            lines = [parse_line(raw, self.base.path, i) for i, _, raw in iter_lines(self.base.path)]
            kept, dropped = clean_lines(lines, review)
            out = io.StringIO()
            for line in kept:
                out.write(json.dumps(line) + "\n")
            counts = {k: v if isinstance(v, int) else len(v) for k, v in dropped.items()}
            return Built(out.getvalue().encode("utf-8"), len(kept), counts)

        source, derived = cached_jsonl(cached, _CACHE_VERSION, build)
        dropped = derived.record.get("extra", {})
        notes = [f"Ref-L4 review ({self.reviewed_path.name}): {dropped.get('flagged', 0)} expression(s) marked erroneous dropped"]
        if dropped.get("unreviewed"):
            notes.append(f"{dropped['unreviewed']} refer expression(s) have no review entry: dropped, not guessed")
        if dropped.get("unmatched"):
            notes.append(f"{dropped['unmatched']} review entr(ies) match no refer expression of the split")
        info = SplitInfo(
            name=name or f"{self.base.refs_path.parent.name}_{split}_cleaned",
            layout=LAYOUT,
            files=[*self.base.info.files, str(self.reviewed_path)],
            image_root=str(image_root),
            task=task,
            notes=notes,
            instances_file=self.base.info.instances_file,
        )
        super().__init__(source, info)

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        return self.base.line_to_sample(obj, line_index, where)
