"""Ref-L4's metrics: `official` equals Ref-L4's own evaluator on the synthetic case (its
returned numbers: tests/fixtures/official_scorers) and a plain recount written here, every
number to 1e-9; the standard protocol's differences on the same case are checked."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from padt_eval.metrics.ref_l4 import CLASS_MERGE, RefL4Metric, official_iou
from tests.metrics.ref_l4_case import REF_L4_CASE, as_xyxy, ref_l4_pairs

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "official_scorers" / "ref_l4_expected.json").read_text())
OFFICIAL_KEYS = {
    "acc@0.5": "Ann-level acc iou 0.5",
    "acc@0.75": "Ann-level acc iou 0.75",
    "acc@0.9": "Ann-level acc iou 0.9",
    "macc": "Ann-level macc iou 0.5:0.95",
    "small_acc@0.5": "Small acc iou 0.5",
    "small_macc": "Small macc iou 0.5:0.95",
    "medium_acc@0.5": "Medium acc iou 0.5",
    "medium_macc": "Medium macc iou 0.5:0.95",
    "large_acc@0.5": "Large acc iou 0.5",
    "large_macc": "Large macc iou 0.5:0.95",
    "cls_acc@0.5": "Average class-level acc iou 0.5",
    "cls_macc": "Average class-level macc iou 0.5:0.95",
}


def _score(protocol):
    m = RefL4Metric(protocol)
    records = [m.update(s, p) for s, p in zip(*ref_l4_pairs())]
    return m, records


def test_official_equals_the_ref_l4_evaluator_every_number():
    m, _ = _score("official")
    ours = m.compute()
    returned = FIXTURE["returned"]
    assert set(OFFICIAL_KEYS.values()) == set(returned)
    for key, theirs in OFFICIAL_KEYS.items():
        assert ours[key] * 100 == pytest.approx(returned[theirs], abs=1e-9), key


def _plain(strict: bool) -> dict[str, float]:
    """The evaluator's arithmetic, recounted without numpy: IoU from exact fractions is not
    float32's, so the IoUs are taken from `official_iou` for the strict rule (a separate
    unit test checks that function) and from plain float64 otherwise."""
    ths = [i / 100 for i in range(50, 100, 5)]
    ious, sizes, classes = [], [], []
    for xywh, cls, box, fmt in REF_L4_CASE.values():
        gt = [xywh[0], xywh[1], xywh[0] + xywh[2], xywh[1] + xywh[3]]
        p = as_xyxy(box, fmt)
        if strict:
            iou = official_iou(p, gt)
        else:
            iw = max(0.0, min(p[2], gt[2]) - max(p[0], gt[0]))
            ih = max(0.0, min(p[3], gt[3]) - max(p[1], gt[1]))
            u = (p[2] - p[0]) * (p[3] - p[1]) + xywh[2] * xywh[3] - iw * ih
            iou = iw * ih / u
        ious.append(iou)
        s = math.sqrt(xywh[2] * xywh[3])
        sizes.append("small" if s < 128 else "medium" if s <= 256 else "large")
        classes.append(CLASS_MERGE.get(cls, cls))

    def acc(vals, t):
        return sum((v > t) if strict else (v >= t) for v in vals) / len(vals)

    out = {f"acc@{t:g}": acc(ious, t) for t in (0.5, 0.75, 0.9)}
    out["macc"] = sum(acc(ious, t) for t in ths) / len(ths)
    for b in ("small", "medium", "large"):
        vals = [v for v, s in zip(ious, sizes) if s == b]
        out[f"{b}_acc@0.5"] = acc(vals, 0.5)
        out[f"{b}_macc"] = sum(acc(vals, t) for t in ths) / len(ths)
    groups = {c: [v for v, k in zip(ious, classes) if k == c] for c in dict.fromkeys(classes)}
    out["cls_acc@0.5"] = sum(acc(v, 0.5) for v in groups.values()) / len(groups)
    out["cls_macc"] = sum(sum(acc(v, t) for v in groups.values()) / len(groups) for t in ths) / len(ths)
    return out


def test_both_protocols_equal_a_plain_recount():
    off, _ = _score("official")
    std, _ = _score("standard")
    want_off = _plain(strict=True)
    assert {k: off.compute()[k] for k in want_off} == pytest.approx(want_off, abs=1e-9)
    assert std.compute() == pytest.approx(_plain(strict=False), abs=1e-9)


def test_official_iou_is_float32_bbox_overlaps():
    import numpy as np

    gt, p = [12.5, 13.5, 162.75, 184.25], [20.0, 13.5, 162.75, 184.25]
    g32, p32 = np.float32(gt), np.float32(p)
    inter = (min(g32[2], p32[2]) - max(g32[0], p32[0])) * (min(g32[3], p32[3]) - max(g32[1], p32[1]))
    union = (g32[2] - g32[0]) * (g32[3] - g32[1]) + (p32[2] - p32[0]) * (p32[3] - p32[1]) - inter
    assert official_iou(p, gt) == float(np.float32(inter / union))
    assert official_iou([5, 5, 5, 5], [5, 5, 5, 5]) == 0.0  # union floored at 1e-6, no division by zero


def test_standard_differs_on_the_boxes_at_exactly_the_threshold():
    _, rec_o = _score("official")
    _, rec_s = _score("standard")
    differ = {r["sample_id"] for r, s in zip(rec_o, rec_s) if r["hit@0.5"] != s["hit@0.5"]}
    assert differ == {"000000", "000016"}  # IoU exactly 0.5: a hit under >=, not under >
    o, s = _score("official")[0].compute(), _score("standard")[0].compute()
    assert s["acc@0.5"] - o["acc@0.5"] == pytest.approx(2 / 18, abs=1e-12)
    assert o["acc@0.5_padt_eval"] == s["acc@0.5"]
