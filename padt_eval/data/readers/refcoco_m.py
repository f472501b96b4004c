"""RefCOCO-M (moondream/refcoco-m on the Hugging Face Hub, MIT): RefCOCO (unc) val re-segmented.

The release is parquet, `data/validation-0000{0,1}-of-00002.parquet`, one row per image with
the columns its dataset card declares: `image` (the image bytes), `image_id`, `file_name`
(the COCO 2014 name) and `samples`, a list of referred instances, each with `id`,
`image_id`, `category`, `supercategory`, `label`, `sentences` (a list of strings), `bbox`
([x, y, w, h], COCO pixels) and `mask` (one COCO RLE, `{"counts": str, "size": [H, W]}`).

The card's protocol: every (image, sentence) pair is one example with the instance's mask
as its ground truth, scored by mean IoU. So one sample per sentence. The release has no
sentence ids: `sample_id` is `<instance id>:<k>` (k the sentence's position) in layout
`refcoco-m`; in layout `refcoco-m+refer` (RefCOCO's `refs(unc).p` found beside, tried
first) a sentence that RefCOCO val holds for the same annotation id takes its RefCOCO
`sent_id`, so a RefCOCO-M run pairs with a `refcoco_val` run sample by sample.
RES scores the mask; REC scores the box, which is the release's `bbox` (the card says it is
the instance's box; `meta.bbox_from_mask` keeps the re-segmented mask's own box beside it).
The images are read from COCO train2014 by `file_name` (the parquet also carries them).

Reading needs `pyarrow` (a dependency of padt-eval since RefCOCO-M); only the annotation
columns are read, never the image bytes. The first read converts the split into a JSONL
cache keyed by the parquet files' content.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import xywh_to_xyxy
from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.fileio import cache_dir, sha256_file
from padt_eval.core.images import ImageRoot
from padt_eval.core.types import Sample, Task
from padt_eval.data.jsonl_split import Built, JsonlSplitReader, cached_jsonl, written_lines
from padt_eval.data.refer import referring_sample
from padt_eval.data.split import SplitInfo

_CACHE_VERSION = "refcoco-m-v1"
LAYOUT = "refcoco-m"
LAYOUT_WITH_REFER = "refcoco-m+refer"  # sample ids from RefCOCO's refs where the sentence is found
COLUMNS = ("image_id", "file_name", "samples")
PARQUET_FILES = ("validation-00000-of-00002.parquet", "validation-00001-of-00002.parquet")


def read_rows(path: Path) -> list[dict]:
    """The annotation columns of one parquet file, as Python rows."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("reading RefCOCO-M's parquet files needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path, columns=list(COLUMNS))
    except (OSError, ValueError, KeyError) as exc:  # pyarrow's errors derive from these
        raise DataError(f"{path}: not a RefCOCO-M parquet file with columns {', '.join(COLUMNS)} ({exc})") from None
    return table.to_pylist()


def _instance_lines(row: dict, where: str) -> list[dict]:
    lines = []
    samples = row.get("samples")
    if not isinstance(samples, list):
        raise DataError(f"{where}: 'samples' must be a list")
    for j, inst in enumerate(samples):
        iw = f"{where} samples[{j}]"
        try:
            mask = rlemod.normalise(inst["mask"])
            height, width = mask["size"]
            box = [float(v) for v in inst["bbox"]]
            sentences = inst["sentences"]
            inst_id = int(inst["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{iw}: needs id, sentences, bbox [x, y, w, h] and mask {{counts, size}} ({exc})") from None
        problem = rlemod.problem(mask)
        if problem or len(box) != 4:
            raise DataError(f"{iw}: {problem or f'bbox must be four numbers, got {box}'}")
        from_mask = rlemod.bbox_xyxy(mask) if rlemod.area(mask) else None
        for k, sent in enumerate(sentences):
            if not isinstance(sent, str):
                raise DataError(f"{iw} sentences[{k}]: expected a string")
            lines.append(
                {
                    "sample_id": f"{inst_id}:{k}",
                    "image_file": row["file_name"],
                    "width": int(width),
                    "height": int(height),
                    "expression": sent,
                    "bbox": xywh_to_xyxy(box),
                    "mask": mask,
                    "meta": {
                        "image_id": row.get("image_id"),
                        "ann_id": inst_id,
                        "category": inst.get("category"),
                        "sentence_index": k,
                        "bbox_from_mask": from_mask,
                    },
                }
            )
    return lines


def refcoco_sentence_ids(refs_path: Path) -> dict[tuple[int, str], int]:
    """(annotation id, sentence) -> sent_id of RefCOCO's unc val refs, the sentence as `sent`
    and as `raw` (which of the two RefCOCO-M kept is not documented)."""
    from padt_eval.data.safe_pickle import load_restricted

    ids: dict[tuple[int, str], int] = {}
    for ref in load_restricted(refs_path):
        if isinstance(ref, dict) and ref.get("split") == "val":
            for sent in ref.get("sentences", []):
                for text in (sent.get("raw"), sent.get("sent")):
                    if isinstance(text, str):
                        ids.setdefault((int(ref["ann_id"]), text), int(sent["sent_id"]))
    return ids


def build_refcoco_m_cache(paths: list[Path], out: TextIO, refs_path: Path | None = None) -> int:
    """The samples of the parquet files; with RefCOCO's refs, a sentence found there (same
    instance, same text) takes its RefCOCO sent_id as sample_id, so runs on refcoco_val and
    on RefCOCO-M pair sample by sample (the label-noise table)."""
    sent_ids = refcoco_sentence_ids(refs_path) if refs_path is not None else {}
    n = 0
    seen: set[str] = set()
    for path in paths:
        for r, row in enumerate(read_rows(path)):
            for line in _instance_lines(row, f"{path} row {r}"):
                sent_id = sent_ids.get((line["meta"]["ann_id"], line["expression"]))
                if sent_id is not None:
                    line["sample_id"] = str(sent_id)
                line["meta"]["refcoco_sent_id"] = sent_id
                if line["sample_id"] in seen:
                    raise DataError(
                        f"{path} row {r}: sample {line['sample_id']} (instance {line['meta']['ann_id']}) appears twice"
                    )
                seen.add(line["sample_id"])
                out.write(json.dumps(line) + "\n")
                n += 1
    return n


class RefcocoMReader(JsonlSplitReader):
    """RefCOCO-M val: every parquet file of the release (in name order)."""

    def __init__(
        self, paths: list[Path], image_root: str | Path, task: Task, name: str | None = None, refs_path: Path | None = None
    ) -> None:
        self.paths = sorted(Path(p) for p in paths)
        self.refs_path = Path(refs_path) if refs_path is not None else None
        self._images = ImageRoot(image_root)
        self.task = task
        sources = [*self.paths, *([self.refs_path] if self.refs_path is not None else [])]
        for p in sources:
            if not p.is_file():
                raise DataError(f"RefCOCO-M layout: file not found: {p}")
        key = hashlib.sha256("|".join([_CACHE_VERSION, *(sha256_file(p) for p in sources)]).encode()).hexdigest()[:20]
        cached = cache_dir() / "refcoco_m" / f"val_{key}.jsonl"

        def build() -> Built:
            return written_lines(lambda out: build_refcoco_m_cache(self.paths, out, self.refs_path))

        source, derived = cached_jsonl(cached, _CACHE_VERSION, build)
        info = SplitInfo(
            name=name or "refcoco_m_val",
            layout=LAYOUT_WITH_REFER if self.refs_path is not None else LAYOUT,
            files=[str(p) for p in sources],
            image_root=str(image_root),
            task=task,
            instances_note="RefCOCO-M keeps the referred instances only",
        )
        super().__init__(source, info)
        self.cache_record = derived.record

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        context = f"RefCOCO-M image {obj['image_file']!r}"
        return referring_sample(obj, self.task, self._images, context, f"RefCOCO-M instance {obj['meta']['ann_id']}")


def count_sentences(paths: list[Path], _cache: dict) -> int:
    return sum(len(inst.get("sentences") or []) for p in paths for row in read_rows(p) for inst in row.get("samples") or [])
