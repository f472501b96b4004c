"""ReasonSeg: `--protocol official` equals LISA's evaluation, re-done here in plain numpy.

The peer below follows dvlab-research/LISA@3cb2d43 as written: `train_ds.py::validate`
(per image: the first [SEG] mask against the first query's label map; acc_iou =
I/(U+1e-5), +1 where U == 0; AverageMeter sums, all-reduced average sum/(count+1e-5);
cIoU = ΣI/(ΣU+1e-10), both taken at class 1) with `utils/utils.py::intersectionAndUnionGPU`
(K=2, ignore_index=255: prediction pixels under 255 become 255; torch.histc over [0, 1]
counts classes 0 and 1 only). It works on dense label maps painted from the JSON files as
`utils/data_processing.py::get_mask_from_json` paints them, not on the RLE the metric uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from padt_eval.core import rle as rlemod
from padt_eval.core.types import ObjectPred, ParseStatus, Prediction, Task
from padt_eval.data.readers.polygon_fill import fill_polygon
from padt_eval.data.readers.reasonseg import ReasonSegReader
from padt_eval.demo.seg_benchmarks import write_reasonseg
from padt_eval.demo.synthetic import make_world
from padt_eval.metrics.reasonseg import ReasonSegMetric


def lisa_label_map(json_path: Path, h: int, w: int) -> np.ndarray:
    anno = json.loads(json_path.read_text())
    shapes = [s for s in anno["shapes"] if s["label"].lower() != "flag"]
    areas = [fill_polygon(s["points"], h, w).sum() for s in shapes]
    out = np.zeros((h, w), np.uint8)
    for i in list(np.argsort(areas)[::-1].astype(np.int32)):
        s = shapes[i]
        out[fill_polygon(s["points"], h, w)] = 255 if "ignore" in s["label"].lower() else 1
    return out


def intersection_and_union(output: np.ndarray, target: np.ndarray, k: int = 2, ignore_index: int = 255):
    output, target = output.reshape(-1).copy(), target.reshape(-1)
    output[target == ignore_index] = ignore_index
    inter = output[output == target]

    def histc(v):  # torch.histc(v, bins=k, min=0, max=k-1) for integer labels
        v = v[(v >= 0) & (v <= k - 1)]
        return np.bincount(v.astype(np.int64), minlength=k)[:k].astype(np.float64)

    a_i, a_o, a_t = histc(inter), histc(output), histc(target)
    return a_i, a_o + a_t - a_i, a_t


def lisa_validate(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """items: (first predicted mask as 0/1, label map) per image, as validate() sees them."""
    i_sum, u_sum, acc_sum, count = np.zeros(2), np.zeros(2), np.zeros(2), 0
    for pred, labels in items:
        inter, union, _ = intersection_and_union(pred.astype(np.int64), labels.astype(np.int64))
        acc = inter / (union + 1e-5)
        acc[union == 0] += 1.0
        i_sum, u_sum, acc_sum, count = i_sum + inter, u_sum + union, acc_sum + acc * 1, count + 1
    giou = (acc_sum / (count + 1e-5))[1]
    ciou = (i_sum / (u_sum + 1e-10))[1]
    return float(giou), float(ciou)


@pytest.fixture
def case(tmp_path):
    return build_case(tmp_path)


def build_case(tmp_path: Path):
    """A split with ignore regions, flags, a second query, an image whose only shape is
    "ignore" (no target pixel), and answers of every kind."""
    folder = tmp_path / "val"
    world = make_world(9, seed=7)
    write_reasonseg(world, folder)
    last = folder / f"{Path(world[-1].file_name).stem}.json"
    anno = json.loads(last.read_text())
    anno["shapes"] = [dict(anno["shapes"][0], label="Ignore")]  # LISA issue 157: nothing to find
    last.write_text(json.dumps(anno))
    reader = ReasonSegReader(folder, Task.RES)
    rng = np.random.default_rng(1)
    preds = []
    for k, s in enumerate(reader):
        gt = rlemod.decode(s.objects[0].mask).astype(bool)
        kind = k % 5
        if kind == 0:  # the target itself
            masks = [gt]
        elif kind == 1:  # the whole image: covers the ignore region too
            masks = [np.ones_like(gt)]
        elif kind == 2:  # a random blob first, the target second: official scores the first
            masks = [rng.random(gt.shape) < 0.3, gt]
        elif kind == 3:
            masks = []
        else:
            masks = [np.roll(gt, 4, axis=0)]
        if s.meta.get("empty_target"):
            masks = []  # the correct answer to an empty target
        objs = [ObjectPred(bbox=[0, 0, 1, 1], mask=rlemod.encode(m), score=None) for m in masks]
        preds.append(Prediction(s.sample_id, objects=objs, parse_status=ParseStatus.OK))
    return folder, reader, preds


def _score(reader, preds, protocol):
    metric = ReasonSegMetric(protocol)
    for s, p in zip(reader, preds):
        metric.update(s, p)
    return metric


def test_official_equals_lisa_validate(case):
    folder, reader, preds = case
    items = []
    for s, p in zip(reader, preds):
        if s.meta["query_index"] != 0:
            continue  # LISA keeps text[0] only
        h, w = s.image.height, s.image.width
        first = rlemod.decode(p.objects[0].mask) if p.objects else np.zeros((h, w), np.uint8)
        items.append((first, lisa_label_map(folder / s.meta["annotation"], h, w)))
    giou, ciou = lisa_validate(items)
    got = _score(reader, preds, "official").compute()
    assert got["giou"] == pytest.approx(giou, abs=1e-9)
    assert got["ciou"] == pytest.approx(ciou, abs=1e-9)
    assert 0.2 < giou < 0.95  # the case exercises hits and misses, not a degenerate score


def test_standard_differs_where_documented(case):
    _folder, reader, preds = case
    official = _score(reader, preds, "official")
    standard = _score(reader, preds, "standard")
    # every query is scored under standard; official scores the first of each image
    assert standard.counts()["n_samples"] == len(reader)
    assert official.counts()["n_not_scored"] == sum(1 for s in reader if s.meta["query_index"])
    # the empty-target image answered with nothing: IoU 1 officially, 0 under standard
    rec_o = [official.update(s, p) for s, p in zip(reader, preds) if s.meta["empty_target"]]
    rec_s = [standard.update(s, p) for s, p in zip(reader, preds) if s.meta["empty_target"]]
    assert [r["iou"] for r in rec_o] == [1.0] and [r["iou"] for r in rec_s] == [0.0]
    # where the official first mask is a blob, standard's answer rule (no scores: the first) agrees;
    # ignore pixels are left out by both: the whole-image answer has the same union either way
    s1, p1 = next((s, p) for k, (s, p) in enumerate(zip(reader, preds)) if k % 5 == 1 and s.meta["ignore_mask"])
    assert ReasonSegMetric("official").update(s1, p1)["union"] == ReasonSegMetric("standard").update(s1, p1)["union"]
    assert official.compute()["giou"] != standard.compute()["miou"]


def test_ignore_pixels_leave_the_union(case):
    _folder, reader, preds = case
    s = next(s for s in reader if s.meta["ignore_mask"])
    h, w = s.image.height, s.image.width
    whole = Prediction(s.sample_id, objects=[ObjectPred(mask=rlemod.encode(np.ones((h, w), bool)))])
    rec = ReasonSegMetric("standard").update(s, whole)
    ignored = int(rlemod.decode(s.meta["ignore_mask"]).sum())
    assert rec["union"] == h * w - ignored and rec["intersection"] == int(rlemod.decode(s.objects[0].mask).sum())


def test_standard_records_recompute_under_res_declaration(case):
    """`compare` reads a standard ReasonSeg run with RES's declared estimators (the catalogue's
    (res, standard)): its records must give the numbers the metric reported."""
    from padt_eval.metrics.catalogue import declared_estimators
    from padt_eval.metrics.estimators import estimate_records

    _folder, reader, preds = case
    metric = ReasonSegMetric("standard")
    records = [metric.update(s, p) for s, p in zip(reader, preds)]
    again = estimate_records(declared_estimators("res", "standard"), records)
    assert again == pytest.approx(metric.compute(), rel=1e-12) and set(again) == {"miou", "ciou"}
