"""OVD: our 12 COCO statistics against pycocotools' COCOeval run directly, label mapping,
missing scores, undefined statistics and exact shard merging."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from padt_eval.core import rle
from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, ParseStatus, Prediction, Sample, Task
from padt_eval.metrics.detection import STAT_KEYS, DetectionMetric
from padt_eval.metrics.labels import LabelMapper, normalise_label
from tests.coco_synth import random_coco


def pycocotools_stats(gt: dict, dets: list[dict], iou_type: str) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats.tolist()


def to_pairs(gt: dict, dets: list[dict], *, masks: bool = False, drop_scores: bool = False, label_of=None):
    """Samples and Predictions (canonical xyxy) holding the same data as a COCO json + results."""
    names = {c["id"]: c["name"] for c in gt["categories"]}
    by_image: dict[int, list] = {img["id"]: [] for img in gt["images"]}
    for a in gt["annotations"]:
        by_image[a["image_id"]].append(a)
    dets_by_image: dict[int, list] = {img["id"]: [] for img in gt["images"]}
    for d in dets:
        dets_by_image[d["image_id"]].append(d)
    pairs = []
    for img in gt["images"]:
        h, w = img["height"], img["width"]
        objs = []
        for a in by_image[img["id"]]:
            x, y, bw, bh = a["bbox"]
            objs.append(
                GroundTruthObject(
                    bbox=[x, y, x + bw, y + bh],
                    category_id=a["category_id"],
                    label=names[a["category_id"]],
                    iscrowd=bool(a["iscrowd"]),
                    area=a["area"],
                    mask=rle.from_segmentation(a["segmentation"], h, w) if masks else None,
                )
            )
        s = Sample(str(img["id"]), Task.OVD, ImageRef(f"/x/{img['id']}.jpg", w, h), categories=list(names.values()), objects=objs)
        preds = []
        for d in dets_by_image[img["id"]]:
            x, y, bw, bh = d["bbox"]
            label = names[d["category_id"]] if label_of is None else label_of(names[d["category_id"]])
            preds.append(
                ObjectPred(
                    bbox=[x, y, x + bw, y + bh],
                    score=None if drop_scores else d["score"],
                    label=label,
                    mask=d.get("segmentation") if masks else None,
                )
            )
        pairs.append((s, Prediction(s.sample_id, objects=preds)))
    return pairs


def run_metric(pairs, categories):
    m = DetectionMetric(categories)
    for s, p in pairs:
        m.update(s, p)
    return m


def cats_of(gt):
    return [(c["id"], c["name"]) for c in gt["categories"]]


@pytest.fixture(scope="module")
def bbox_set():
    return random_coco(150, seed=11, dets_per_image=25, crowd_p=0.06)


def test_bbox_stats_equal_pycocotools(bbox_set):
    gt, dets = bbox_set
    assert sum(a["iscrowd"] for a in gt["annotations"]) >= 10 and len(gt["categories"]) >= 10
    got = run_metric(to_pairs(gt, dets), cats_of(gt)).compute()
    want = pycocotools_stats(gt, dets, "bbox")
    assert list(got) == list(STAT_KEYS)
    for k, v in zip(STAT_KEYS, want):
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert 0.05 < got["ap"] < 0.95


def test_segm_stats_equal_pycocotools():
    gt, dets = random_coco(40, seed=3, dets_per_image=12, crowd_p=0.1, with_masks=True)
    assert any(isinstance(a["segmentation"], dict) for a in gt["annotations"])  # crowd RLE present
    got = run_metric(to_pairs(gt, dets, masks=True), cats_of(gt)).compute()
    want_bbox = pycocotools_stats(gt, [{k: v for k, v in d.items() if k != "segmentation"} for d in dets], "bbox")
    want_segm = pycocotools_stats(gt, [{k: v for k, v in d.items() if k != "bbox"} for d in dets], "segm")
    for k, v in zip(STAT_KEYS, want_bbox):
        assert got[k] == pytest.approx(v, abs=1e-12), k
    for k, v in zip(STAT_KEYS, want_segm):
        assert got["segm_" + k] == pytest.approx(v, abs=1e-12), "segm_" + k
    assert got["segm_ap"] != got["ap"]


def test_no_segm_keys_without_predicted_masks(bbox_set):
    gt, dets = bbox_set
    got = run_metric(to_pairs(gt, dets[:50]), cats_of(gt)).compute()
    assert not any(k.startswith("segm_") for k in got)


def test_labels_map_by_normalised_name_and_synonyms():
    m = LabelMapper([(62, "chair"), (63, "couch"), (72, "tv"), (89, "hair drier"), (67, "dining table")])
    assert normalise_label("  Dining_Table ") == "dining table"
    assert [
        m.category_id(x)
        for x in ("Chair", " CHAIR ", '"chair"', "sofa", "TV", "television", "Hair Dryer", "dining-table", "diningtable")
    ] == [62, 62, 62, 63, 72, 72, 89, 67, 67]
    assert [m.category_id(x) for x in ("chairs", "armchair", "", None, "tv set")] == [None] * 5


def test_unmapped_labels_are_counted_listed_and_not_scored(bbox_set):
    gt, dets = bbox_set
    renames = {gt["categories"][0]["name"]: "spaceship", gt["categories"][1]["name"]: gt["categories"][1]["name"].upper() + "  "}
    pairs = to_pairs(gt, dets, label_of=lambda n: renames.get(n, n))
    m = run_metric(pairs, cats_of(gt))
    first = gt["categories"][0]["id"]
    n_first = sum(d["category_id"] == first for d in dets)
    c = m.counts()
    assert c["n_dets_unmapped"] == n_first and c["n_dets"] == len(dets) and c["n_dets_scored"] == len(dets) - n_first
    assert m.details()["unmapped_labels"] == [["spaceship", n_first]]
    assert any("spaceship" in n for n in m.notes())
    # same as pycocotools without those detections (the upper-cased name still maps)
    want = pycocotools_stats(gt, [d for d in dets if d["category_id"] != first], "bbox")
    got = m.compute()
    for k, v in zip(STAT_KEYS, want):
        assert got[k] == pytest.approx(v, abs=1e-12), k


def test_missing_scores_become_one_and_are_flagged(bbox_set):
    gt, dets = bbox_set
    m = run_metric(to_pairs(gt, dets, drop_scores=True), cats_of(gt))
    assert m.details()["scores_provided"] is False
    assert any("ranking is arbitrary" in n for n in m.notes())
    want = pycocotools_stats(gt, [{**d, "score": 1.0} for d in dets], "bbox")
    got = m.compute()
    for k, v in zip(STAT_KEYS, want):
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert run_metric(to_pairs(gt, dets), cats_of(gt)).details()["scores_provided"] is True


def test_undefined_statistics_are_null_and_failures_count_as_misses():
    cats = [(1, "person")]
    s = Sample(
        "7",
        Task.OVD,
        ImageRef("/x.jpg", 100, 100),
        categories=["person"],
        objects=[GroundTruthObject(bbox=[10, 10, 20, 20], category_id=1, area=100.0)],
    )  # small only
    s2 = Sample(
        "8",
        Task.OVD,
        ImageRef("/y.jpg", 100, 100),
        categories=["person"],
        objects=[GroundTruthObject(bbox=[10, 10, 20, 20], category_id=1, area=100.0)],
    )
    m = DetectionMetric(cats)
    m.update(s, Prediction("7", objects=[ObjectPred(bbox=[10, 10, 20, 20], score=0.9, label="person")]))
    m.update(
        s2,
        Prediction("8", objects=[ObjectPred(bbox=[10, 10, 20, 20], score=0.9, label="person")], parse_status=ParseStatus.FAILED),
    )
    got = m.compute()
    assert got["ap_medium"] is None and got["ap_large"] is None and got["ar_large"] is None
    assert got["ar100"] == pytest.approx(0.5) and got["ap_small"] is not None
    assert m.counts()["n_parse_failed"] == 1


def test_no_detections_at_all():
    m = DetectionMetric([(1, "person")])
    s = Sample("1", Task.OVD, ImageRef("/x.jpg", 50, 50), objects=[GroundTruthObject(bbox=[1, 1, 30, 30], category_id=1)])
    m.update(s, Prediction.missing("1"))
    got = m.compute()
    assert got["ap"] == 0.0 and got["ar100"] == 0.0 and m.counts()["n_missing"] == 1


def test_sample_order_does_not_change_ap(bbox_set):
    """COCOeval breaks score ties by image order: records are sorted by sample id before
    it runs, so any order of the same samples gives the same numbers."""
    gt, dets = bbox_set
    pairs = to_pairs(gt, dets)
    whole = run_metric(pairs, cats_of(gt))
    order = np.random.default_rng(5).permutation(len(pairs))
    shuffled = DetectionMetric(cats_of(gt))
    for i in order:
        shuffled.update(*pairs[i])
    assert shuffled.compute() == whole.compute()
    assert shuffled.counts() == whole.counts()
