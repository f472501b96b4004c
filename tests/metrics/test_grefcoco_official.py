"""Peer check: `--protocol official` of GREC and GRES equals gRefCOCO's and ReLA's own
scorers on the synthetic case (their printed numbers: tests/fixtures/official_scorers), and
equals a plain reimplementation of those scorers' loops written here, every number to 1e-9.
The standard protocol's differences on the same case are listed and checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from padt_eval.metrics.grec import GrecMetric, generalized_iou
from padt_eval.metrics.gres import GresMetric
from tests.metrics.grefcoco_case import GREC_CASE, GRES_CASE, grec_pairs, gres_pairs, rect_mask

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "official_scorers" / "grefcoco_expected.json").read_text())


def _score(metric, pairs):
    for s, p in zip(*pairs):
        metric.update(s, p)
    return metric.compute()


# -- plain reimplementations of the official loops (written from reading them) -------------


def _plain_giou(a, b):
    area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = area_a + area_b - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union - (hull - union) / hull


def plain_official_grec():
    correct = n = 0
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for gt_xywh, boxes in GREC_CASE.values():
        ranked = sorted(((float(np.float32(s)), b) for s, b in boxes), reverse=True)
        kept = [b for s, b in ranked if s >= 0.7]
        if not gt_xywh:
            nt["FN" if kept else "TP"] += 1
            f1 = 0.0 if kept else 1.0
        else:
            nt["TN" if kept else "FP"] += 1
            gt = [[x, y, x + w, y + h] for x, y, w, h in gt_xywh]
            g = np.array([[_plain_giou(b, t) for t in gt] for b in kept]).reshape(len(kept), len(gt))
            tp = 0
            for _ in range(min(len(kept), len(gt))):
                i, j = np.unravel_index(int(np.argmax(g)), g.shape)
                if g[i, j] < 0.5:
                    break
                tp += 1
                g[i, :] = 0.0
                g[:, j] = 0.0
            fp, fn = len(kept) - tp, len(gt) - tp
            f1 = 2 * tp / (2 * tp + fp + fn)
        correct += f1 >= 1.0
        n += 1
    return {"pr_f1": correct / n, "t_acc": nt["TN"] / (nt["TN"] + nt["FP"]), "n_acc": nt["TP"] / (nt["TP"] + nt["FN"])}


def plain_official_gres():
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    acc_iou = acc_i = acc_u = 0.0
    pr = {0.7: 0, 0.8: 0, 0.9: 0}
    n_t = n = 0
    for gt_rects, objs in GRES_CASE.values():
        pred, gt = rect_mask([r for o in objs for r in o]).astype(bool), rect_mask(gt_rects).astype(bool)
        i, u = int((pred & gt).sum()), int((pred | gt).sum())
        pred_nt = not objs
        if not gt_rects:
            if pred_nt:
                nt["TP"] += 1
                acc_iou += 1
            else:
                nt["FN"] += 1
                acc_u += u
        else:
            if pred_nt:
                nt["FP"] += 1
                i = 0
            else:
                nt["TN"] += 1
            iou = i / u if u else 0.0
            acc_iou, acc_i, acc_u = acc_iou + iou, acc_i + i, acc_u + u
            n_t += 1
            for t in pr:
                pr[t] += iou >= t
        n += 1
    tp, fn, tn, fp = nt["TP"], nt["FN"], nt["TN"], nt["FP"]
    return {
        "giou": acc_iou / n,
        "ciou": acc_i / acc_u,
        **{f"pr@{t:g}": c / n_t for t, c in pr.items()},
        "t_acc": tn / (tn + fp),
        "n_acc": tp / (tp + fn),
        "t_acc_initial_commit": tp / (tp + fp + 1),
        "n_acc_initial_commit": tp / (tp + fn + 1),
    }


# -- the checks -----------------------------------------------------------------------------


def test_grec_official_equals_grefcoco_scorer_every_number():
    ours = _score(GrecMetric("official"), grec_pairs())
    printed = FIXTURE["grec"]["printed"]
    assert set(ours) == {"pr_f1", "n_acc", "t_acc"}
    assert ours["pr_f1"] == pytest.approx(printed["F1_score"], abs=1e-9)
    assert ours["n_acc"] == pytest.approx(printed["N_acc"], abs=1e-9)
    assert ours["t_acc"] == pytest.approx(printed["T_acc"], abs=1e-9)
    assert ours == pytest.approx(plain_official_grec(), abs=1e-9)


def test_gres_official_equals_rela_scorer_both_commits_every_number():
    ours = _score(GresMetric("official"), gres_pairs())
    fixed, initial = FIXTURE["gres"]["returned"], FIXTURE["gres_initial_commit"]["returned"]
    want = {
        "giou": fixed["gIoU"] / 100,
        "ciou": fixed["cIoU"] / 100,
        **{f"pr@{t}": fixed[f"Pr@{t}"] / 100 for t in ("0.7", "0.8", "0.9")},
        "t_acc": fixed["T_acc"],
        "n_acc": fixed["N_acc"],
        "t_acc_initial_commit": initial["T_acc"],
        "n_acc_initial_commit": initial["N_acc"],
    }
    assert set(ours) == set(want)
    for k, v in want.items():
        assert ours[k] == pytest.approx(v, abs=1e-9), k
    # the initial commit agrees with the fixed one on everything but the two ratios
    assert {k: v for k, v in initial.items() if "acc" not in k} == {k: v for k, v in fixed.items() if "acc" not in k}
    assert ours == pytest.approx(plain_official_gres(), abs=1e-9)


def test_grec_standard_differs_from_official_only_on_the_two_traps():
    official, standard = GrecMetric("official"), GrecMetric("standard")
    samples, preds = grec_pairs()
    rec_o = {s.sample_id: official.update(s, p) for s, p in zip(samples, preds)}
    rec_s = {s.sample_id: standard.update(s, p) for s, p in zip(samples, preds)}
    differ = {sid for sid in rec_o if rec_o[sid]["correct"] != rec_s[sid]["correct"]}
    # IoU passes where GIoU does not; the maximum matching finds the pairs greedy misses;
    # 0.7 is kept when compared as given, dropped as float32
    assert differ == {"giou_trap", "greedy_trap", "score_at_threshold"}
    assert all(rec_s[sid]["correct"] and not rec_o[sid]["correct"] for sid in differ)
    b, g = GREC_CASE["giou_trap"][1][0][1], [10, 10, 30, 30]
    assert generalized_iou(b, g) < 0.5 <= rec_s["giou_trap"]["tp"]  # a match under IoU only
    o, s = official.compute(), standard.compute()
    assert s["pr_f1"] - o["pr_f1"] == pytest.approx(3 / 12, abs=1e-12)
    assert s["t_acc"] - o["t_acc"] == pytest.approx(1 / 9, abs=1e-12)  # score_at_threshold keeps its box
    assert s["n_acc"] == o["n_acc"]


def test_gres_standard_differs_from_official_only_in_what_it_adds():
    o = _score(GresMetric("official"), gres_pairs())
    s = _score(GresMetric("standard"), gres_pairs())
    shared = set(o) & set(s)
    assert shared == {"giou", "ciou", "pr@0.7", "pr@0.8", "pr@0.9", "n_acc", "t_acc"}
    assert all(o[k] == s[k] for k in shared)
    assert set(s) - shared == {"miou_target"}
    target_ious = [1.0, 0.8, 30 / 36, 0.7, 0.0, 0.5, 0.5]
    assert s["miou_target"] == pytest.approx(sum(target_ious) / len(target_ious), abs=1e-12)


def test_undefined_ratios_official_reports_zero_standard_leaves_out():
    samples, preds = gres_pairs()
    targets_only = [(a, b) for a, b in zip(samples, preds) if a.objects]
    o = _score(GresMetric("official"), list(zip(*targets_only)))
    s = GresMetric("standard")
    v = _score(s, list(zip(*targets_only)))
    assert o["n_acc"] == 0 and o["t_acc"] == 0  # ReLA: "T_acc = N_acc = 0" without no-target samples
    assert "n_acc" not in v and "t_acc" in v and any("N-acc is undefined" in n for n in s.notes())
