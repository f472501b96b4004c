"""Every annotated instance of an image, for the REC/RES error breakdown (`metrics/errors.py`).

A referring split names one target per expression; whether a miss landed on *another*
object of the same image needs the image's other COCO instances. The refer layout ships
them (`instances.json`); PaDT's JSONL layout does not, so its reader looks for COCO's
`instances_train2014.json` (`TRAIN2014_INSTANCES_CANDIDATES`) and the results say when
there is none.

Only the images a split uses are kept: the instances file is read once, the annotations
of those images converted to RLE at the image size, and the result cached as JSON (keyed
by the sha256 of the file and of the image-id list, verified against its own record on
every read: `core/derived_cache.py`), so later runs skip the big read.
Crowd annotations (`iscrowd` 1) are left out: a crowd region is not an object an
expression could refer to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import xywh_to_xyxy
from padt_eval.core.derived_cache import Built, derived_file
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.data.coco import _load_instances as load_coco_instances

_CACHE_VERSION = "instances-v1"

#: Where COCO train2014's instances file is looked for, relative to the data root (and to
#: the parent of the image folder, for `coco/train2014` + `coco/annotations`).
TRAIN2014_INSTANCES_CANDIDATES = (
    "coco/annotations/instances_train2014.json",
    "annotations/instances_train2014.json",
    "mscoco/annotations/instances_train2014.json",
)


@dataclass(frozen=True)
class Instance:
    ann_id: int
    bbox: list[float]  # xyxy, original-image pixels
    mask: dict  # COCO RLE at the image size
    category_id: int | None = None


class ImageInstances:
    """image id → its non-crowd instances; `source` is the file they came from."""

    def __init__(self, by_image: dict[int, list[Instance]], source: str, sha256: str) -> None:
        self.by_image = by_image
        self.source = source
        self.sha256 = sha256

    def get(self, image_id: object) -> list[Instance] | None:
        """The image's instances, or None when the file does not hold that image."""
        try:
            return self.by_image.get(int(image_id))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return None


def find_train2014_instances(data_root: Path | None, image_root: Path | None) -> Path | None:
    """COCO train2014's instances file next to the images (`<images>/../annotations/`) or
    under the data root; None when absent."""
    bases = [p for p in (image_root.parent if image_root is not None else None, data_root) if p is not None]
    for base in bases:
        for rel in TRAIN2014_INSTANCES_CANDIDATES + ("instances_train2014.json",):
            for cand in (base / rel, base / Path(rel).name):
                if cand.is_file():
                    return cand
    return None


def _convert(path: Path, wanted: set[int]) -> dict[int, list[list]]:
    doc = load_coco_instances(path)  # DataError naming the file when it is not one (no images list ...)
    sizes: dict[int, tuple[int, int]] = {}
    for pos, img in enumerate(doc["images"]):
        field = "id"
        try:
            image_id = int(img["id"])
            if image_id in wanted:
                field = "height"
                h = int(img["height"])
                field = "width"
                sizes[image_id] = (h, int(img["width"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: images[{pos}]: missing or bad '{field}' ({type(exc).__name__}: {exc})") from None
    out: dict[int, list[list]] = {i: [] for i in sizes}
    for pos, ann in enumerate(doc["annotations"]):
        field = "image_id"
        try:
            image_id = int(ann["image_id"])
            if image_id not in sizes or ann.get("iscrowd"):
                continue
            h, w = sizes[image_id]
            field = "segmentation"
            mask = rlemod.from_segmentation(ann["segmentation"], h, w)
            field = "bbox"
            box = xywh_to_xyxy(ann["bbox"])
            field = "id"
            out[image_id].append([int(ann["id"]), box, mask, ann.get("category_id")])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{path}: annotations[{pos}]: missing or bad '{field}' ({type(exc).__name__}: {exc})") from None
    return out


def load_image_instances(path: str | Path, image_ids: Iterable[object]) -> ImageInstances:
    """The instances of `image_ids` from a COCO instances file (through the cache)."""
    path = Path(path)
    wanted = sorted({int(i) for i in image_ids if isinstance(i, (int, str)) and str(i).isdigit()})
    file_sha = sha256_file(path)
    key = hashlib.sha256(f"{_CACHE_VERSION}|{file_sha}|{','.join(map(str, wanted))}".encode()).hexdigest()[:20]
    cached = cache_dir() / "instances" / f"{path.stem}_{key}.json"

    def build() -> Built:
        converted = _convert(path, set(wanted))
        return Built(json.dumps({str(k): v for k, v in converted.items()}).encode("utf-8"), len(converted))

    derived = derived_file(cached, _CACHE_VERSION, build)
    raw = {int(k): v for k, v in json.loads(derived.read_bytes()).items()}
    by_image = {k: [Instance(a, list(map(float, b)), m, c) for a, b, m, c in v] for k, v in raw.items()}
    return ImageInstances(by_image, str(path), file_sha)
