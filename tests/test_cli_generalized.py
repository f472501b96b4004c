"""`padt-eval grec` / `gres` end to end on the gRefCOCO demo data: predictions files under both
protocols, the colour-finder and a tiny random PaDT through the runner on samples with no
target, coordinate text with several boxes or none, prompts, and `data fetch --dry-run`."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.boxes import box_iou
from padt_eval.core.types import PromptKey, Task
from padt_eval.demo.run import GREFCOCO_DEMO_SPLIT, DemoPaths, write_generalized_predictions
from padt_eval.demo.synthetic import make_world, write_images

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from padt_eval.demo.grefcoco import write_grefcoco

    paths = DemoPaths(tmp_path_factory.mktemp("gref_demo"))
    world = make_world(6, seed=2)
    write_images(world, paths.images)
    write_grefcoco(world, paths.data / "grefcoco")
    return paths, write_generalized_predictions(paths, seed=4)


@pytest.mark.parametrize("protocol", ["standard", "official"])
@pytest.mark.parametrize("task", [Task.GREC, Task.GRES])
def test_predictions_file_scores_as_designed(demo, tmp_path, task, protocol):
    paths, expected = demo
    out = tmp_path / "run"
    args = [task.value, "-s", GREFCOCO_DEMO_SPLIT, "--data-root", str(paths.data), "-p", str(paths.generalized_predictions(task))]
    r = runner.invoke(app, [*args, "--protocol", protocol, "-o", str(out), "--no-report"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    want = getattr(expected[task], protocol)
    assert set(doc["metrics"]) == set(want)
    assert doc["metrics"] == pytest.approx(want, abs=1e-9)
    assert doc["protocol"]["name"] == protocol and doc["task"] == task.value
    nt = doc["details"]["breakdown"]
    assert doc["counts"]["n_no_target"] == nt["correct_rejection"] + nt["false_alarm"] + nt["not_answered"] > 0
    assert "threshold_sweep" in doc["details"]  # the designed answers carry scores


def test_protocols_of_other_tasks_are_refused(demo):
    paths, _ = demo
    p = str(paths.generalized_predictions(Task.GREC))
    r = runner.invoke(
        app, ["grec", "-s", GREFCOCO_DEMO_SPLIT, "--data-root", str(paths.data), "-p", p, "--protocol", "padt-release"]
    )
    assert r.exit_code == 2 and "standard or official" in r.output
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(paths.data), "-p", p, "--protocol", "official"])
    assert r.exit_code == 2 and "grec, gres and the splits of a benchmark with its own scorer" in r.output


def _max_matches(boxes, gt):
    for k in range(min(len(boxes), len(gt)), 0, -1):
        for bs in itertools.combinations(range(len(boxes)), k):
            for gs in itertools.permutations(range(len(gt)), k):
                if all(box_iou(boxes[b], gt[g]) >= 0.5 for b, g in zip(bs, gs)):
                    return k
    return 0


def _recount_grec(out, samples, th):
    """Pr@(F1=1), N-acc, T-acc recomputed from the run's predictions.jsonl, by brute force."""
    preds = {json.loads(line)["sample_id"]: json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()}
    correct = nt = nt_ok = t = t_kept = 0
    for s in samples:
        p = preds[s.sample_id]
        ok = p.get("parse_status", "ok") == "ok"
        boxes = [o["bbox"] for o in p["objects"] if o.get("score") is None or o["score"] >= th] if ok else []
        gt = [o.bbox for o in s.objects]
        if not gt:
            nt += 1
            nt_ok += ok and not boxes
            correct += ok and not boxes
        else:
            t += 1
            t_kept += bool(boxes)
            correct += ok and _max_matches(boxes, gt) == len(boxes) == len(gt)
    return {"pr_f1": correct / len(samples), "n_acc": nt_ok / nt, "t_acc": t_kept / t}


@pytest.mark.slow
def test_tiny_padt_runs_grec_on_samples_with_no_target(demo, tiny_checkpoint, tmp_path):
    from padt_eval.data.registry import open_split

    paths, _ = demo
    out = tmp_path / "padt"
    args = ["grec", "-s", GREFCOCO_DEMO_SPLIT, "--data-root", str(paths.data), "--model", str(tiny_checkpoint)]
    r = runner.invoke(app, [*args, "--max-new-tokens", "24", "--device", "cpu", "-o", str(out), "--no-report"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    samples = list(open_split(GREFCOCO_DEMO_SPLIT, Task.GREC, data_root=paths.data, require_images=False))
    assert doc["counts"]["n_no_target"] == sum(not s.objects for s in samples) > 0
    assert doc["counts"]["n_samples"] == len(samples)
    assert doc["metrics"] == pytest.approx(_recount_grec(out, samples, 0.7), abs=1e-12)
    sweep = {row["threshold"]: row for row in doc["details"].get("threshold_sweep", [])}
    if sweep:  # random weights: scores exist whenever a VRT run was decoded
        row = sweep[0.0]
        assert {k: row[k] for k in ("pr_f1", "n_acc", "t_acc")} == pytest.approx(_recount_grec(out, samples, 0.0), abs=1e-12)


def test_colour_finder_rejects_the_colour_the_image_does_not_hold(demo, tmp_path):
    paths, _ = demo
    out = tmp_path / "cf"
    args = ["gres", "-s", GREFCOCO_DEMO_SPLIT, "--data-root", str(paths.data), "--model", "colour-finder"]
    r = runner.invoke(app, [*args, "--device", "cpu", "-o", str(out), "--no-report"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    # every no-target expression names a colour absent from its image: all rejected
    assert doc["metrics"]["n_acc"] == 1.0
    assert doc["details"]["breakdown"]["correct_rejection"] == doc["counts"]["n_no_target"]


def test_coordinate_text_keeps_every_box_and_reads_none_as_a_rejection():
    from padt_eval.models.coords import FORMATS, Frame
    from padt_eval.models.text_rules import prediction_from_text

    frame = Frame(width=100, height=100, input_width=100, input_height=100)
    two = '```json [{"bbox_2d": [0, 0, 10, 10], "label": "a"}, {"bbox_2d": [20, 20, 30, 30], "label": "a"}] ```'
    for task in (Task.GREC, Task.GRES):
        p = prediction_from_text("s", task, two, FORMATS["qwen2_5_vl"], frame)
        assert [o.bbox for o in p.objects] == [[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]]
        none = prediction_from_text("s", task, "None", FORMATS["qwen2_5_vl"], frame)
        assert none.parse_status.value == "ok" and none.objects == []
    rec = prediction_from_text("s", Task.REC, two, FORMATS["qwen2_5_vl"], frame)
    assert len(rec.objects) == 1  # REC keeps one answer


def test_every_prompt_key_has_generalized_prompts_and_every_family_a_no_target_rule():
    from padt_eval.models.base import families
    from padt_eval.tasks.no_target import NO_TARGET
    from padt_eval.tasks.prompts import PROMPT_TABLE

    for key, table in PROMPT_TABLE.items():
        assert Task.GREC in table and Task.GRES in table, key
        assert "{expression}" in table[Task.GREC]
    assert "respond with None" in PROMPT_TABLE[PromptKey("qwen2_5_vl", "paper")][Task.GREC]
    assert set(families()) <= set(NO_TARGET)


def test_data_fetch_dry_run_lists_the_grefcoco_sources(tmp_path):
    r = runner.invoke(app, ["data", "fetch", "grefcoco", "--dry-run", "--to", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "hf://datasets/FudanCVL/gRefCOCO/grefs(unc).json" in r.output
    assert "<data-root>/grefcoco/instances.json" in r.output
    assert not any(tmp_path.iterdir())  # nothing downloaded


def test_the_html_report_plots_the_threshold_sweep(demo, tmp_path):
    import re

    paths, _ = demo
    out = tmp_path / "rep"
    args = [
        "gres",
        "-s",
        GREFCOCO_DEMO_SPLIT,
        "--data-root",
        str(paths.data),
        "-p",
        str(paths.generalized_predictions(Task.GRES)),
    ]
    assert runner.invoke(app, [*args, "-o", str(out)]).exit_code == 0
    page = (out / "report.html").read_text()
    sweep = json.loads((out / "metrics.json").read_text())["details"]["threshold_sweep"]
    lines = re.findall(r'<polyline [^>]*points="([^"]+)"', page)
    assert len(lines) == len(sweep[0]) - 1  # one line per swept metric
    assert all(len(pts.split()) == len(sweep) for pts in lines)


def test_compare_pairs_two_grec_runs_on_their_metrics(demo, tmp_path):
    from padt_eval.report.compare import compare_runs

    paths, _ = demo
    p = str(paths.generalized_predictions(Task.GREC))
    base = ["grec", "-s", GREFCOCO_DEMO_SPLIT, "--data-root", str(paths.data), "-p", p, "--no-report"]
    for name, protocol in (("a", "standard"), ("b", "official")):
        assert runner.invoke(app, [*base, "--protocol", protocol, "-o", str(tmp_path / name)]).exit_code == 0
    doc = compare_runs(tmp_path / "a", tmp_path / "b", n_resamples=200)
    for side, name in (("a", "a"), ("b", "b")):
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())["metrics"]
        for key in ("pr_f1", "n_acc", "t_acc"):
            assert doc["metrics"][key][side] == pytest.approx(metrics[key], abs=1e-12)
