"""metrics/tide.py's array implementation gives the numbers of the detection-by-detection
one (`tide_reference.py`) on random COCO-like splits: crowds, ties of score, more than
100 detections an image, images without GT or without detections, both IoU thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.metrics.detection import DetectionMetric
from padt_eval.metrics.errors import ErrorThresholds
from padt_eval.metrics.tide import analyse_image, tide_breakdown
from tests.coco_synth import random_coco
from tests.metrics import tide_reference
from tests.metrics.test_detection import to_pairs


def _records(seed: int, n_images: int, dets_per_image: int, crowd_p: float) -> list[dict]:
    gt, dets = random_coco(n_images, seed=seed, n_categories=6, gt_per_image=5, dets_per_image=dets_per_image, crowd_p=crowd_p)
    rng = np.random.default_rng(seed)
    for d in dets:  # coarse scores: many ties, broken by output order
        d["score"] = float(np.round(d["score"], 1)) if rng.random() < 0.5 else d["score"]
    metric = DetectionMetric([(c["id"], c["name"]) for c in gt["categories"]])
    for s, p in to_pairs(gt, dets):
        metric.update(s, p)
    images = sorted(metric.images, key=lambda r: int(r["sample_id"]))
    images[0]["dt"] = []  # an image without detections
    images[1]["gt"] = []  # and one without ground truth
    return images


@pytest.mark.parametrize("seed, n_images, dets_per_image, crowd_p", [(0, 30, 20, 0.1), (1, 12, 130, 0.05), (2, 40, 8, 0.3)])
@pytest.mark.parametrize("th", [ErrorThresholds(), ErrorThresholds(foreground=0.7, background=0.3)])
def test_the_arrays_give_the_reference_breakdown(seed, n_images, dets_per_image, crowd_p, th):
    images = _records(seed, n_images, dets_per_image, crowd_p)
    want = tide_reference.tide_breakdown(images, th)
    got = tide_breakdown(images, th)
    assert want["counts"] == got["counts"] and sum(got["counts"].values()) > 0
    for k in ("n_true_positives", "n_ignored", "n_gt"):
        assert got[k] == want[k], k
    assert got["ap50"] == pytest.approx(want["ap50"], abs=1e-12)
    assert got["dap"] == pytest.approx(want["dap"], abs=1e-12)
    assert any(v > 0 for v in got["dap"].values())
    # the analyses made per image (as DetectionMetric.update makes them) give the same
    per_image = [analyse_image(img, th) for img in images]
    assert tide_breakdown(images, th, [a for a, _ in per_image]) == got
    for img, (_, counts) in zip(images, per_image):
        assert counts == tide_reference.analyse_image(img, th)[1]


def test_batches_in_any_order_give_the_reference_breakdown_and_records():
    """DetectionMetric analyses each batch of images as it comes (for the per-sample
    records) and joins the batches in COCOeval's image order at the end: shuffled samples
    in uneven batches give the reference's breakdown of the images in id order."""
    gt, dets = random_coco(45, seed=5, n_categories=5, gt_per_image=5, dets_per_image=30, crowd_p=0.1)
    for d in dets[::3]:  # ties of score across images: their order is COCOeval's image order
        d["score"] = 0.5
    th = ErrorThresholds()
    pairs = to_pairs(gt, dets)
    np.random.default_rng(5).shuffle(pairs)
    metric = DetectionMetric([(c["id"], c["name"]) for c in gt["categories"]], tide_thresholds=th)
    records = {}
    for lo, hi in ((0, 7), (7, 8), (8, 30), (30, 45)):
        batch = pairs[lo:hi]
        for (s, _), rec in zip(batch, metric.update_many([s for s, _ in batch], [p for _, p in batch])):
            records[s.sample_id] = rec.get("errors")
    images = sorted(metric.images, key=lambda r: int(r["sample_id"]))
    want = tide_reference.tide_breakdown(images, th)
    got = metric.errors()
    assert got["counts"] == want["counts"] and got["n_true_positives"] == want["n_true_positives"]
    assert got["ap50"] == pytest.approx(want["ap50"], abs=1e-12)
    assert got["dap"] == pytest.approx(want["dap"], abs=1e-12)
    for img in images:
        assert records[img["sample_id"]] == tide_reference.analyse_image(img, th)[1]
