"""metrics/coco_boxes.py's column-wise box evaluation against pycocotools' COCOeval, run
directly, on random COCO-like sets: crowds, ties of score, more than 100 detections of a
class in an image, tiny and huge boxes (all area ranges), detections on images without
GT and GT without detections, categories without GT."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.metrics.coco_boxes import BoxSet, box_stats
from tests.coco_synth import random_coco
from tests.metrics.test_detection import pycocotools_stats


def columns(gt: dict, dets: list[dict]) -> tuple[BoxSet, BoxSet, int, list[int]]:
    index = {image_id: i for i, image_id in enumerate(sorted(img["id"] for img in gt["images"]))}
    anns = gt["annotations"]
    g = BoxSet(
        image=np.array([index[a["image_id"]] for a in anns], dtype=np.int64),
        category=np.array([a["category_id"] for a in anns], dtype=np.int64),
        box=np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
        area=np.array([a["area"] for a in anns], dtype=np.float64),
        crowd=np.array([a["iscrowd"] for a in anns], dtype=bool),
    )
    d = BoxSet(
        image=np.array([index[x["image_id"]] for x in dets], dtype=np.int64),
        category=np.array([x["category_id"] for x in dets], dtype=np.int64),
        box=np.array([x["bbox"] for x in dets], dtype=np.float64).reshape(-1, 4),
        score=np.array([x["score"] for x in dets], dtype=np.float64),
    )
    return g, d, len(index), [c["id"] for c in gt["categories"]]


def _case(seed: int, n_images: int, dets_per_image: int, crowd_p: float, n_categories: int) -> tuple[dict, list[dict]]:
    gt, dets = random_coco(
        n_images, seed=seed, n_categories=n_categories, gt_per_image=6, dets_per_image=dets_per_image, crowd_p=crowd_p
    )
    rng = np.random.default_rng(seed)
    for d in dets:
        if rng.random() < 0.4:  # coarse scores: ties, broken by file order then image order
            d["score"] = float(np.round(d["score"], 1))
        if rng.random() < 0.05:  # an exact copy of a GT box: IoU 1, and equal IoUs with its twin
            same = [a for a in gt["annotations"] if a["image_id"] == d["image_id"]]
            if same:
                d["bbox"] = list(same[int(rng.integers(len(same)))]["bbox"])
    # GT twins (equal boxes of one class) make ties of IoU between GT
    twins = [dict(a, id=len(gt["annotations"]) + 1 + i) for i, a in enumerate(gt["annotations"][:: max(1, n_images // 3)])]
    gt["annotations"] += twins
    return gt, dets


@pytest.mark.parametrize(
    "seed, n_images, dets_per_image, crowd_p, n_categories",
    [(0, 60, 25, 0.1, 8), (1, 10, 260, 0.05, 2), (2, 40, 6, 0.3, 12), (3, 25, 40, 0.0, 20)],
)
def test_box_stats_equal_pycocotools(seed, n_images, dets_per_image, crowd_p, n_categories):
    gt, dets = _case(seed, n_images, dets_per_image, crowd_p, n_categories)
    dets = [d for d in dets if d["image_id"] != gt["images"][0]["id"]]  # an image with GT and no detection
    # GT and detections of a category the dataset does not list: COCOeval leaves them out
    gt["annotations"].append(dict(gt["annotations"][0], id=10**6, category_id=10**4))
    dets.append(dict(dets[0], category_id=10**4))
    want = pycocotools_stats(gt, dets, "bbox")
    got = box_stats(*columns(gt, dets))
    assert got == pytest.approx(want, abs=1e-12)
    assert sum(v > 0 for v in want) >= 8  # the case exercises the statistics, not only -1 or 0


def test_no_detections_and_no_gt_of_a_size():
    gt, dets = random_coco(5, seed=4, n_categories=3, gt_per_image=3, dets_per_image=5)
    for a in gt["annotations"]:  # every GT large: small and medium statistics are undefined (-1)
        a["area"] = 1e5
    want = pycocotools_stats(gt, dets, "bbox")
    assert box_stats(*columns(gt, dets)) == pytest.approx(want, abs=1e-12)
    assert want[3] == -1
    # no detection at all (pycocotools' loadRes refuses an empty list): AP and AR 0, undefined sizes -1
    assert box_stats(*columns(gt, [])) == [0.0] * 3 + [-1.0, -1.0, 0.0] + [0.0] * 3 + [-1.0, -1.0, 0.0]


def test_ties_of_iou_and_ignored_gt_follow_cocoeval():
    """Image 1: the first detection has IoU 2/3 with two GT (a tie COCOeval gives to the later
    GT), so the second detection, which only the later GT would fit, is a false positive.
    Image 2: a crowd overlaps the detection more than the plain GT does; the plain GT is
    still taken first (a true positive, not an ignored detection)."""
    ann = lambda i, img, box, crowd=0: {  # noqa: E731
        "id": i,
        "image_id": img,
        "category_id": 1,
        "bbox": box,
        "area": box[2] * box[3],
        "iscrowd": crowd,
    }
    gt = {
        "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            ann(1, 1, [8, 0, 10, 10]),
            ann(2, 1, [12, 0, 10, 10]),
            ann(3, 2, [0, 0, 10, 7]),
            ann(4, 2, [0, 0, 10, 10], crowd=1),
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [10, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [13, 0, 10, 10], "score": 0.8},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.85},
    ]
    want = pycocotools_stats(gt, dets, "bbox")
    assert box_stats(*columns(gt, dets)) == pytest.approx(want, abs=1e-12)
    assert 0 < want[1] < 1
