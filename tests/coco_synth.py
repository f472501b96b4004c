"""A random COCO-like detection set: GT json (crowd regions, several categories, optional
polygon / crowd-RLE masks) and detections, for checking OVD scoring against pycocotools.

Shared by tests and `benchmarks/bench_ovd.py`.
"""

from __future__ import annotations

import math

import numpy as np
from pycocotools import mask as cocomask

from padt_eval.core.coco_categories import COCO_CATEGORIES


def _ellipse_polygon(x: float, y: float, w: float, h: float, n: int = 12) -> list[float]:
    cx, cy = x + w / 2, y + h / 2
    pts = []
    for k in range(n):
        a = 2 * math.pi * k / n
        pts += [round(cx + 0.5 * w * math.cos(a), 2), round(cy + 0.5 * h * math.sin(a), 2)]
    return pts


def random_coco(
    n_images: int,
    seed: int = 0,
    *,
    n_categories: int = 12,
    gt_per_image: float = 7.0,
    dets_per_image: int = 30,
    crowd_p: float = 0.03,
    with_masks: bool = False,
    sizes: tuple[tuple[int, int], ...] = ((640, 480), (480, 640), (500, 375)),
) -> tuple[dict, list[dict]]:
    """(GT dataset dict in COCO json form, detection results list with `bbox` xywh and `score`
    and, with masks, `segmentation` RLE with str counts)."""
    rng = np.random.default_rng(seed)
    cats = [COCO_CATEGORIES[i] for i in sorted(rng.choice(len(COCO_CATEGORIES), n_categories, replace=False))]
    cat_ids = [c for c, _ in cats]
    images, anns, dets = [], [], []
    image_ids = sorted(rng.choice(10**6, n_images, replace=False).tolist())
    rng.shuffle(image_ids)  # file order differs from id order, as in COCO
    for image_id in image_ids:
        w, h = sizes[int(rng.integers(len(sizes)))]
        images.append({"id": int(image_id), "file_name": f"{image_id:012d}.jpg", "width": w, "height": h})
        gts = []
        for _ in range(int(rng.poisson(gt_per_image))):
            bw = float(np.round(rng.uniform(2, w * 0.6) * rng.choice([0.1, 0.4, 1.0]), 2)) + 1.0
            bh = float(np.round(rng.uniform(2, h * 0.6) * rng.choice([0.1, 0.4, 1.0]), 2)) + 1.0
            x = float(np.round(rng.uniform(0, w - bw), 2))
            y = float(np.round(rng.uniform(0, h - bh), 2))
            crowd = int(rng.random() < crowd_p)
            ann = {
                "id": len(anns) + 1,
                "image_id": int(image_id),
                "category_id": int(rng.choice(cat_ids)),
                "bbox": [x, y, bw, bh],
                "iscrowd": crowd,
            }
            if with_masks:
                if crowd:
                    m = np.zeros((h, w), np.uint8)
                    m[int(y) : int(y + bh), int(x) : int(x + bw)] = 1
                    m[int(y) : int(y + bh) : 3, :] = 0
                    # COCO stores crowd regions as uncompressed RLE (counts a list of ints)
                    enc = cocomask.encode(np.asfortranarray(m))
                    flat = m.flatten(order="F")
                    edges = np.flatnonzero(np.diff(flat)) + 1
                    bounds = np.concatenate([[0], edges, [flat.size]])
                    counts = np.diff(bounds).tolist()
                    if flat[0] == 1:
                        counts = [0] + counts  # RLE counts start with a run of zeros
                    ann["segmentation"] = {"size": [h, w], "counts": counts}
                    ann["area"] = float(cocomask.area(enc))
                else:
                    poly = _ellipse_polygon(x, y, bw, bh)
                    ann["segmentation"] = [poly]
                    ann["area"] = float(cocomask.area(cocomask.merge(cocomask.frPyObjects([poly], h, w))))
            else:
                # a segmentation area is smaller than the box, as in COCO
                ann["area"] = round(bw * bh * float(rng.uniform(0.4, 0.95)), 2)
            anns.append(ann)
            gts.append(ann)
        for _ in range(dets_per_image):
            if gts and rng.random() < 0.7:
                g = gts[int(rng.integers(len(gts)))]
                x, y, bw, bh = g["bbox"]
                j = rng.normal(0, 0.08, 4)
                box = [x + j[0] * bw, y + j[1] * bh, bw * (1 + j[2]), bh * (1 + j[3])]
                cid = g["category_id"] if rng.random() > 0.15 else int(rng.choice(cat_ids))
            else:
                bw, bh = float(rng.uniform(2, w / 2)), float(rng.uniform(2, h / 2))
                box = [float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh)), bw, bh]
                cid = int(rng.choice(cat_ids))
            box = [round(float(v), 2) for v in box]
            det = {"image_id": int(image_id), "category_id": cid, "bbox": box, "score": round(float(rng.random()), 4)}
            if with_masks:
                m = cocomask.frPyObjects([_ellipse_polygon(*box)], h, w)
                rle = cocomask.merge(m)
                det["segmentation"] = {"size": [h, w], "counts": rle["counts"].decode()}
            dets.append(det)
    categories = [{"id": c, "name": n, "supercategory": ""} for c, n in cats]
    return {"images": images, "annotations": anns, "categories": categories}, dets
