"""Demo data in the layouts of ReasonSeg (LISA) and RefCOCO-M (moondream), from the synthetic world.

`write_reasonseg` writes a split folder of `<stem>.jpg` + `<stem>.json` as LISA ships it: per
image a "target" polygon (the first shape), on every second image an "ignore" polygon over
another shape, on every third a "flag" shape (skipped by LISA), a second query on every
fourth image (LISA scores the first only), and `is_sentence` alternating.

`write_refcoco_m` writes one parquet file with the release's columns (`image` bytes,
`image_id`, `file_name`, `samples` with `id`, `category`, `supercategory`, `label`,
`sentences`, `bbox` xywh and `mask` RLE); it needs pyarrow.

`mask_predictions` writes a predictions file whose masks are the ground truth, shifted by a
few pixels, or absent, by a seeded choice; `expected_scores` recomputes what it must score
with plain numpy on decoded masks (not the metric's RLE arithmetic), under padt-eval's RES
rules and under LISA's, so the demo checks both protocols.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from padt_eval.core import rle as rlemod
from padt_eval.demo.synthetic import SynthImage, render_image


def has_parquet() -> bool:
    """Whether pyarrow is installed (RefCOCO-M's parquet is read and written with it)."""
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _points(polygon: list[float]) -> list[list[float]]:
    return [[polygon[i], polygon[i + 1]] for i in range(0, len(polygon), 2)]


def write_reasonseg(world: list[SynthImage], folder: Path) -> int:
    """The ReasonSeg layout of `world` in `folder`; returns the number of images."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for k, img in enumerate(world):
        stem = Path(img.file_name).stem
        # LISA's layout names images *.jpg; their bytes here are PNG (images are opened by
        # content), so the exact colours the colour-finder demo model looks for survive
        Image.fromarray(render_image(img)).save(folder / f"{stem}.jpg", format="PNG")
        target = img.objects[0]
        shapes = [{"label": "target", "points": _points(target.polygon), "shape_type": "polygon"}]
        if k % 2 == 1 and len(img.objects) > 1:
            shapes.append({"label": "ignore", "points": _points(img.objects[1].polygon), "shape_type": "polygon"})
        if k % 3 == 2:
            shapes.append({"label": "flag", "points": [[0, 0], [5, 0], [5, 5]], "shape_type": "polygon"})
        queries = [f"What in this picture is {target.colour} and shaped like a {target.shape}?"]
        if k % 4 == 3:
            queries.append(f"the {target.name}")
        annotation = {"text": queries, "is_sentence": k % 2 == 0, "shapes": shapes}
        (folder / f"{stem}.json").write_text(json.dumps(annotation), encoding="utf-8")
    return len(world)


def _eroded(mask: np.ndarray) -> np.ndarray:
    """One pixel off the boundary (4-neighbourhood): the demo's "re-segmented", tighter mask."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def write_refcoco_m(world: list[SynthImage], path: Path, first_ann_id: int = 1) -> int:
    """One RefCOCO-M parquet file for `world`; returns the number of sentences.

    Instance ids are the annotation ids `write_refer` gives the same objects (a running
    count from `first_ann_id` in image, then object order), as RefCOCO-M keeps RefCOCO's.
    Like the release, it is cleaner than RefCOCO: every fourth instance is dropped and
    every mask kept is re-segmented one pixel tighter (its box follows the mask)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    rows, n = [], 0
    ann_id = first_ann_id - 1
    for img in world:
        buf = io.BytesIO()
        Image.fromarray(render_image(img)).save(buf, format="PNG")
        samples = []
        for o in img.objects:
            ann_id += 1
            if ann_id % 4 == 0:
                continue
            full = rlemod.decode(o.mask).astype(bool)
            tight = _eroded(full)
            mask = rlemod.encode(tight if tight.any() else full)
            x1, y1, x2, y2 = rlemod.bbox_xyxy(mask)
            samples.append(
                {
                    "id": ann_id,
                    "image_id": img.image_id,
                    "category": o.shape,
                    "supercategory": "shape",
                    "label": o.name,
                    "sentences": list(o.expressions),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "mask": {"counts": mask["counts"], "size": [int(v) for v in mask["size"]]},
                }
            )
            n += len(o.expressions)
        rows.append(
            {
                "image": {"bytes": buf.getvalue(), "path": img.file_name},
                "image_id": img.image_id,
                "file_name": img.file_name,
                "samples": samples,
            }
        )
    schema = pa.schema(
        [
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            ("image_id", pa.int64()),
            ("file_name", pa.string()),
            (
                "samples",
                pa.list_(
                    pa.struct(
                        [
                            ("id", pa.int64()),
                            ("image_id", pa.int64()),
                            ("category", pa.string()),
                            ("supercategory", pa.string()),
                            ("label", pa.string()),
                            ("sentences", pa.list_(pa.string())),
                            ("bbox", pa.list_(pa.float32())),
                            ("mask", pa.struct([("counts", pa.string()), ("size", pa.list_(pa.int32()))])),
                        ]
                    )
                ),
            ),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return n


def mask_predictions(samples, path: Path, seed: int = 0) -> dict[str, int]:
    """A predictions file for RES samples: the GT mask ("exact"), the GT moved 3 px right
    ("shifted"), no object ("empty") or no line ("missing"), chosen by a seeded draw."""
    rng = np.random.default_rng(seed)
    counts = {"exact": 0, "shifted": 0, "empty": 0, "missing": 0}
    with open(path, "w", encoding="utf-8") as f:
        for s in samples:
            outcome = ("exact", "shifted", "empty", "missing")[int(rng.choice(4, p=[0.5, 0.3, 0.1, 0.1]))]
            counts[outcome] += 1
            if outcome == "missing":
                continue
            objects = []
            if outcome != "empty":
                m = rlemod.decode(s.objects[0].mask).astype(bool)
                if outcome == "shifted":
                    m = np.roll(m, 3, axis=1)
                    m[:, :3] = False
                mask = rlemod.encode(m)
                objects.append({"bbox": rlemod.bbox_xyxy(mask) if m.any() else [0, 0, 0, 0], "mask": mask})
            f.write(json.dumps({"sample_id": s.sample_id, "objects": objects}) + "\n")
    return counts


def expected_scores(samples, path: Path) -> dict[str, dict[str, float]]:
    """The metrics the predictions file at `path` must score on `samples`: "standard"
    (RES: mIoU, cIoU; ignore pixels left out) and "official" (LISA: first query of each
    image, I/(U+1e-5) with +1 where U == 0, ΣIoU/(n+1e-5), ΣI/(ΣU+1e-10))."""
    answers = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            answers[obj["sample_id"]] = obj["objects"]
    std, off = [], []
    for s in samples:
        gt = rlemod.decode(s.objects[0].mask).astype(bool)
        ignore = s.meta.get("ignore_mask")
        keep = ~rlemod.decode(ignore).astype(bool) if ignore else np.ones_like(gt)
        objs = answers.get(s.sample_id) or []
        pred = rlemod.decode(objs[0]["mask"]).astype(bool) if objs else np.zeros_like(gt)
        inter = int((pred & gt & keep).sum())
        union = int(((pred | gt) & keep).sum())
        std.append((inter, union))
        if s.meta.get("query_index", 0) == 0:
            off.append((inter, union))
    total_i, total_u = sum(i for i, _ in std), sum(u for _, u in std)
    out = {"standard": {"miou": float(np.mean([i / u if u else 0.0 for i, u in std])), "ciou": total_i / total_u}}
    off_i, off_u = sum(i for i, _ in off), sum(u for _, u in off)
    giou = sum(i / (u + 1e-5) + (1.0 if u == 0 else 0.0) for i, u in off) / (len(off) + 1e-5)
    out["official"] = {"giou": giou, "ciou": off_i / (off_u + 1e-10)}
    return out
