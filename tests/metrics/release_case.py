"""A small synthetic case for `--protocol padt-release`, written in two layouts:

* ours: a PaDT-layout RefCOCO split and COCO instances file under a data root, and
  predictions files in padt-eval's format (`write_ours`);
* the PaDT release's: the files its `eval_refcoco.py` / `eval_coco.py` read, at the
  relative paths they read them from (`write_release`), so those scripts can run on it.

The numbers the release's scripts printed on this case are recorded in
tests/fixtures/release_scripts/expected.json (see the README there); the test compares
our scoring of the same case with them.

What the case exercises (each on purpose, see the comments at the entries):
REC/RES: ground-truth boxes on half pixels where the order of the rounding decides the
width; several objects per answer; a missing prediction line; two samples with one key
(the last owns the ground truth); an object echoing another sample's expression; an
object whose echo matches nothing. OVD: half-pixel boxes; an image our PaDT filter drops
(longer side over 1288 px) but the release keeps in its GT, with a detection on it; an
image without annotations; a missing line; a mixed-case class name ("Traffic Light").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as cocomask

# -- REC / RES ------------------------------------------------------------------------
REC_IMAGES = {101: (640, 480), 202: (333, 251), 303: (500, 375)}  # id -> (width, height)

# (image id, expression, GT corners in pixels on half pixels). Stored normalised, as PaDT's
# split files store them: x / W. x1 = 390.0, x2 = 501.5 on W = 640 is where
# round(x2n*W - x1n*W) = 112 but round((x2n - x1n)*W) = 111.
REC_ITEMS = [
    (101, "red car", (390.0, 100.5, 501.5, 180.0)),
    (101, "blue car", (432.0, 200.0, 447.5, 260.5)),
    (101, "the white van", (258.0, 300.5, 325.5, 400.0)),  # its prediction line is missing
    (202, "tall man", (235.5, 20.5, 280.0, 120.0)),  # same key as the next: overwritten
    (202, "tall man", (252.0, 30.0, 279.5, 140.5)),
    (202, "small boy", (144.0, 100.0, 149.5, 150.5)),
    (303, "dog", (400.5, 200.5, 436.0, 300.0)),  # answers with the cat's echo
    (303, "cat", (275.5, 50.0, 331.0, 120.5)),  # answers with no object
    (303, "bird", (250.0, 10.5, 285.5, 60.0)),
]

# sample index -> predicted objects (label as echoed, integer xyxy box, score). A missing
# index has no line at all.
REC_PREDICTIONS = {
    0: [("red car", (390, 101, 502, 180), 0.9)],
    1: [("blue car", (10, 10, 60, 60), 0.8), ("blue car", (432, 200, 447, 260), 0.7)],
    3: [("tall man", (236, 21, 280, 120), 0.9)],
    4: [("tall man", (250, 40, 282, 130), 0.6)],
    5: [("small boy", (144, 101, 150, 148), 0.9)],
    6: [("cat", (276, 52, 330, 118), 0.8)],
    7: [],
    8: [("parrot", (250, 10, 286, 60), 0.9), ("bird", (255, 14, 290, 66), 0.5)],
}


def rec_file(image_id: int) -> str:
    return f"COCO_train2014_{image_id:012d}.jpg"


def _rect_rle(box, width: int, height: int, shrink: int = 0) -> dict:
    m = np.zeros((height, width), np.uint8)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    m[y1 + shrink : y2 - shrink, x1 + shrink : x2 - shrink] = 1
    rle = cocomask.encode(np.asfortranarray(m))
    return {"size": [height, width], "counts": rle["counts"].decode()}


def _split_lines() -> list[dict]:
    lines = []
    for image_id, expr, (x1, y1, x2, y2) in REC_ITEMS:
        w, h = REC_IMAGES[image_id]
        lines.append(
            {
                "id": image_id,
                "image": rec_file(image_id),
                "objects": [{"bbox": [x1 / w, y1 / h, x2 / w, y2 / h], "rle": _rect_rle((x1, y1, x2, y2), w, h), "label": expr}],
            }
        )
    return lines


def _rec_objects(i: int) -> list[dict]:
    image_id = REC_ITEMS[i][0]
    w, h = REC_IMAGES[image_id]
    return [{"label": lab, "bbox": list(b), "score": s, "mask": _rect_rle(b, w, h, shrink=1)} for lab, b, s in REC_PREDICTIONS[i]]


# -- OVD ------------------------------------------------------------------------------
OVD_CATEGORIES = [(1, "person"), (2, "Traffic Light"), (3, "dog")]
OVD_IMAGES = {11: (640, 480), 12: (500, 400), 13: (1400, 900), 14: (300, 200), 15: (320, 240)}
OVD_DROPPED_BY_OUR_FILTER = {13}  # longer side > 1288: PaDT's preprocessing skips it
# (image id, category id, [x, y, w, h] on half pixels, iscrowd)
OVD_ANNOTATIONS = [
    (11, 1, [10.5, 20.5, 100.0, 200.5], 0),
    (11, 1, [300.0, 40.5, 80.5, 160.0], 0),
    (11, 2, [500.5, 10.0, 40.0, 90.5], 0),
    (11, 3, [200.5, 300.5, 150.0, 120.5], 0),
    (12, 3, [50.5, 60.0, 200.5, 150.5], 0),
    (12, 1, [300.5, 100.0, 90.0, 250.5], 1),
    (13, 1, [100.5, 100.5, 300.0, 500.0], 0),
    (15, 1, [20.5, 30.5, 100.0, 150.5], 0),
]
# image id -> detections (label as the model wrote it, xyxy, score); 15 has no line.
OVD_PREDICTIONS = {
    11: [
        ("person", (11, 21, 110, 221), 0.9),
        ("Person", (300, 70, 381, 200), 0.8),
        ("traffic light", (500, 10, 541, 101), 0.7),
        ("Traffic Light", (501, 11, 540, 100), 0.6),
        ("dog", (201, 301, 350, 420), 0.5),
        ("puppy", (200, 300, 350, 421), 0.4),
    ],
    12: [("dog", (60, 60, 250, 230), 0.85), ("person", (300, 100, 390, 350), 0.6), ("dog", (0, 0, 40, 40), 0.95)],
    13: [("person", (100, 100, 400, 600), 0.97)],
    14: [("dog", (10, 10, 100, 100), 0.3)],
}


def _padt_normalised(bbox, width: int, height: int) -> list[float]:
    """PaDT's preprocessing of a COCO box into its JSONL (x / W through its 28-px grid)."""
    rh, rw = int(round(height / 28) * 28), int(round(width / 28) * 28)
    x, y, w, h = bbox
    return [x * (rw / width) / rw, y * (rh / height) / rh, (x + w) * (rw / width) / rw, (y + h) * (rh / height) / rh]


def _instances() -> dict:
    return {
        "info": {"description": "padt-eval release-protocol case"},
        "licenses": [],
        "images": [{"id": i, "file_name": f"{i:012d}.jpg", "width": w, "height": h} for i, (w, h) in OVD_IMAGES.items()],
        "annotations": [
            {"id": k + 1, "image_id": img, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": crowd}
            for k, (img, c, b, crowd) in enumerate(OVD_ANNOTATIONS)
        ],
        "categories": [{"id": c, "name": n, "supercategory": "thing"} for c, n in OVD_CATEGORIES],
    }


def _padt_coco_lines() -> list[dict]:
    names = dict(OVD_CATEGORIES)
    lines = []
    for image_id, (w, h) in OVD_IMAGES.items():
        if image_id in OVD_DROPPED_BY_OUR_FILTER:
            continue
        objs = [
            {"label": names[c], "bbox": _padt_normalised(b, w, h), "iscrowd": crowd, "area": b[2] * b[3]}
            for img, c, b, crowd in sorted((a for a in OVD_ANNOTATIONS if a[0] == image_id), key=lambda a: a[1])
        ]
        lines.append({"id": image_id, "image": f"{image_id:012d}.jpg", "objects": objs})
    return lines


# -- writers --------------------------------------------------------------------------
def _jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _images(folder: Path, sizes: dict[int, tuple[int, int]], name) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, (w, h) in sizes.items():
        Image.new("RGB", (w, h), (90, 90, 90)).save(folder / name(image_id), format="JPEG")


def write_ours(root: Path) -> dict[str, Path]:
    """Data root (RefCOCO split `refcoco_val`, COCO `coco_val2017`) and our predictions files."""
    _images(root / "coco" / "train2014", REC_IMAGES, rec_file)
    _jsonl(root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json", _split_lines())
    (root / "coco" / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "coco" / "annotations" / "instances_val2017.json").write_text(json.dumps(_instances()))
    _images(root / "coco" / "val2017", {i: (8, 8) for i in OVD_IMAGES}, lambda i: f"{i:012d}.jpg")  # never opened when scoring
    rec = root / "rec_predictions.jsonl"
    _jsonl(rec, [{"sample_id": str(i), "objects": _rec_objects(i)} for i in sorted(REC_PREDICTIONS)])
    ovd = root / "ovd_predictions.jsonl"
    _jsonl(
        ovd,
        [
            {"sample_id": str(i), "objects": [{"label": lab, "bbox": list(b), "score": s} for lab, b, s in dets]}
            for i, dets in OVD_PREDICTIONS.items()
        ],
    )
    return {"data_root": root, "rec_predictions": rec, "ovd_predictions": ovd}


def write_release(scripts_dir: Path, split: str = "refcoco_val", suffix: str = "case") -> None:
    """The files the release's scripts read, relative to `scripts_dir` (their working
    directory, eval/evaluation_scripts/), with predictions as its inference writes them
    (integer [x, y, w, h], one line per object, spread over two rank files)."""
    d = scripts_dir
    _images(d / "../../dataset/coco/train2014", REC_IMAGES, rec_file)
    _jsonl(d / f"PaDT-MLLM/RefCOCO/{split}.json", _split_lines())
    vlm = [{"image": rec_file(img), "normal_caption": expr} for img, expr, _ in REC_ITEMS]
    (d / "../../dataset/RefCOCO/rec_jsons_processed").mkdir(parents=True, exist_ok=True)
    (d / f"../../dataset/RefCOCO/rec_jsons_processed/{split}.json").write_text(json.dumps(vlm))
    rows = []
    for i in sorted(REC_PREDICTIONS):
        for o in _rec_objects(i):
            x1, y1, x2, y2 = o["bbox"]
            rows.append(
                {
                    "image_id": REC_ITEMS[i][0],
                    "score": o["score"],
                    "category": o["label"],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "mask": o["mask"],
                }
            )
    for r in range(2):
        _jsonl(d / f"../outputs/refcoco/{split}_{r}_pred_results_{suffix}.json", rows[r::2])
    (d / "../../dataset/coco/annotations").mkdir(parents=True, exist_ok=True)
    (d / "../../dataset/coco/annotations/instances_val2017.json").write_text(json.dumps(_instances()))
    _jsonl(d / "PaDT-MLLM/COCO/instances_val2017.json", _padt_coco_lines())
    dets = [
        {"image_id": img, "score": s, "category": lab, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
        for img, items in OVD_PREDICTIONS.items()
        for lab, b, s in items
    ]
    for r in range(2):
        _jsonl(d / f"../outputs/coco/coco_{r}_pred_results_{suffix}.json", dets[r::2])
