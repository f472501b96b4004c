"""The error breakdown end to end on the demo data: results, layouts, CLI, compare, leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from padt_eval import api
from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.demo.data import make_predictions
from padt_eval.demo.errors import make_error_predictions
from padt_eval.demo.run import DEMO_SPLIT_NAME, DemoPaths, generate
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions, ScoringOptions

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("errdemo")
    paths = DemoPaths(root)
    val, world = generate(paths, n_images=12, seed=4)
    expected = make_error_predictions(world, root / "designed.jsonl", seed=4)
    return paths, val, world, expected


def _per_sample(run_dir):
    return [json.loads(line) for line in (run_dir / "per_sample.jsonl").read_text().splitlines()]


def _jsonl_reader(paths, task, **kw):
    return PadtRefcocoJsonlReader(paths.rec_split, paths.images, task, name=DEMO_SPLIT_NAME, **kw)


def test_designed_predictions_hold_what_they_were_built_to(demo):
    *_, exp = demo
    assert exp.designed["wrong_object"] > 0 and exp.designed["localization"] > 0
    assert exp.rec == exp.res == {**exp.designed, "near_other": 0}


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
@pytest.mark.parametrize("layout", ["padt-jsonl", "refer"])
def test_demo_run_reports_exactly_the_designed_counts(demo, tmp_path, task, layout):
    paths, _, _, exp = demo
    want = exp.rec if task == Task.REC else exp.res
    designed, kw = PredictionsOptions(paths.root / "designed.jsonl"), dict(output=OutputOptions(tmp_path / "run", report=False))
    if layout == "refer":
        result = api.score(task, "refcoco_val", designed, data=DataOptions(data_root=paths.data, layout="refer"), **kw)
    else:
        result = api.score(task, DEMO_SPLIT_NAME, designed, reader=_jsonl_reader(paths, task), **kw)
    errors = json.loads((result.out_dir / "metrics.json").read_text())["errors"]
    assert errors["counts"] == want
    assert errors["wrong_object_available"] is True
    assert errors["instances"]["file"].endswith("instances.json" if layout == "refer" else "instances_train2014.json")
    assert errors["iou"] == ("box" if task == Task.REC else "mask")
    records = _per_sample(result.out_dir)
    assert {c: sum(r["error"] == c for r in records) for c in want} == want
    # the headline numbers are the designed predictions' own, computed independently
    expected_metrics = exp.rec_metrics if task == Task.REC else exp.res_metrics
    assert result.metrics == pytest.approx(expected_metrics, abs=1e-9)


def test_jsonl_layout_without_instances_says_so_and_never_guesses(demo, tmp_path):
    paths, _, _, exp = demo
    missing = tmp_path / "nowhere" / "instances_train2014.json"
    designed = PredictionsOptions(paths.root / "designed.jsonl")
    with_inst = api.score(
        Task.REC,
        DEMO_SPLIT_NAME,
        designed,
        reader=_jsonl_reader(paths, Task.REC),
        output=OutputOptions(tmp_path / "with", report=False),
    )
    without = api.score(
        Task.REC,
        DEMO_SPLIT_NAME,
        designed,
        reader=_jsonl_reader(paths, Task.REC, instances_path=missing),
        output=OutputOptions(tmp_path / "without", report=False),
    )
    e = without.errors
    assert e["wrong_object_available"] is False and e["instances"]["available"] is False
    assert "instances_train2014.json" in e["instances"]["why"]
    assert e["shares"]["wrong_object"] is None and e["counts"]["wrong_object"] == 0
    assert any("not computed" in n for n in e["notes"])
    # the headline is untouched; the designed wrong objects fall to localization/background by target IoU
    assert without.metrics == with_inst.metrics
    for c in ("hit", "no_object", "unparsed"):
        assert e["counts"][c] == exp.rec[c]
    assert (
        e["counts"]["localization"] + e["counts"]["background"]
        == exp.rec["localization"] + exp.rec["background"] + exp.rec["wrong_object"]
    )


def test_release_protocol_has_no_breakdown(demo, tmp_path):
    paths, *_ = demo
    r = api.score(
        Task.REC,
        DEMO_SPLIT_NAME,
        PredictionsOptions(paths.root / "designed.jsonl"),
        reader=_jsonl_reader(paths, Task.REC),
        scoring=ScoringOptions("padt-release"),
        output=OutputOptions(tmp_path / "rel", report=False),
    )
    assert r.errors is None and "errors" not in json.loads((r.out_dir / "metrics.json").read_text())


def test_cli_thresholds_reach_the_results_and_bad_ones_are_refused(demo, tmp_path):
    paths, *_ = demo
    split = str(paths.rec_split)
    out = tmp_path / "cli"
    res = runner.invoke(
        app,
        [
            "rec",
            "-s",
            split,
            "-p",
            str(paths.root / "designed.jsonl"),
            "--image-root",
            str(paths.images),
            "-o",
            str(out),
            "--error-iou",
            "0.3",
            "--background-iou",
            "0.05",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "misses (box" in res.output
    errors = json.loads((out / "metrics.json").read_text())["errors"]
    assert errors["thresholds"] == {"foreground": 0.3, "background": 0.05}
    records = _per_sample(out)
    ious = np.array([r["iou"] for r in records if r["error"] not in ("unparsed", "no_object")])
    assert errors["counts"]["hit"] == int((ious >= 0.3).sum())
    bad = runner.invoke(
        app,
        [
            "rec",
            "-s",
            split,
            "-p",
            str(paths.root / "designed.jsonl"),
            "--image-root",
            str(paths.images),
            "-o",
            str(tmp_path / "bad"),
            "--error-iou",
            "0.1",
            "--background-iou",
            "0.2",
        ],
    )
    assert bad.exit_code == 2 and "background" in bad.output


def test_compare_gives_each_category_share_difference(demo, tmp_path):
    paths, _, _, _ = demo
    reader = _jsonl_reader(paths, Task.RES)
    make_predictions(reader, tmp_path / "perturbed.jsonl", seed=0)
    runs = {}
    for name, preds in (("a", tmp_path / "perturbed.jsonl"), ("b", paths.root / "designed.jsonl")):
        runs[name] = api.score(
            Task.RES,
            DEMO_SPLIT_NAME,
            PredictionsOptions(preds),
            reader=_jsonl_reader(paths, Task.RES),
            output=OutputOptions(tmp_path / name, report=False),
        ).out_dir
    res = runner.invoke(
        app, ["compare", str(runs["a"]), str(runs["b"]), "--resamples", "400", "--seed", "1", "-o", str(tmp_path / "c.json")]
    )
    assert res.exit_code == 0, res.output
    assert "Miss categories (mask IoU)" in res.output and "wrong object" in res.output
    doc = json.loads((tmp_path / "c.json").read_text())
    sec = doc["errors"]
    ra, rb = _per_sample(runs["a"]), {r["sample_id"]: r for r in _per_sample(runs["b"])}
    ea = np.array([r["error"] for r in ra])
    eb = np.array([rb[r["sample_id"]]["error"] for r in ra])
    assert set(sec["categories"]) == {"hit", "wrong_object", "localization", "near_other", "background", "no_object", "unparsed"}
    for c, e in sec["categories"].items():
        assert e["a"] == pytest.approx(float(np.mean(ea == c)))
        assert e["b"] == pytest.approx(float(np.mean(eb == c)))
        assert e["diff"] == pytest.approx(float(np.mean(eb == c) - np.mean(ea == c)))
        assert e["ci95"][0] <= e["diff"] <= e["ci95"][1]
        assert e["discordant"] == {"a_only": int(np.sum((ea == c) & (eb != c))), "b_only": int(np.sum((ea != c) & (eb == c)))}
    assert sec["categories"]["wrong_object"]["diff"] > 0  # B was built with wrong objects, A has none
    # a run without instances: wrong_object is listed as unavailable, not compared
    no_inst = api.score(
        Task.RES,
        DEMO_SPLIT_NAME,
        PredictionsOptions(paths.root / "designed.jsonl"),
        reader=_jsonl_reader(paths, Task.RES, instances_path=tmp_path / "absent.json"),
        output=OutputOptions(tmp_path / "c", report=False),
    )
    doc2, _ = api.compare(runs["a"], no_inst.out_dir, resamples=200)
    assert set(doc2["errors"]["unavailable"]) == {"wrong_object", "near_other"}
    assert "wrong_object" not in doc2["errors"]["categories"]


def test_leaderboard_shows_wrong_object_and_localization_shares(demo, tmp_path):
    paths, *_ = demo
    results = tmp_path / "results"
    r = api.score(
        Task.REC,
        DEMO_SPLIT_NAME,
        PredictionsOptions(paths.root / "designed.jsonl"),
        reader=_jsonl_reader(paths, Task.REC),
        output=OutputOptions(results / "rec-designed", "designed", report=False),
    )
    api.leaderboard(results, tmp_path / "lb")
    csv_text = (tmp_path / "lb" / "leaderboard.csv").read_text()
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "REC: why the misses happened" in md
    for c in ("wrong_object", "localization"):
        assert f"{100 * r.errors['shares'][c]:.1f}" in md.split("REC: why the misses happened")[1].split("###")[0]
    assert "rec_errors" in csv_text or "why the misses" in csv_text


def test_ovd_results_carry_the_tide_breakdown(demo, tmp_path):
    from padt_eval.demo.ovd_ric import make_ovd_predictions

    paths, val, _, _ = demo
    make_ovd_predictions(val, paths.coco_instances, tmp_path / "ovd.jsonl", seed=0)
    r = api.score(
        Task.OVD,
        "coco_val2017",
        PredictionsOptions(tmp_path / "ovd.jsonl"),
        data=DataOptions(data_root=paths.data),
        output=OutputOptions(tmp_path / "ovd", report=False),
    )
    e = r.errors
    assert e["schema"] == "padt-eval/tide/v1"
    assert e["ap50"] == pytest.approx(r.metrics["ap50"], abs=1e-12)  # our matching equals COCOeval's on this data
    assert all(v is None or v >= 0 for v in e["dap"].values())
    records = _per_sample(r.out_dir)
    for t, n in e["counts"].items():
        assert sum(rec["errors"].get(t, 0) for rec in records) == n
