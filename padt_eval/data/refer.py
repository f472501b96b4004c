"""The standard `refer` layout: `refs(unc).p` / `refs(umd).p` plus `instances.json`.

This is what refcoco.zip, refcoco+.zip and refcocog.zip unpack to. One sample per
sentence; sample_id = the sentence's `sent_id`, as a string. The expression is the
sentence's `sent` (the refer API's lower-cased, tokenised form; `raw` is kept in meta).
The box is the annotation's `bbox` (COCO xywh → xyxy) and the mask its `segmentation`
rasterised to RLE at the image size from `instances.json`.

The pickle and the annotation JSON can only be read whole, so the first read of a split
converts it once into a normalised JSONL cache (keyed by the sha256 of both files), and
every read streams from that cache. The refs pickle is loaded with a restricted
unpickler (`safe_pickle`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import xywh_to_xyxy
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import atomic_write, cache_dir, sha256_file
from padt_eval.core.images import ImageRoot
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.data.jsonl_split import JsonlSplitReader
from padt_eval.data.safe_pickle import load_restricted
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "refer-v1"


def build_refer_cache(refs_path: Path, instances_path: Path, split: str, out_path: Path) -> int:
    """Convert one split of a refer dataset into normalised JSONL; return the sample count."""
    refs = load_restricted(refs_path)
    if not isinstance(refs, list):
        raise DataError(f"{refs_path}: expected a list of refs, got {type(refs).__name__}")
    try:
        with open(instances_path, "rb") as f:
            instances = json.load(f)
    except FileNotFoundError:
        raise DataError(f"instances file not found: {instances_path}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{instances_path}: malformed JSON ({exc})") from None
    try:
        images = {img["id"]: img for img in instances["images"]}
        anns = {ann["id"]: ann for ann in instances["annotations"]}
    except (KeyError, TypeError) as exc:
        raise DataError(f"{instances_path}: not a COCO instances file (missing {exc})") from None

    n = 0
    with atomic_write(out_path) as out:
        for ref_pos, ref in enumerate(refs):
            where = f"{refs_path} (ref #{ref_pos})"
            if not isinstance(ref, dict):
                raise DataError(f"{where}: expected a dict, got {type(ref).__name__}")
            if ref.get("split") != split:
                continue
            try:
                img = images[ref["image_id"]]
                ann = anns[ref["ann_id"]]
            except KeyError as exc:
                raise DataError(f"{where}: id {exc} is not in {instances_path}") from None
            height, width = int(img["height"]), int(img["width"])
            try:
                mask = rlemod.from_segmentation(ann["segmentation"], height, width)
            except ValueError as exc:
                raise DataError(f"{instances_path}: annotation {ref['ann_id']} (used by {where}): {exc}") from None
            bbox = xywh_to_xyxy(ann["bbox"])
            for sent in ref.get("sentences", []):
                line = {
                    "sample_id": str(sent["sent_id"]),
                    "image_file": img["file_name"],
                    "width": width,
                    "height": height,
                    "expression": sent["sent"],
                    "bbox": bbox,
                    "mask": mask,
                    "meta": {
                        "image_id": ref["image_id"],
                        "ann_id": ref["ann_id"],
                        "ref_id": ref.get("ref_id"),
                        "category_id": ref.get("category_id"),
                        "raw": sent.get("raw"),
                    },
                }
                out.write(json.dumps(line) + "\n")
                n += 1
    return n


class ReferReader(JsonlSplitReader):
    def __init__(
        self,
        refs_path: str | Path,
        instances_path: str | Path,
        split: str,
        image_root: str | Path,
        task: Task,
        name: str | None = None,
    ) -> None:
        self.refs_path = Path(refs_path)
        self.instances_path = Path(instances_path)
        self.image_root = Path(image_root)
        self._images = ImageRoot(image_root)
        self.task = task
        for p in (self.refs_path, self.instances_path):
            if not p.is_file():
                raise DataError(f"refer layout: file not found: {p}")
        key = hashlib.sha256(
            "|".join([_CACHE_VERSION, sha256_file(self.refs_path), sha256_file(self.instances_path), split]).encode()
        ).hexdigest()[:20]
        cached = cache_dir() / "refer" / f"{self.refs_path.parent.name}_{split}_{key}.jsonl"
        if not cached.is_file():
            n = build_refer_cache(self.refs_path, self.instances_path, split, cached)
            if n == 0:
                cached.unlink()
                raise DataError(f"{self.refs_path}: no refs with split {split!r}")
        info = SplitInfo(
            name=name or f"{self.refs_path.parent.name}_{split}",
            layout="refer",
            files=[str(self.refs_path), str(self.instances_path)],
            image_root=str(image_root),
            task=task,
            instances_file=str(self.instances_path),
        )
        super().__init__(cached, info)

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        path = self._images.join(obj["image_file"], context=f"{self.instances_path} image {obj['image_file']!r}")
        return Sample(
            sample_id=obj["sample_id"],
            task=self.task,
            image=ImageRef(path=path, width=obj["width"], height=obj["height"], root=self._images.root),
            expression=obj["expression"],
            objects=[GroundTruthObject(bbox=obj["bbox"], mask=obj["mask"], label=obj["expression"])],
            meta={**obj["meta"], "image_file": obj["image_file"], "source": f"{self.refs_path.name} sent_id {obj['sample_id']}"},
        )
