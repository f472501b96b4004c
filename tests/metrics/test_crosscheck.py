"""REC and RES metrics against an independent plain-numpy computation on random data."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.core import rle
from padt_eval.core.types import ObjectPred, ParseStatus, Task
from padt_eval.metrics.rec import RecMetric
from padt_eval.metrics.res import ResMetric
from tests.helpers import prediction, random_box, random_mask, sample

N = 240


def numpy_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised IoU over rows of (x1, y1, x2, y2); reversed extents have zero area."""
    area = lambda r: np.clip(r[:, 2] - r[:, 0], 0, None) * np.clip(r[:, 3] - r[:, 1], 0, None)  # noqa: E731
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@pytest.fixture(scope="module")
def random_pairs():
    rng = np.random.default_rng(1234)
    pairs = []
    for i in range(N):
        h, w = int(rng.integers(5, 90)), int(rng.integers(5, 120))
        gt_mask = random_mask(rng, h, w)
        # ground truth is an ordinary box inside the image; predictions get the odd ones
        gx1, gx2 = sorted(rng.uniform(0, w, 2))
        gy1, gy2 = sorted(rng.uniform(0, h, 2))
        gt_box = [float(gx1), float(gy1), float(gx2), float(gy2)]
        s = sample(str(i), h, w, gt_box, gt_mask)
        r = rng.random()
        if r < 0.06:
            p = prediction(str(i), status=ParseStatus.MISSING)
        elif r < 0.10:
            p = prediction(str(i), status=ParseStatus.FAILED)
        elif r < 0.14:
            p = prediction(str(i))  # answered, no object
        else:
            pm = gt_mask if rng.random() < 0.2 else random_mask(rng, h, w, empty_p=0.1)
            box = gt_box if rng.random() < 0.2 else random_box(rng, h, w)
            mask = rle.encode(pm) if rng.random() > 0.05 else None  # some predictions carry no mask
            p = prediction(str(i), [ObjectPred(bbox=box, mask=mask)])
        pairs.append((s, p, gt_mask))
    return pairs


def test_rec_matches_numpy(random_pairs):
    metric = RecMetric()
    records = [metric.update(s, p) for s, p, _ in random_pairs]
    gt = np.array([s.objects[0].bbox for s, _, _ in random_pairs])
    answered = np.array([p.parse_status == ParseStatus.OK and bool(p.objects) for _, p, _ in random_pairs])
    pred = np.array([p.objects[0].bbox if ok else [0, 0, 0, 0] for (_, p, _), ok in zip(random_pairs, answered)], float)
    ious = np.where(answered, numpy_box_iou(pred, gt), 0.0)
    np.testing.assert_allclose([r["iou"] for r in records], ious, rtol=0, atol=1e-12)
    got = metric.compute()
    assert got["acc@0.5"] == pytest.approx(float((ious >= 0.5).mean()), abs=0)
    assert got["acc@0.75"] == pytest.approx(float((ious >= 0.75).mean()), abs=0)
    assert got["acc@0.9"] == pytest.approx(float((ious >= 0.9).mean()), abs=0)
    assert got["mean_iou"] == pytest.approx(float(ious.mean()), abs=1e-12)
    # the random data really exercises the edge cases
    widths = pred[:, 2] - pred[:, 0]
    assert (widths < 0).any() and (widths == 0).any() and (pred[:, 0] > 100).any()
    assert 0 < got["acc@0.5"] < 1


def test_res_matches_numpy(random_pairs):
    metric = ResMetric()
    records = [metric.update(s, p) for s, p, _ in random_pairs]
    inters, unions = [], []
    for _s, p, gt_mask in random_pairs:
        obj = p.objects[0] if p.parse_status == ParseStatus.OK and p.objects else None
        pm = rle.decode(obj.mask).astype(bool) if obj is not None and obj.mask is not None else np.zeros_like(gt_mask)
        inters.append(int(np.logical_and(pm, gt_mask).sum()))
        unions.append(int(np.logical_or(pm, gt_mask).sum()))
    inters, unions = np.array(inters), np.array(unions)
    assert [r["intersection"] for r in records] == inters.tolist()
    assert [r["union"] for r in records] == unions.tolist()
    per_sample = np.where(unions > 0, inters / np.maximum(unions, 1), 0.0)
    got = metric.compute()
    assert got["miou"] == pytest.approx(float(per_sample.mean()), abs=1e-12)
    assert got["ciou"] == pytest.approx(float(inters.sum() / unions.sum()), abs=1e-15)
    assert (unions == 0).any(), "the data should include an empty GT with an empty prediction"
    assert got["miou"] != got["ciou"]


@pytest.mark.parametrize("metric_cls", [RecMetric, ResMetric])
def test_sample_order_does_not_change_a_bit(random_pairs, metric_cls):
    """The mean IoU is rounded once from the exact sum: any order of the same samples
    gives bit-identical numbers (a plain running sum would differ in the last bits)."""
    whole = metric_cls()
    for s, p, _ in random_pairs:
        whole.update(s, p)
    rng = np.random.default_rng(7)
    for _ in range(3):
        shuffled = metric_cls()
        for i in rng.permutation(len(random_pairs)):
            s, p, _ = random_pairs[i]
            shuffled.update(s, p)
        assert shuffled.compute() == whole.compute()
        assert shuffled.counts() == whole.counts()


def test_rle_area_beyond_pycocotools_uint8_limit():
    rng = np.random.default_rng(0)
    masks = [random_mask(rng, 20, 30) for _ in range(600)]
    got = rle.areas([rle.to_cocotools(rle.encode(m)) for m in masks])
    assert got.tolist() == [int(m.sum()) for m in masks]


def test_mask_of_wrong_size_scores_as_no_mask():
    gt = np.zeros((10, 10), bool)
    gt[2:6, 2:6] = True
    s = sample("0", 10, 10, [2, 2, 6, 6], gt, Task.RES)
    p = prediction("0", [ObjectPred(bbox=[2, 2, 6, 6], mask=rle.encode(np.ones((10, 12), bool)))])
    m = ResMetric()
    rec = m.update(s, p)
    assert rec["iou"] == 0.0 and rec["union"] == 16
    assert "differs from ground truth size" in rec["reason"]
    assert m.counts()["n_mask_size_mismatch"] == 1
