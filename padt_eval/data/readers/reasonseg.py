"""ReasonSeg (LISA): one folder per split of `<name>.jpg` + `<name>.json`.

The layout LISA's README documents and its `ValDataset` reads
(`<dataset_dir>/reason_seg/ReasonSeg/{val,test}/*.jpg`, the JSON beside each image). A JSON
holds `text` (the queries), `is_sentence` (long sentence queries vs short phrases) and
`shapes` (labelme polygons: `label` "target" or "ignore", `points` [[x, y], ...]).

The ground truth is built as LISA's `utils/data_processing.py::get_mask_from_json` builds
it (dvlab-research/LISA@3cb2d43): shapes labelled "flag" are dropped; the others are
painted largest first (area = pixels of the shape painted alone; order `np.argsort(areas)[::-1]`),
each with `polylines` + `fillPoly` (`polygon_fill.py`, under the fill rules of the OpenCV
LISA pins) at the image's size, with value 255
when "ignore" is in the label (case-insensitive) and 1 otherwise, so a smaller shape drawn
later overwrites a larger one. The target mask is the pixels left at 1; the ignore mask
(`meta.ignore_mask`, RLE) the pixels left at 255, which both protocols leave out of
intersections and unions (metrics/reasonseg.py).

Samples are images in file-name order, one per query: `sample_id` is the file stem for
the first query and `<stem>#<k>` for query k >= 1. LISA scores the first query of each
image only (`sampled_sents = [sampled_sents[0]]`), which the official protocol follows;
`meta.query_index` says which query a sample is.

The first read rasterises every shape once into a JSONL cache keyed by the content of the
split's JSON files; image sizes are read from the image headers, as LISA takes them from
the decoded image.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from PIL import Image

from padt_eval.core import rle as rlemod
from padt_eval.core.errors import DataError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.images import ImageRoot
from padt_eval.core.jsonl import iter_lines, parse_line
from padt_eval.core.types import Sample, Task
from padt_eval.data.jsonl_split import Built, JsonlSplitReader, cached_jsonl, written_lines
from padt_eval.data.readers.polygon_fill import fill_polygon
from padt_eval.data.refer import referring_sample
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "reasonseg-v1"
LAYOUT = "reasonseg"
#: the scorer family of these splits (metrics/reasonseg.py, LISA's rules), see `SplitInfo.scorer`
SCORER = "reasonseg"
TARGET, IGNORE = 1, 255


def _load(path: Path) -> dict:
    # LISA retries a file that is not UTF-8 as cp1252; so does this reader
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def label_map(shapes: list, height: int, width: int, where: str) -> np.ndarray:
    """LISA's label map: 0 background, 1 target, 255 ignore."""
    if not isinstance(shapes, list):
        raise DataError(f"{where}: 'shapes' must be a list")
    kept, areas = [], []
    for k, shape in enumerate(shapes):
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str) or "points" not in shape:
            raise DataError(f"{where}: shapes[{k}] needs a 'label' string and 'points'")
        if shape["label"].lower() == "flag":  # deprecated annotations, skipped by LISA
            continue
        try:
            painted = fill_polygon(shape["points"], height, width)
        except ValueError as exc:
            raise DataError(f"{where}: shapes[{k}]: {exc}") from None
        kept.append((shape, painted))
        areas.append(int(painted.sum()))
    out = np.zeros((height, width), dtype=np.uint8)
    for idx in np.argsort(areas)[::-1]:  # LISA's order, ties included
        shape, painted = kept[int(idx)]
        out[painted] = IGNORE if "ignore" in shape["label"].lower() else TARGET
    return out


def _queries(obj: dict, where: str) -> list[str]:
    text = obj.get("text")
    if isinstance(text, str):
        text = [text]
    if not isinstance(text, list) or not text or not all(isinstance(t, str) for t in text):
        raise DataError(f"{where}: 'text' must be a non-empty list of queries")
    return text


def build_reasonseg_cache(folder: Path, out: TextIO) -> int:
    """Every image of `folder` with its JSON: one JSONL line per query; returns the count."""
    n = 0
    for image in sorted(folder.glob("*.jpg")):
        path = image.with_suffix(".json")
        where = str(path)
        if not path.is_file():
            raise DataError(f"{image}: no annotation file {path.name} beside it")
        obj = _load(path)
        try:
            with Image.open(image) as im:
                width, height = im.size
        except OSError as exc:
            raise DataError(f"{image}: cannot read the image size ({exc})") from None
        labels = label_map(obj.get("shapes"), height, width, where)
        target, ignore = labels == TARGET, labels == IGNORE
        mask = rlemod.encode(target)
        bbox = rlemod.bbox_xyxy(mask) if target.any() else [0.0, 0.0, 0.0, 0.0]
        queries = _queries(obj, where)
        for k, query in enumerate(queries):
            line = {
                "sample_id": image.stem if k == 0 else f"{image.stem}#{k}",
                "image_file": image.name,
                "width": width,
                "height": height,
                "expression": query,
                "bbox": bbox,
                "mask": mask,
                "meta": {
                    "query_index": k,
                    "n_queries": len(queries),
                    "is_sentence": bool(obj.get("is_sentence", False)),
                    "ignore_mask": rlemod.encode(ignore) if ignore.any() else None,
                    "empty_target": not target.any(),
                    "annotation": path.name,
                },
            }
            out.write(json.dumps(line) + "\n")
            n += 1
    return n


def count_queries(folder: Path, subset: str | None = None) -> int:
    """The samples of a split folder (queries of its images; of the short or long ones
    only, for a subset), for `splits` and `data status`, without rasterising anything."""
    n = 0
    for path in split_files(folder):
        if not path.is_file():
            raise DataError(f"{path.with_suffix('.jpg')}: no annotation file {path.name} beside it")
        obj = _load(path)
        if subset is None or bool(obj.get("is_sentence", False)) == (subset == "long"):
            n += len(_queries(obj, str(path)))
    return n


def split_files(folder: Path) -> list[Path]:
    """The annotation files of a split folder (what its manifest hashes)."""
    return sorted(p.with_suffix(".json") for p in folder.glob("*.jpg"))


class ReasonSegReader(JsonlSplitReader):
    """One ReasonSeg split folder (images and JSONs side by side); `subset` keeps the
    short-phrase ("short") or long-sentence ("long") queries only, as LISA's Table 1 splits test."""

    def __init__(self, folder: str | Path, task: Task, name: str | None = None, subset: str | None = None) -> None:
        self.folder = Path(folder)
        self.task = task
        if not self.folder.is_dir():
            raise DataError(f"ReasonSeg layout: folder not found: {self.folder}")
        self._images = ImageRoot(self.folder)
        files = split_files(self.folder)
        if not files:
            raise DataError(f"{self.folder}: no ReasonSeg images (*.jpg with a .json beside each)")
        digest = hashlib.sha256(_CACHE_VERSION.encode())
        for f in files:
            digest.update(f.name.encode() + (sha256_file(f).encode() if f.is_file() else b"missing"))
        cached = cache_dir() / "reasonseg" / f"{self.folder.name}_{digest.hexdigest()[:20]}.jsonl"

        def build() -> Built:
            return written_lines(lambda out: build_reasonseg_cache(self.folder, out))

        source, derived = cached_jsonl(cached, _CACHE_VERSION, build)
        self.subset = subset
        info = SplitInfo(
            name=name or f"reasonseg_{self.folder.name}",
            layout=LAYOUT,
            files=[str(f) for f in files],
            image_root=str(self.folder),
            task=task,
            notes=[f"{subset} queries only (is_sentence {'true' if subset == 'long' else 'false'})"] if subset else [],
            instances_note="ReasonSeg has no instance annotations",
            scorer=SCORER,
        )
        super().__init__(source, info)
        self.cache_record = derived.record

    def _ids_and_offsets(self):
        # a subset keeps the index of its own queries only; the cache holds the whole split
        flags = self._sentence_flags() if self.subset is not None else None
        for sid, offset in super()._ids_and_offsets():
            if flags is None or flags[sid] == (self.subset == "long"):
                yield sid, offset

    def _sentence_flags(self) -> dict[str, bool]:
        flags = {}
        for line_index, _offset, raw in iter_lines(self.path):
            obj = parse_line(raw, self.path, line_index)
            flags[obj["sample_id"]] = bool(obj["meta"]["is_sentence"])
        return flags

    def __iter__(self):
        for sample in super().__iter__():
            if sample.sample_id in self._index:
                yield sample

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        context = f"{self.folder} image {obj['image_file']!r}"
        return referring_sample(obj, self.task, self._images, context, obj["meta"]["annotation"])
