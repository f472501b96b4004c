"""PaDT's referring image captioning split (PaDT-MLLM/ReferringImageCaptioning JSONL).

`process_ric.py` writes one line per *caption*: `id` (COCO image id), `image` (file
name under val2017), `answer_template` (the caption with `<|Obj_k|>` placeholders in
parentheses after the objects it mentions, k indexing this line's `objects`), and
`objects` with normalised xyxy `bbox`, `rle` (COCO RLE, `size` = [height, width]),
`iscrowd`, `area`. An image has 3-5 such lines.

Scoring is per image, so this reader groups lines by `id`: one RIC sample per image,
sample_id = the image id as a string, in order of first appearance.

* references: every caption of the image, cleaned by `caption_text.clean_caption`, the
  same function that cleans model output (placeholders and their parenthesised groups
  removed);
* ground-truth objects: the objects of all its captions, de-duplicated (the same COCO
  annotation mentioned by two captions has the same box and RLE), box = normalised box ×
  image size (no rounding: PaDT released no RIC scorer to copy a rounding from).

Lines of one image need not be adjacent: a first pass indexes the byte offsets of each
image's lines, a second writes the grouped samples to a normalised JSONL cache (keyed by
the file's sha256, verified on every read: `core/derived_cache.py`) that is then
streamed like every other split.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import is_finite_box
from padt_eval.core.caption_text import clean_caption
from padt_eval.core.derived_cache import Built
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.images import ImageRoot, check_image_file, confined_path
from padt_eval.core.jsonl import LineReader, iter_lines, parse_line
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.data.jsonl_split import JsonlSplitReader, cached_jsonl, written_lines
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "ric-v1"


def _check_line(obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj or not isinstance(obj.get("image"), str):
        raise DataError(f"{where}: needs 'id' (the COCO image id) and 'image' (its file name)")
    if not isinstance(obj.get("answer_template"), str):
        raise DataError(f"{where}: 'answer_template' (the caption) must be a string")
    objects = obj.get("objects", [])
    if not isinstance(objects, list):
        raise DataError(f"{where}: 'objects' must be a list")
    for i, o in enumerate(objects):
        if not isinstance(o, dict) or not is_finite_box(o.get("bbox")):
            raise DataError(f"{where}: objects[{i}].bbox must be four finite numbers")
        why = rlemod.problem(o["rle"]) if o.get("rle") is not None else None
        if why is not None:
            raise DataError(f"{where}: objects[{i}].rle is not a valid COCO RLE: {why}")


def _group(path: Path, lines: list[tuple[int, dict]], image_root: Path) -> dict:
    first_index, first = lines[0]
    where = f"{path}:{first_index + 1}"
    image = first["image"]
    size = None
    objects: list[dict] = []
    seen: set = set()
    for index, obj in lines:
        if obj["image"] != image:
            raise DataError(
                f"{path}:{index + 1}: image {obj['image']!r} differs from {image!r} on line {first_index + 1} for the same id {obj['id']!r}"
            )
        for o in obj.get("objects", []):
            rle = o.get("rle")
            if rle is not None:
                s = (int(rle["size"][0]), int(rle["size"][1]))
                if size is not None and s != size:
                    raise DataError(
                        f"{path}:{index + 1}: RLE size {list(s)} differs from {list(size)} for image id {obj['id']!r}"
                    )
                size = s
            key = (tuple(float(v) for v in o["bbox"]), json.dumps(rle, sort_keys=True) if rle is not None else None)
            if key not in seen:
                seen.add(key)
                objects.append(o)
    if size is None:  # no object carries an RLE: read the size from the image header
        from PIL import Image

        full = confined_path(image_root, image, context=where)
        try:
            check_image_file(full)  # a FIFO would block the split read forever
            with Image.open(full) as im:
                size = (im.size[1], im.size[0])
        except (OSError, ValueError, DataError) as exc:
            raise DataError(
                f"{where}: no object carries an RLE to take the image size from, and the image cannot be read ({exc})"
            ) from None
    height, width = size
    return {
        "sample_id": str(first["id"]),
        "image_file": image,
        "width": width,
        "height": height,
        "references": [clean_caption(obj["answer_template"]) for _, obj in lines],
        "objects": [
            {
                "bbox": [o["bbox"][0] * width, o["bbox"][1] * height, o["bbox"][2] * width, o["bbox"][3] * height],
                "mask": rlemod.from_cocotools(rlemod.to_cocotools(o["rle"])) if o.get("rle") is not None else None,
                "iscrowd": bool(o.get("iscrowd", 0)),
                "area": float(o["area"]) if isinstance(o.get("area"), (int, float)) else None,
            }
            for o in objects
        ],
        "lines": [index + 1 for index, _ in lines],
    }


def build_ric_cache(path: Path, image_root: Path, out: TextIO) -> int:
    """Group a RIC JSONL by image into normalised JSONL written to `out`; return the number of images."""
    offsets: dict[str, list[tuple[int, int]]] = {}
    for index, offset, raw in iter_lines(path):
        obj = parse_line(raw, path, index)
        _check_line(obj, f"{path}:{index + 1}")
        offsets.setdefault(str(obj["id"]), []).append((index, offset))
    reader = LineReader(path)
    for places in offsets.values():
        lines = [(index, json.loads(reader.read_at(offset))) for index, offset in places]
        out.write(json.dumps(_group(path, lines, image_root)) + "\n")
    return len(offsets)


class RicJsonlReader(JsonlSplitReader):
    def __init__(self, path: str | Path, image_root: str | Path, name: str | None = None) -> None:
        self.source = Path(path)
        self.image_root = Path(image_root)
        self._images = ImageRoot(image_root)  # resolved once, not per sample
        if not self.source.is_file():
            raise DataError(f"split file not found: {self.source}")
        key = hashlib.sha256("|".join([_CACHE_VERSION, sha256_file(self.source)]).encode()).hexdigest()[:20]
        cached = cache_dir() / "ric" / f"{self.source.stem}_{key}.jsonl"

        def build() -> Built:
            built = written_lines(lambda out: build_ric_cache(self.source, self.image_root, out))
            if built.n_items == 0:
                raise DataError(f"{self.source}: the split file holds no captions")
            return built

        source, derived = cached_jsonl(cached, _CACHE_VERSION, build)
        info = SplitInfo(
            name=name or self.source.stem,
            layout="padt-jsonl",
            files=[str(self.source)],
            image_root=str(image_root),
            task=Task.RIC,
            notes=[
                "one sample per image; references = all its captions, placeholders removed; GT objects = its captions' objects, de-duplicated"
            ],
        )
        super().__init__(source, info)
        self.cache_record = derived.record

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: str) -> Sample:
        path = self._images.join(obj["image_file"], context=f"{self.source} line {obj['lines'][0]}")
        return Sample(
            sample_id=obj["sample_id"],
            task=Task.RIC,
            image=ImageRef(path=path, width=obj["width"], height=obj["height"], root=self._images.root),
            objects=[
                GroundTruthObject(bbox=o["bbox"], mask=o["mask"], iscrowd=o["iscrowd"], area=o["area"]) for o in obj["objects"]
            ],
            references=list(obj["references"]),
            meta={
                "image_id": obj["sample_id"],
                "image_file": obj["image_file"],
                "source": f"{self.source.name} lines {obj['lines']}",
            },
        )
