"""gRefCOCO's official layout: `grefcoco/grefs(unc).json` plus `grefcoco/instances.json`.

This is what the gRefCOCO release unpacks to (henghuiding/ReLA `datasets/DATASET.md`). A
ref is a dict with `ref_id`, `image_id`, `split`, `sentences` and `ann_id`: a list of
annotation ids (a bare int in older files), `[-1]` for an expression that names nothing
(a "no-target" ref; some releases also set `no_target: true`, which must then agree).

One sample per sentence; sample_id = the sentence's `sent_id` as a string (ids must be
unique within the split). The expression is `sent` (as the official GREC conversion,
`mdetr/scripts/fine-tuning/grefexp_coco_format.py`, reads it; `raw` is kept in meta).
The sample's objects are every target annotation (box xywh -> xyxy, mask rasterised at the
image size, `iscrowd` kept): none for a no-target sample, so `len(sample.objects)` is the
target count. Which targets a metric uses is the metric's business (GRES drops crowd
masks as ReLA does; GREC keeps every box, as the MDETR conversion does).

Like the refer reader, the first read converts the split once into a normalised JSONL
cache keyed by the sha256 of both files, and later reads stream from it.
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
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "grefcoco-v1"
LAYOUT = "grefcoco"
NO_TARGET_ANN = -1


def _load_json(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(f"gRefCOCO layout: file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from None


def target_ann_ids(ref: dict, where: str) -> list[int]:
    """The ref's target annotation ids; [] for a no-target ref. Raises DataError on an
    `ann_id` that is neither an id nor a list of ids, or on a `no_target` flag that
    contradicts it."""
    ann = ref.get("ann_id")
    ids = ann if isinstance(ann, list) else [ann]
    if not ids or not all(isinstance(a, int) and not isinstance(a, bool) for a in ids):
        raise DataError(f"{where}: ann_id must be an annotation id or a list of them, got {ann!r}")
    empty = NO_TARGET_ANN in ids
    if empty and ids != [NO_TARGET_ANN]:
        raise DataError(f"{where}: ann_id {ann!r} mixes the no-target id -1 with targets")
    flag = ref.get("no_target")
    if flag is not None and bool(flag) != empty:
        raise DataError(f"{where}: no_target is {flag!r} but ann_id is {ann!r}")
    return [] if empty else list(ids)


def build_grefcoco_cache(refs_path: Path, instances_path: Path, split: str | None, out_path: Path) -> int:
    """Convert one split (every split when `split` is None) into normalised JSONL; return the sample count."""
    refs = _load_json(refs_path)
    if not isinstance(refs, list):
        raise DataError(f"{refs_path}: expected a JSON list of refs, got {type(refs).__name__}")
    instances = _load_json(instances_path)
    try:
        images = {img["id"]: img for img in instances["images"]}
        anns = {ann["id"]: ann for ann in instances["annotations"]}
    except (KeyError, TypeError) as exc:
        raise DataError(f"{instances_path}: not a COCO instances file (missing {exc})") from None
    n = 0
    seen: set[str] = set()
    with atomic_write(out_path) as out:
        for pos, ref in enumerate(refs):
            where = f"{refs_path} (ref #{pos})"
            if not isinstance(ref, dict):
                raise DataError(f"{where}: expected an object, got {type(ref).__name__}")
            if split is not None and ref.get("split") != split:
                continue
            ids = target_ann_ids(ref, where)
            try:
                img = images[ref["image_id"]]
                targets = [anns[a] for a in ids]
            except KeyError as exc:
                raise DataError(f"{where}: id {exc} is not in {instances_path}") from None
            height, width = int(img["height"]), int(img["width"])
            objects = []
            for ann in targets:
                if ann.get("image_id") != ref["image_id"]:
                    raise DataError(
                        f"{where}: annotation {ann['id']} belongs to image {ann.get('image_id')}, not {ref['image_id']}"
                    )
                try:
                    mask = rlemod.from_segmentation(ann["segmentation"], height, width)
                except (ValueError, KeyError) as exc:
                    raise DataError(f"{instances_path}: annotation {ann['id']} (used by {where}): {exc}") from None
                objects.append(
                    {
                        "bbox": xywh_to_xyxy(ann["bbox"]),
                        "mask": mask,
                        "iscrowd": bool(ann.get("iscrowd", 0)),
                        "category_id": ann.get("category_id"),
                        "area": ann.get("area"),
                    }
                )
            for sent in ref.get("sentences", []):
                sid = str(sent["sent_id"])
                if sid in seen:
                    raise DataError(f"{where}: sent_id {sid} appears twice in split {split!r}")
                seen.add(sid)
                line = {
                    "sample_id": sid,
                    "image_file": img["file_name"],
                    "width": width,
                    "height": height,
                    "expression": sent["sent"],
                    "objects": objects,
                    "meta": {
                        "image_id": ref["image_id"],
                        "ref_id": ref.get("ref_id"),
                        "ann_ids": ids,
                        "no_target": not ids,
                        "split": ref.get("split"),
                        "raw": sent.get("raw"),
                    },
                }
                out.write(json.dumps(line) + "\n")
                n += 1
    return n


class GrefcocoReader(JsonlSplitReader):
    """One gRefCOCO split (`split` None: every ref of the file, for a file given by path)."""

    def __init__(
        self,
        refs_path: str | Path,
        instances_path: str | Path,
        split: str | None,
        image_root: str | Path,
        task: Task,
        name: str | None = None,
    ) -> None:
        self.refs_path = Path(refs_path)
        self.instances_path = Path(instances_path)
        self._images = ImageRoot(image_root)
        self.task = task
        for p in (self.refs_path, self.instances_path):
            if not p.is_file():
                raise DataError(f"gRefCOCO layout: file not found: {p}")
        part = split or "all"
        key = hashlib.sha256(
            "|".join([_CACHE_VERSION, sha256_file(self.refs_path), sha256_file(self.instances_path), part]).encode()
        ).hexdigest()[:20]
        cached = cache_dir() / "grefcoco" / f"{self.refs_path.parent.name}_{part}_{key}.jsonl"
        if not cached.is_file():
            n = build_grefcoco_cache(self.refs_path, self.instances_path, split, cached)
            if n == 0:
                cached.unlink()
                raise DataError(f"{self.refs_path}: no sentences in split {part!r}")
        info = SplitInfo(
            name=name or f"grefcoco_{part}",
            layout=LAYOUT,
            files=[str(self.refs_path), str(self.instances_path)],
            image_root=str(image_root),
            task=task,
            instances_file=str(self.instances_path),
        )
        super().__init__(cached, info)

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        path = self._images.join(obj["image_file"], context=f"{self.instances_path} image {obj['image_file']!r}")
        objects = [
            GroundTruthObject(
                bbox=o["bbox"],
                mask=o["mask"],
                label=obj["expression"],
                category_id=o["category_id"],
                iscrowd=o["iscrowd"],
                area=o["area"],
            )
            for o in obj["objects"]
        ]
        return Sample(
            sample_id=obj["sample_id"],
            task=self.task,
            image=ImageRef(path=path, width=obj["width"], height=obj["height"], root=self._images.root),
            expression=obj["expression"],
            objects=objects,
            meta={**obj["meta"], "image_file": obj["image_file"], "source": f"{self.refs_path.name} sent_id {obj['sample_id']}"},
        )


def count_sentences(refs_path: Path, split: str, cache: dict) -> int:
    """Sentences of `split` in a grefs file, for `splits` / `data status` (`cache`: one listing's
    parsed files, since the three splits read the same file)."""
    refs = cache.get(refs_path)
    if refs is None:
        refs = cache[refs_path] = _load_json(refs_path)
    if not isinstance(refs, list):
        raise DataError(f"{refs_path}: expected a JSON list of refs, got {type(refs).__name__}")
    return sum(len(r.get("sentences", [])) for r in refs if isinstance(r, dict) and r.get("split") == split)
