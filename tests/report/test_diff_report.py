"""`padt-eval compare A B [C …] --html`: the diff set, its filter groups, the page, VRT cells.

The expected sets and counts are recomputed here from the runs' per_sample.jsonl with
plain json, independently of `report/diff_set.py`.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.report.diff_draw import RunAnswer, render_diff, vrt_cells
from padt_eval.report.diff_set import build_diff_set, outcome
from padt_eval.report.runs import load_run

runner = CliRunner()
REC_A = "rec-demo_refcoco_val-perturbed_ground_truth"
REC_B = "rec-demo_refcoco_val-perturbed_ground_truth_b"
REC_C = "rec-demo_refcoco_val-designed_errors"
RES_A = "res-demo_refcoco_val-perturbed_ground_truth"
RES_C = "res-demo_refcoco_val-designed_errors"


def _records(run_dir) -> dict[str, dict]:
    lines = (run_dir / "per_sample.jsonl").read_text().splitlines()
    return {str(d["sample_id"]): d for d in map(json.loads, lines)}


def _plain_diff(*dirs) -> list[tuple[str, float]]:
    """(sample id, IoU spread) of the samples where status, IoU or error differ, largest spread first."""
    recs = [_records(d) for d in dirs]
    out = []
    for sid in recs[0]:
        if not all(sid in r for r in recs):
            continue
        keys = {(r[sid]["status"], round(r[sid]["iou"], 9), r[sid].get("error")) for r in recs}
        if len(keys) > 1:
            ious = [r[sid]["iou"] for r in recs]
            out.append((sid, max(ious) - min(ious)))
    return sorted(out, key=lambda x: -x[1])


def _hits(rec: dict) -> bool:
    return rec["hit@0.5"] if "hit@0.5" in rec else rec["iou"] >= 0.5


@pytest.mark.parametrize("names", [(REC_A, REC_B), (REC_A, REC_C), (RES_A, RES_C), (REC_A, REC_B, REC_C)])
def test_diff_set_equals_a_plain_recomputation_from_per_sample(demo_results, names):
    dirs = [demo_results[n] for n in names]
    ds = build_diff_set([load_run(d) for d in dirs])
    expected = _plain_diff(*dirs)
    assert len(expected) > 3  # the demo's runs do differ
    assert [s.sample_id for s in ds.samples] == [sid for sid, _ in expected]
    assert [s.spread for s in ds.samples] == pytest.approx([d for _, d in expected])
    assert ds.n_shared == len(_records(dirs[0]))


def test_filter_counts_equal_a_plain_recomputation(demo_results):
    a, c = demo_results[REC_A], demo_results[REC_B]
    ds = build_diff_set([load_run(a), load_run(c)])
    ra, rc = _records(a), _records(c)
    ids = [sid for sid, _ in _plain_diff(a, c)]
    want = {
        "only:0": sum(_hits(ra[s]) and not _hits(rc[s]) for s in ids),
        "only:1": sum(_hits(rc[s]) and not _hits(ra[s]) for s in ids),
        "none": sum(not _hits(ra[s]) and not _hits(rc[s]) for s in ids),
        "all": sum(_hits(ra[s]) and _hits(rc[s]) for s in ids),
    }
    for cat in {r["error"] for r in [*ra.values(), *rc.values()]} - {"hit"}:
        n = sum(cat in (ra[s]["error"], rc[s]["error"]) for s in ids)
        if n:
            want[f"error:{cat}"] = n
    got = {k: v for k, v in ds.group_counts.items() if v or not k.startswith("error:")}
    assert got == want
    assert want["only:0"] > 0 and want["only:1"] > 0 and want["none"] > 0  # each filter has something to show


def test_compare_html_writes_a_self_contained_page_with_the_counts(demo_results, tmp_path):
    a, c = demo_results[REC_A], demo_results[REC_C]
    out = tmp_path / "diff.html"
    r = runner.invoke(app, ["compare", str(a), str(c), "--resamples", "300", "-o", str(tmp_path / "c.json"), "--html", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "c.json").read_text())["n_shared"] > 0  # the comparison is still written
    page = out.read_text()
    ds = build_diff_set([load_run(a), load_run(c)])
    buttons = dict(re.findall(r'data-filter="([^"]+)" data-count="(\d+)"', page))
    assert buttons.pop("*") == str(len(ds.samples))
    assert {k: int(v) for k, v in buttons.items()} == ds.group_counts
    assert 'data-table="paired-B"' in page and "McNemar exact" in page
    # nothing is fetched: no URL in any src/href, no stylesheet or script file
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page
    payload = re.search(r'<script type="application/json" id="diff-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in payload  # a model's "</script>" cannot end the data early
    data = json.loads(payload)
    assert [s["id"] for s in data["samples"]] == [s.sample_id for s in ds.samples]
    assert all(x.startswith("data:image/jpeg;base64,") for x in data["images"]) and data["images"]


def test_three_runs_and_out_needs_two(demo_results, tmp_path):
    dirs = [str(demo_results[n]) for n in (REC_A, REC_B, REC_C)]
    r = runner.invoke(app, ["compare", *dirs, "--resamples", "200", "-o", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "--out" in r.output
    r = runner.invoke(app, ["compare", *dirs, "--resamples", "200", "--html", str(tmp_path / "d.html")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "d.html").read_text()
    assert 'data-table="paired-B"' in page and 'data-table="paired-C"' in page
    assert page.count('<span class="sw"') >= 3 + 3  # legend and runs table: A, B, C


def test_ovd_runs_get_a_page_without_paired_statistics(demo_results, tmp_path):
    a = demo_results["ovd-coco_val2017-perturbed_ground_truth"]
    b = demo_results["ovd-coco_val2017-perturbed_ground_truth-padt_release"]
    r = runner.invoke(app, ["compare", str(a), str(b)])
    assert r.exit_code == 2  # as before: COCO AP does not decompose per sample
    r = runner.invoke(app, ["compare", str(a), str(b), "--html", str(tmp_path / "ovd.html")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "ovd.html").read_text()
    assert "no paired statistics for" in page and "detection F1" in page


def test_outcome_scores_of_ric_and_ovd_records():
    ric = outcome({"sample_id": "1", "status": "ok", "n_pred": 3, "n_gt": 4, "n_matched": 2}, "x")
    assert ric.score == pytest.approx(2 * 2 / 7) and ric.hit  # F1 4/7 >= 0.5
    # 4 detections, one a duplicate and one background: 2 true positives of 3 GT
    ovd = outcome(
        {"sample_id": "2", "status": "ok", "n_gt": 3, "n_det": 4, "errors": {"duplicate": 1, "background": 1, "missed": 1}}, "x"
    )
    assert ovd.score == pytest.approx(2 * 2 / 7) and ovd.errors == ("background", "duplicate", "missed")
    assert outcome({"sample_id": "3", "status": "ok", "n_gt": 0, "n_det": 0}, "x").score == 1.0


def test_vrt_cells_are_the_patches_of_the_merged_grid():
    # 2 rows x 3 columns over a 300 x 200 image: index 4 is row 1, column 1; 6 is outside
    assert vrt_cells([4, 4, 6], [2, 3], 300, 200) == [(100.0, 100.0, 200.0, 200.0)]
    from PIL import Image

    white = Image.new("RGB", (300, 200), (255, 255, 255))
    uri = render_diff(white, 300, 200, [], [RunAnswer("#1f5fd6", vrt_cells=vrt_cells([0], [2, 3], 300, 200))])
    import base64
    import io

    px = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")).astype(int)
    inside, outside = px[50, 50], px[150, 250]
    assert inside[2] > inside[0] + 40  # tinted blue where the VRT points
    assert (outside > 240).all()  # untouched elsewhere


def test_ric_runs_diff_on_grounding_f1(demo_results, tmp_path):
    """A second RIC run (every other caption's grounded objects dropped) against the demo's."""
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions

    a = demo_results["ric-ric_val-perturbed_ground_truth"]
    root = a.parent.parent
    lines = (root / "predictions" / "ric_perturbed_ground_truth.jsonl").read_text().splitlines()
    fewer = [json.loads(x) for x in lines]
    for d in fewer[::2]:
        d["objects"] = []
    (tmp_path / "fewer.jsonl").write_text("".join(json.dumps(d) + "\n" for d in fewer))
    b = api.score(
        Task.RIC,
        "ric_val",
        PredictionsOptions(tmp_path / "fewer.jsonl"),
        data=DataOptions(data_root=root / "data"),
        output=OutputOptions(tmp_path / "ric-fewer", "fewer objects", report=False),
    ).out_dir
    ra, rb = _records(a), _records(b)

    def f1(r):
        return 1.0 if r["n_pred"] + r["n_gt"] == 0 else 2 * r["n_matched"] / (r["n_pred"] + r["n_gt"])

    want = [s for s in ra if (ra[s]["status"], round(f1(ra[s]), 9)) != (rb[s]["status"], round(f1(rb[s]), 9))]
    ds = build_diff_set([load_run(a), load_run(b)])
    assert want and sorted(s.sample_id for s in ds.samples) == sorted(want)
    r = runner.invoke(
        app,
        ["compare", str(a), str(b), "--resamples", "200", "-o", str(tmp_path / "c.json"), "--html", str(tmp_path / "ric.html")],
    )
    assert r.exit_code == 0, r.output
    page = (tmp_path / "ric.html").read_text()
    assert "grounding F1" in page and 'data-table="paired-B"' in page and ">gp<" in page


def test_runs_of_different_tasks_are_refused(demo_results, tmp_path):
    r = runner.invoke(app, ["compare", str(demo_results[REC_A]), str(demo_results[RES_A]), "--html", str(tmp_path / "x.html")])
    assert r.exit_code == 2 and "cannot compare a rec run with a res run" in r.output
    assert not (tmp_path / "x.html").exists()


def test_a_missing_predictions_file_draws_the_records_box_and_says_so(demo_results, tmp_path):
    import shutil

    from padt_eval.report.diff_report import build_diff_report

    b = tmp_path / "b"
    shutil.copytree(demo_results[REC_B], b)
    doc = json.loads((b / "metrics.json").read_text())
    doc["predictions"]["file"] = str(tmp_path / "gone.jsonl")
    (b / "metrics.json").write_text(json.dumps(doc))
    page = build_diff_report([demo_results[REC_A], b], [])
    assert "run B: predictions file" in page and "is not on this machine" in page
    payload = re.search(r'id="diff-data">(.*?)</script>', page, re.S).group(1)
    rb = _records(b)
    for s in json.loads(payload)["samples"]:
        box = rb[s["id"]].get("pred_bbox")
        assert s["b"][1] == ([[round(v, 1) for v in box]] if box else []) and s["t"][1] is None
