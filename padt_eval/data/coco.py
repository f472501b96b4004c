"""COCO detection splits for OVD: the official annotations, or PaDT's filtered version.

Two sources, one sample per image, sample_id = the COCO image id as a string:

* `CocoReader`: an official COCO instances file (`annotations/instances_val2017.json`)
  plus its image folder. Ground truth is every annotation of the image (crowd regions
  included, as COCOeval expects): box (xywh → xyxy), category id, `iscrowd`, `area`, and
  the mask (polygons or RLE → RLE with str counts). The prompt lists every category of
  the file in id order (for COCO: the 80 names PaDT's prompt lists).

  With `gt="padt-filtered"` the same file is turned into the ground truth PaDT's release
  scores against (`process_coco.py` + `eval_coco.py`), so its published AP can be
  reproduced and the gap to the official number seen:
    1. an image whose longer side exceeds 1288 px is left out (none in COCO val2017);
    2. a category with more than 50 annotations in an image is removed from that image's
       prompt and ground truth;
    3. an object whose mask (the rounded box when it has no segmentation) covers no
       28-px patch by PaDT's rule (`padt_patches.py`) is removed;
    4. the kept boxes are normalised as PaDT stores them and rounded back to integer
       pixels as its eval script does: `[round(x1n*W), round(y1n*H), round((x2n-x1n)*W),
       round((y2n-y1n)*H)]` (xywh, Python's half-to-even rounding); `area` and `iscrowd`
       stay the annotation's.
  Masks of kept objects are kept too (PaDT's GT has none), so segm AP stays possible.

* `PadtCocoJsonlReader`: the PaDT-MLLM/COCO JSONL (`instances_val2017.json`, one image a
  line, as `process_coco.py` writes it): `id`, `image`, the prompt with the category list
  in `conversations[0].value`, and `objects` with normalised xyxy `bbox`, `iscrowd`,
  `area`, `label` and (when the annotation had a segmentation) `rle`. It already holds
  the filtered ground truth; boxes are rounded exactly as in (4). The image size comes
  from an object's RLE, else from the image file's header.

The official file can only be parsed whole, so its first read converts it once into a
normalised JSONL cache (keyed by the file's sha256 and the GT mode) whose check record
(`core/derived_cache.py`) also keeps the category table and filter statistics; every
read verifies the cache against that record, then streams it through an id index.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, TextIO

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import is_finite_box, release_gt_xywh
from padt_eval.core.derived_cache import Built
from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.images import ImageRoot, check_image_file
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.data.jsonl_split import JsonlSplitReader, cached_jsonl, written_lines
from padt_eval.data.padt_patches import box_mask, covers_a_patch
from padt_eval.data.split import SplitInfo

GT_MODES = ("official", "padt-filtered")
_CACHE_VERSION = "coco-v3"  # v2: meta lists the images the filter leaves out; v3: meta in the check record
PADT_MAX_SIDE = 1288  # PaDT skips images with a longer side (round(640 * 2 / 28) * 28)
PADT_MAX_PER_CLASS = 50  # a class with more instances in an image leaves prompt and GT


def padt_eval_box(norm_xyxy: list[float], width: int, height: int) -> list[float]:
    """PaDT's eval GT box from a normalised xyxy box: integer xywh, returned as xyxy."""
    x, y, w, h = release_gt_xywh(norm_xyxy, width, height)
    return [float(x), float(y), float(x + w), float(y + h)]


def padt_normalised_box(bbox_xywh: list[float], width: int, height: int) -> list[float]:
    """The normalised xyxy box PaDT's preprocessing stores (same float operations)."""
    rh, rw = int(round(height / 28) * 28), int(round(width / 28) * 28)
    x, y, w, h = bbox_xywh
    return [x * (rw / width) / rw, y * (rh / height) / rh, (x + w) * (rw / width) / rw, (y + h) * (rh / height) / rh]


def _load_instances(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DataError(f"COCO annotations not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise DataError(f"{path}: not a COCO instances file (no '{key}' list)")
    return data


def _check_ann(ann: Any, path: Path, images: dict) -> None:
    where = f"{path}: annotation {ann.get('id') if isinstance(ann, dict) else ann!r}"
    if not isinstance(ann, dict):
        raise DataError(f"{where}: expected an object")
    for key in ("image_id", "category_id", "bbox"):
        if key not in ann:
            raise DataError(f"{where}: no '{key}'")
    if ann["image_id"] not in images:
        raise DataError(f"{where}: image_id {ann['image_id']} is not in 'images'")
    b = ann["bbox"]
    if not is_finite_box(b) or b[2] < 0 or b[3] < 0:
        raise DataError(f"{where}: bbox must be [x, y, w, h] with w, h >= 0, got {b!r}")


def build_coco_cache(instances_path: Path, out: TextIO, gt: str) -> tuple[int, dict]:
    """Convert an instances file into normalised JSONL (one image a line) written to `out`;
    return the line count and the meta (categories, filter statistics, images left out)."""
    data = _load_instances(instances_path)
    try:
        categories = sorted((int(c["id"]), str(c["name"])) for c in data["categories"])
        images = {img["id"]: img for img in data["images"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{instances_path}: malformed 'categories' or 'images' entry ({exc})") from None
    if not data["images"]:
        raise DataError(f"{instances_path}: the instances file lists no images")
    if len(images) != len(data["images"]):
        seen: set = set()
        dup = next(img["id"] for img in data["images"] if img["id"] in seen or seen.add(img["id"]))
        raise DataError(f"{instances_path}: image id {dup!r} appears more than once in 'images'; each image must be listed once")
    names = dict(categories)
    by_image: dict[Any, list[dict]] = defaultdict(list)
    for ann in data["annotations"]:
        _check_ann(ann, instances_path, images)
        if ann["category_id"] not in names:
            raise DataError(
                f"{instances_path}: annotation {ann.get('id')}: category_id {ann['category_id']} is not in 'categories'"
            )
        by_image[ann["image_id"]].append(ann)
    stats: Counter[str] = Counter()
    left_out: list[list] = []  # images of the file the filter drops: [id, width, height]
    for img in data["images"]:
        try:
            image_id, width, height, file_name = img["id"], int(img["width"]), int(img["height"]), img["file_name"]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{instances_path}: image entry {img!r:.80}: missing or bad {exc}") from None
        anns = by_image.get(image_id, [])
        try:
            line = _image_line(image_id, file_name, width, height, anns, names, gt, stats)
        except ValueError as exc:  # a segmentation that is not a polygon list or a valid RLE
            raise DataError(f"{instances_path}: image {image_id!r}: {exc}") from None
        if line is not None:
            out.write(json.dumps(line) + "\n")
            stats["images"] += 1
        else:
            left_out.append([image_id, width, height])
    return stats["images"], {"categories": categories, "gt": gt, "stats": dict(stats), "images_left_out": left_out}


def _image_line(image_id, file_name, width, height, anns, names, gt, stats) -> dict | None:
    dropped_classes: list[int] = []
    if gt == "padt-filtered":
        if max(width, height) > PADT_MAX_SIDE:
            stats["padt_skipped_large_images"] += 1
            return None
        per_class = Counter(a["category_id"] for a in anns)
        dropped_classes = sorted(c for c, n in per_class.items() if n > PADT_MAX_PER_CLASS)
        stats["padt_dropped_crowded_class_objects"] += sum(per_class[c] for c in dropped_classes)
        # PaDT walks classes in id order and each class's annotations in file order.
        anns = sorted((a for a in anns if a["category_id"] not in dropped_classes), key=lambda a: a["category_id"])
    objects = []
    for ann in anns:
        seg = ann.get("segmentation")
        try:
            mask = rlemod.from_segmentation(seg, height, width) if seg else None
        except ValueError as exc:
            raise ValueError(f"annotation {ann.get('id')!r}: {exc}") from None
        bbox = [
            float(ann["bbox"][0]),
            float(ann["bbox"][1]),
            float(ann["bbox"][0] + ann["bbox"][2]),
            float(ann["bbox"][1] + ann["bbox"][3]),
        ]
        if gt == "padt-filtered":
            pixels = rlemod.decode(mask) if seg else box_mask(ann["bbox"], height, width)
            if not covers_a_patch(pixels):
                stats["padt_dropped_small_objects"] += 1
                continue
            bbox = padt_eval_box(padt_normalised_box(ann["bbox"], width, height), width, height)
        area = ann.get("area")
        objects.append(
            {
                "bbox": bbox,
                "category_id": int(ann["category_id"]),
                "iscrowd": bool(ann.get("iscrowd", 0)),
                "area": float(area) if isinstance(area, (int, float)) else None,
                "mask": mask,
                "ann_id": ann.get("id"),
            }
        )
    stats["objects"] += len(objects)
    return {
        "sample_id": str(image_id),
        "image_file": file_name,
        "width": width,
        "height": height,
        "dropped_categories": dropped_classes,
        "objects": objects,
    }


class CocoReader(JsonlSplitReader):
    def __init__(self, instances_path: str | Path, image_root: str | Path, gt: str = "official", name: str | None = None) -> None:
        if gt not in GT_MODES:
            raise UsageError(f"unknown ground truth {gt!r}; choose one of {', '.join(GT_MODES)}")
        self.instances_path = Path(instances_path)
        self.image_root = Path(image_root)
        self._images = ImageRoot(image_root)  # resolved once, not per sample
        self.gt = gt
        if not self.instances_path.is_file():
            raise DataError(f"COCO annotations not found: {self.instances_path}")
        key = hashlib.sha256("|".join([_CACHE_VERSION, sha256_file(self.instances_path), gt]).encode()).hexdigest()[:20]
        cached = cache_dir() / "coco" / f"{self.instances_path.stem}_{gt}_{key}.jsonl"

        def build() -> Built:
            meta: dict = {}

            def write(out: TextIO) -> int:
                n, found = build_coco_cache(self.instances_path, out, gt)
                meta.update(found)
                return n

            built = written_lines(write)
            built.extra = meta
            return built

        source, derived = cached_jsonl(cached, _CACHE_VERSION, build)
        meta = derived.extra
        self.categories = [(int(c), str(n)) for c, n in meta["categories"]]
        self._names = dict(self.categories)
        self.stats = meta["stats"]
        #: sample id -> (width, height) of the file's images this split leaves out (PaDT's
        #: filter): the release protocol scores detections there as false positives.
        self.images_left_out = {str(i): (int(w), int(h)) for i, w, h in meta.get("images_left_out", [])}
        notes = []
        if gt == "padt-filtered":
            notes.append(
                "PaDT-filtered GT: classes with >50 instances in an image dropped from prompt and GT "
                f"({self.stats.get('padt_dropped_crowded_class_objects', 0)} objects), objects covering no 28-px patch dropped "
                f"({self.stats.get('padt_dropped_small_objects', 0)}), boxes rounded to integer pixels; not the official benchmark"
            )
        info = SplitInfo(
            name=name or f"{self.instances_path.stem}{'' if gt == 'official' else '_padt_filtered'}",
            layout="coco",
            files=[str(self.instances_path)],
            image_root=str(image_root),
            task=Task.OVD,
            notes=notes,
            categories=self.categories,
        )
        super().__init__(source, info)
        self.cache_record = derived.record

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: str) -> Sample:
        path = self._images.join(obj["image_file"], context=f"{self.instances_path} image {obj['image_file']!r}")
        dropped = set(obj["dropped_categories"])
        return Sample(
            sample_id=obj["sample_id"],
            task=Task.OVD,
            image=ImageRef(path=path, width=obj["width"], height=obj["height"], root=self._images.root),
            categories=[n for c, n in self.categories if c not in dropped],
            objects=[
                GroundTruthObject(
                    bbox=o["bbox"],
                    mask=o["mask"],
                    label=self._names[o["category_id"]],
                    category_id=o["category_id"],
                    iscrowd=o["iscrowd"],
                    area=o["area"],
                )
                for o in obj["objects"]
            ],
            meta={
                "image_id": int(obj["sample_id"]) if obj["sample_id"].isdigit() else obj["sample_id"],
                "image_file": obj["image_file"],
                "source": f"{self.instances_path.name} image {obj['sample_id']}",
                "gt": self.gt,
            },
        )


_CATEGORY_LIST = re.compile(r"(\[.*\])")


class PadtCocoJsonlReader(JsonlSplitReader):
    """PaDT-MLLM/COCO JSONL: PaDT's filtered GT, read line by line (see module docstring)."""

    def __init__(
        self, path: str | Path, image_root: str | Path, name: str | None = None, categories: list[tuple[int, str]] | None = None
    ) -> None:
        from padt_eval.core.coco_categories import COCO_CATEGORIES

        self.image_root = Path(image_root)
        self._images = ImageRoot(image_root)  # resolved once, not per sample
        self.categories = list(categories or COCO_CATEGORIES)
        self._ids = {n: c for c, n in self.categories}
        info = SplitInfo(
            name=name or Path(path).stem,
            layout="padt-jsonl",
            files=[str(path)],
            image_root=str(image_root),
            task=Task.OVD,
            notes=[
                "PaDT-MLLM/COCO JSONL: PaDT's filtered GT (crowded classes and objects under one 28-px patch dropped, boxes rounded); not the official benchmark"
            ],
            categories=self.categories,
        )
        super().__init__(path, info)

    def _size(self, obj: dict, path: str, where: str) -> tuple[int, int]:
        for o in obj.get("objects") or []:
            if isinstance(o, dict) and rlemod.is_valid(o.get("rle")):
                h, w = o["rle"]["size"]
                return int(w), int(h)
        from PIL import Image

        try:
            check_image_file(path)  # a FIFO would block the split read forever
            with Image.open(path) as im:
                return im.size
        except (OSError, ValueError, DataError) as exc:
            raise DataError(
                f"{where}: no object carries an RLE to take the image size from, and the image cannot be read ({exc})"
            ) from None

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: str) -> Sample:
        if "id" not in obj:
            raise DataError(f"{where}: no 'id' (the COCO image id)")
        path = self._images.join(obj.get("image"), context=where)
        width, height = self._size(obj, path, where)
        try:
            prompt = obj["conversations"][0]["value"]
            m = _CATEGORY_LIST.search(prompt)
            categories = json.loads(m.group(1)) if m else None
        except (KeyError, IndexError, TypeError, json.JSONDecodeError):
            categories = None
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise DataError(f"{where}: conversations[0].value holds no JSON list of category names")
        objects = []
        for i, o in enumerate(obj.get("objects") or []):
            if not isinstance(o, dict) or not is_finite_box(o.get("bbox")):
                raise DataError(f"{where}: objects[{i}].bbox must be four finite numbers")
            label = o.get("label")
            if label not in self._ids:
                raise DataError(f"{where}: objects[{i}].label {label!r} is not a category name")
            mask = o.get("rle")
            why = rlemod.problem(mask) if mask is not None else None
            if why is not None:
                raise DataError(f"{where}: objects[{i}].rle is not a valid COCO RLE: {why}")
            objects.append(
                GroundTruthObject(
                    bbox=padt_eval_box(o["bbox"], width, height),
                    mask=rlemod.from_cocotools(rlemod.to_cocotools(mask)) if mask is not None else None,
                    label=label,
                    category_id=self._ids[label],
                    iscrowd=bool(o.get("iscrowd", 0)),
                    area=float(o["area"]) if isinstance(o.get("area"), (int, float)) else None,
                )
            )
        return Sample(
            sample_id=str(obj["id"]),
            task=Task.OVD,
            image=ImageRef(path=path, width=width, height=height, root=self._images.root),
            categories=categories,
            objects=objects,
            meta={"image_id": obj["id"], "image_file": obj.get("image"), "source": f"{Path(self.path).name}:{line_index + 1}"},
        )


def is_official_instances(path: Path) -> bool:
    """An official instances file is one JSON object with 'images'; a PaDT JSONL's first
    line is one sample with 'objects'. Anything else is refused here, naming the file."""
    with open(path, "rb") as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{path}: the file is empty (expected a COCO instances file or a PaDT COCO JSONL)")
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        try:
            with open(path, "rb") as f:
                obj = json.load(f)  # pretty-printed instances file
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: neither a COCO instances file nor a PaDT JSONL ({exc})") from None
    if not isinstance(obj, dict):
        raise DataError(
            f"{path}: neither a COCO instances file nor a PaDT JSONL (its first JSON value is a {type(obj).__name__})"
        )
    if "objects" in obj or "conversations" in obj:
        return False  # a PaDT JSONL sample
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(obj.get(k), list)]
    if missing:
        raise DataError(
            f"{path}: not a COCO instances file (no {', '.join(repr(k) for k in missing)} list) and not a PaDT COCO JSONL (no 'objects')"
        )
    return True
