"""The standard `refer` layout: `refs(unc).p` / `refs(umd).p` plus `instances.json`.

This is what refcoco.zip, refcoco+.zip and refcocog.zip unpack to. One sample per
sentence; sample_id = the sentence's `sent_id`, as a string. The expression is the
sentence's `sent` (the refer API's lower-cased, tokenised form; `raw` is kept in meta).
The box is the annotation's `bbox` (COCO xywh → xyxy) and the mask its `segmentation`
rasterised to RLE at the image size from `instances.json`.

The pickle and the annotation JSON can only be read whole, so the first read of a split
converts it once into a normalised JSONL cache (keyed by the sha256 of both files,
verified against its own record on every read: `core/derived_cache.py`), and every read
streams from that cache. The refs pickle is loaded with a restricted
unpickler (`safe_pickle`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import is_finite_box, xywh_to_xyxy
from padt_eval.core.derived_cache import Built
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.images import ImageRoot
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.data.jsonl_split import JsonlSplitReader, cached_jsonl, written_lines
from padt_eval.data.safe_pickle import load_restricted
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "refer-v1"


def _field(d: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """`d[key]` when `d` is a dict holding a `kind` there; else a DataError naming where and what."""
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected an object, got {type(d).__name__}")
    if key not in d:
        raise DataError(f"{where}: no '{key}' field")
    v = d[key]
    if not isinstance(v, kind) or isinstance(v, bool):
        names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{where}: '{key}' must be {names}, got {type(v).__name__} {v!r:.60}")
    return v


def _load_instances(instances_path: Path) -> tuple[dict, dict]:
    """(image id → image, annotation id → annotation) of a COCO instances file."""
    try:
        with open(instances_path, "rb") as f:
            instances = json.load(f)
    except FileNotFoundError:
        raise DataError(f"instances file not found: {instances_path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{instances_path}: malformed JSON ({exc})") from None
    where = str(instances_path)
    images_list = _field(instances, "images", where, list)
    anns_list = _field(instances, "annotations", where, list)
    images = {_field(img, "id", f"{where}: images[{i}]", (int, str)): img for i, img in enumerate(images_list)}
    anns = {_field(ann, "id", f"{where}: annotations[{i}]", (int, str)): ann for i, ann in enumerate(anns_list)}
    return images, anns


def build_refer_cache(refs_path: Path, instances_path: Path, split: str, out: TextIO) -> int:
    """Write one split of a refer dataset as normalised JSONL to `out`; return the sample count.

    Every field a sample needs is checked here, so a refs pickle or instances file of
    the wrong shape is reported by file, ref or annotation, and field."""
    refs = load_restricted(refs_path)
    if not isinstance(refs, list):
        raise DataError(f"{refs_path}: expected a list of refs, got {type(refs).__name__}")
    images, anns = _load_instances(instances_path)

    n = 0
    for ref_pos, ref in enumerate(refs):
        where = f"{refs_path} (ref #{ref_pos})"
        if not isinstance(ref, dict):
            raise DataError(f"{where}: expected a dict, got {type(ref).__name__}")
        if ref.get("split") != split:
            continue
        image_id = _field(ref, "image_id", where, (int, str))
        ann_id = _field(ref, "ann_id", where, (int, str))
        if image_id not in images:
            raise DataError(f"{where}: image_id {image_id!r} is not in {instances_path}")
        if ann_id not in anns:
            raise DataError(f"{where}: ann_id {ann_id!r} is not in {instances_path}")
        img, ann = images[image_id], anns[ann_id]
        img_where = f"{instances_path}: image {image_id!r} (used by {where})"
        ann_where = f"{instances_path}: annotation {ann_id!r} (used by {where})"
        height = _field(img, "height", img_where, int)
        width = _field(img, "width", img_where, int)
        file_name = _field(img, "file_name", img_where, str)
        if height <= 0 or width <= 0:
            raise DataError(f"{img_where}: size {width}x{height} is empty")
        segmentation = _field(ann, "segmentation", ann_where, (list, dict))
        try:
            mask = rlemod.from_segmentation(segmentation, height, width)
        except (ValueError, TypeError, KeyError) as exc:
            raise DataError(f"{ann_where}: 'segmentation' is not a polygon list or a COCO RLE ({exc})") from None
        raw_box = _field(ann, "bbox", ann_where, list)
        if not is_finite_box(raw_box):
            raise DataError(f"{ann_where}: 'bbox' must be four finite numbers, got {raw_box!r:.80}")
        bbox = xywh_to_xyxy(raw_box)
        sentences = _field(ref, "sentences", where, list)
        for k, sent in enumerate(sentences):
            sent_where = f"{where} sentences[{k}]"
            sent_id = _field(sent, "sent_id", sent_where, (int, str))
            line = {
                "sample_id": str(sent_id),
                "image_file": file_name,
                "width": width,
                "height": height,
                "expression": _field(sent, "sent", sent_where, str),
                "bbox": bbox,
                "mask": mask,
                "meta": {
                    "image_id": image_id,
                    "ann_id": ann_id,
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

        def build() -> Built:
            built = written_lines(lambda out: build_refer_cache(self.refs_path, self.instances_path, split, out))
            if built.n_items == 0:
                raise DataError(f"{self.refs_path}: no refs with split {split!r}")
            return built

        source, derived = cached_jsonl(cached, _CACHE_VERSION, build)
        info = SplitInfo(
            name=name or f"{self.refs_path.parent.name}_{split}",
            layout="refer",
            files=[str(self.refs_path), str(self.instances_path)],
            image_root=str(image_root),
            task=task,
            instances_file=str(self.instances_path),
        )
        super().__init__(source, info)
        self.cache_record = derived.record

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        context = f"{self.instances_path} image {obj['image_file']!r}"
        return referring_sample(obj, self.task, self._images, context, f"{self.refs_path.name} sent_id {obj['sample_id']}")


def referring_sample(obj: dict[str, Any], task: Task, images: ImageRoot, context: str, source: str) -> Sample:
    """A referring sample (one object: box, mask, the expression as its label) from a cache line
    with `sample_id`, `image_file`, `width`, `height`, `expression`, `bbox`, `mask` and `meta`;
    the RefCOCO-M and ReasonSeg readers write their caches in this form too."""
    path = images.join(obj["image_file"], context=context)
    return Sample(
        sample_id=obj["sample_id"],
        task=task,
        image=ImageRef(path=path, width=obj["width"], height=obj["height"], root=images.root),
        expression=obj["expression"],
        objects=[GroundTruthObject(bbox=obj["bbox"], mask=obj["mask"], label=obj["expression"])],
        meta={**obj["meta"], "image_file": obj["image_file"], "source": source},
    )
