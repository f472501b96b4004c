"""Ref-L4's release layout: `ref_l4/ref-l4-{val,test}.parquet` plus the images of `images.tar.gz`.

What the release holds (Hugging Face `JierunChen/Ref-L4`, dataset card "Annotation Format";
read by JierunChen/Ref-L4@7476ccd `ref_l4/dataloader.py` and `ref_l4/evaluation.py`): one
parquet file per split, one row per annotation, with

* `id`: the annotation id that a prediction names (older card versions: `ann_id`);
* `caption`: the referring expression (24 words on average);
* `bbox`: the target box, `[x, y, w, h]` in pixels of the original image;
* `ori_category_id`: the source class, `refcoco_<COCO id>` or `o365_<Objects365 id>` (the
  evaluator's class-averaged accuracy groups by it);
* `file_name`, `height`, `width`: the image, a member name of `images.tar.gz`;
* and `image_id`, `bbox_id`, `bbox_area`, `is_rewrite`, `split`, kept in `meta` when present.

One sample per row; sample_id = `id` as a string (unique within the file, as the evaluator
requires). The first read converts the file once into a normalised JSONL cache keyed by its
sha256; later reads stream from it. pyarrow is imported only here, when a parquet file is read.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, TextIO

from padt_eval.core.boxes import xywh_to_xyxy
from padt_eval.core.derived_cache import Built
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.images import ImageRoot
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.data.jsonl_split import JsonlSplitReader, cached_jsonl, written_lines
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "ref-l4-v1"
LAYOUT = "ref-l4"
#: the scorer family of these splits (metrics/ref_l4.py), see `SplitInfo.scorer`
SCORER = "ref_l4"
REQUIRED = ("caption", "bbox", "file_name", "height", "width", "ori_category_id")
ID_FIELDS = ("id", "ann_id")  # the current card, then its first version
OPTIONAL = ("image_id", "bbox_id", "bbox_area", "is_rewrite", "split")


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of one Ref-L4 parquet file as dicts (DataError naming the file when it is not one)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # a declared dependency; say which when an environment lacks it
        raise DataError(f"{path}: reading Ref-L4's parquet files needs pyarrow ({exc})") from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    return table.to_pylist()


def count_rows(path: Path) -> int:
    """Rows of a parquet file from its footer alone, for `splits` / `data status`."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None


def _id_of(row: dict[str, Any], where: str) -> str:
    for key in ID_FIELDS:
        value = row.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise DataError(f"{where}: '{key}' must be an integer or a string, got {value!r:.60}")
            return str(value)
    raise DataError(f"{where}: no annotation id (looked for {', '.join(ID_FIELDS)})")


def _box(row: dict[str, Any], where: str) -> list[float]:
    box = row["bbox"]
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise DataError(f"{where}: 'bbox' must be [x, y, w, h], got {box!r:.80}")
    try:
        xywh = [float(v) for v in box]
    except (TypeError, ValueError):
        raise DataError(f"{where}: 'bbox' must be four numbers, got {box!r:.80}") from None
    if not all(math.isfinite(v) for v in xywh) or xywh[2] < 0 or xywh[3] < 0:
        raise DataError(f"{where}: 'bbox' must be four finite numbers with w, h >= 0, got {box!r:.80}")
    return xywh


def build_ref_l4_cache(path: Path, out: TextIO) -> int:
    """Write one Ref-L4 parquet file as normalised JSONL to `out`; return the sample count.
    Every field a sample needs is checked here, so a file of another shape is reported by
    row and field."""
    rows = read_rows(path)
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"{path} row {i}"
        lacking = [k for k in REQUIRED if row.get(k) is None]
        if lacking:
            raise DataError(f"{where}: lacks {', '.join(repr(k) for k in lacking)} (the Ref-L4 card's fields)")
        sid = _id_of(row, where)
        if sid in seen:
            raise DataError(f"{where}: id {sid} appears twice (Ref-L4's evaluator refuses duplicate ids)")
        seen.add(sid)
        xywh = _box(row, f"{where} (id {sid})")
        width, height = row["width"], row["height"]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
            raise DataError(f"{where} (id {sid}): image size must be positive integers, got {width!r} x {height!r}")
        line = {
            "sample_id": sid,
            "image_file": str(row["file_name"]),
            "width": width,
            "height": height,
            "expression": str(row["caption"]),
            "bbox": xywh_to_xyxy(xywh),
            "meta": {
                "bbox_xywh": xywh,  # the evaluator sizes objects by sqrt(w*h) of this box
                "ori_category_id": str(row["ori_category_id"]),
                **{k: row[k] for k in OPTIONAL if row.get(k) is not None},
            },
        }
        out.write(json.dumps(line) + "\n")
    return len(rows)


class RefL4Reader(JsonlSplitReader):
    """One Ref-L4 parquet file (`ref-l4-val.parquet` or `ref-l4-test.parquet`), boxes only (REC)."""

    def __init__(self, path: str | Path, image_root: str | Path, task: Task = Task.REC, name: str | None = None) -> None:
        self.parquet_path = Path(path)
        self._images = ImageRoot(image_root)
        self.task = task
        if not self.parquet_path.is_file():
            raise DataError(f"Ref-L4 layout: file not found: {self.parquet_path}")
        key = hashlib.sha256(f"{_CACHE_VERSION}|{sha256_file(self.parquet_path)}".encode()).hexdigest()[:20]
        cached = cache_dir() / "ref_l4" / f"{self.parquet_path.stem}_{key}.jsonl"

        def build() -> Built:
            built = written_lines(lambda out: build_ref_l4_cache(self.parquet_path, out))
            if built.n_items == 0:
                raise DataError(f"{self.parquet_path}: holds no annotations")
            return built

        source, _ = cached_jsonl(cached, _CACHE_VERSION, build)
        info = SplitInfo(
            name=name or self.parquet_path.stem.replace("-", "_"),
            layout=LAYOUT,
            files=[str(self.parquet_path)],
            image_root=str(image_root),
            task=task,
            instances_note="Ref-L4 ships one box per annotation, not the other objects of its images",
            scorer=SCORER,
        )
        super().__init__(source, info)

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        path = self._images.join(obj["image_file"], context=f"{self.parquet_path} image {obj['image_file']!r}")
        return Sample(
            sample_id=obj["sample_id"],
            task=self.task,
            image=ImageRef(path=path, width=obj["width"], height=obj["height"], root=self._images.root),
            expression=obj["expression"],
            objects=[GroundTruthObject(bbox=obj["bbox"], label=obj["expression"])],
            meta={**obj["meta"], "image_file": obj["image_file"], "source": f"{self.parquet_path.name} id {obj['sample_id']}"},
        )
