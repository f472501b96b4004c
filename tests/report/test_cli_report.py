"""The commands of this part end to end: --protocol, leaderboard, and the extended demo."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from padt_eval.cli import app

runner = CliRunner()


def test_rec_res_protocol_padt_release(scored_runs, tmp_path):
    root, runs = scored_runs
    split = root / "data" / "split.json"
    images = root / "data" / "coco" / "train2014"
    for task in ("rec", "res"):
        out = tmp_path / task
        r = runner.invoke(
            app,
            [
                task,
                "-s",
                str(split),
                "--image-root",
                str(images),
                "-p",
                str(root / "preds.jsonl"),
                "--protocol",
                "padt-release",
                "--name",
                "synthetic",
                "--no-report",
                "-o",
                str(out),
            ],
        )
        assert r.exit_code == 0, r.output
        doc = json.loads((out / "metrics.json").read_text())
        assert doc["protocol"]["name"] == "padt-release" and doc["model"]["name"] == "synthetic"
        assert not (out / "report.html").exists()
        std = json.loads((runs[task] / "metrics.json").read_text())
        assert doc["protocol"]["name"] != std["protocol"]["name"] == "standard"
        recs = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
        assert len(recs) == doc["counts"]["n_samples"] and all("key" in r for r in recs)
        if task == "rec":  # best of N rescues the demo's decoy-first samples
            assert doc["metrics"]["acc@0.5"] > std["metrics"]["acc@0.5"]
        else:
            assert set(doc["metrics"]) == {"ciou"}
    r = runner.invoke(
        app, ["rec", "-s", str(split), "--image-root", str(images), "-p", str(root / "preds.jsonl"), "--protocol", "best"]
    )
    assert r.exit_code == 2 and "unknown protocol 'best'" in r.output


def test_leaderboard_command(scored_runs, tmp_path):
    from padt_eval.report.reported import COLUMNS

    root, _ = scored_runs
    (tmp_path / "none.csv").write_text(",".join(COLUMNS) + "\n")
    r = runner.invoke(
        app, ["leaderboard", "--results", str(root / "results"), "--out", str(tmp_path), "--reported", str(tmp_path / "none.csv")]
    )
    assert r.exit_code == 0, r.output
    for ext in ("md", "csv", "tex", "html"):
        assert (tmp_path / f"leaderboard.{ext}").is_file()
    assert "synth_val" in (tmp_path / "leaderboard.md").read_text()
    # the headline tables are printed, not only the file names: each run's measured number
    for run in (root / "results").rglob("metrics.json"):
        doc = json.loads(run.read_text())
        if doc["task"] == "rec" and doc["protocol"]["name"] == "standard":
            assert f"{100 * doc['metrics']['acc@0.5']:.1f}" in r.output
    assert "REC: Acc@0.5 (%)" in r.output and "synth_val" in r.output


def test_leaderboard_refuses_missing_inputs_and_lists_skipped_runs(scored_runs, tmp_path):
    import shutil

    root, _ = scored_runs
    r = runner.invoke(app, ["leaderboard", "--results", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and f"results folder not found: {tmp_path / 'nowhere'}" in r.output
    assert not (tmp_path / "leaderboard.md").exists()
    r = runner.invoke(
        app, ["leaderboard", "--results", str(root / "results"), "--out", str(tmp_path), "--reported", str(tmp_path / "mine.csv")]
    )
    assert r.exit_code == 2 and f"reported-numbers file not found: {tmp_path / 'mine.csv'}" in r.output
    copy = tmp_path / "results"
    shutil.copytree(root / "results", copy)
    broken = sorted(copy.rglob("metrics.json"))[0]
    broken.write_text('{"metrics": ')
    r = runner.invoke(app, ["leaderboard", "--results", str(copy), "--out", str(tmp_path / "board")])
    assert r.exit_code == 0, r.output
    assert f"skipped: {broken}: not JSON" in r.output
    assert "1 run folder(s) skipped" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_demo_writes_runs_comparisons_and_reports(tmp_path):
    r = runner.invoke(
        app, ["demo", "--out", str(tmp_path / "d"), "--n-images", "6", "--results", str(tmp_path / "res"), "--no-models"]
    )
    assert r.exit_code == 0, r.output
    names = sorted(p.parent.name for p in (tmp_path / "res").glob("*/metrics.json"))
    assert names == [
        "grec-grefcoco_val-designed",
        "grec-grefcoco_val-designed-official",
        "gres-grefcoco_val-designed",
        "gres-grefcoco_val-designed-official",
        "ovd-coco_val2017-perturbed_ground_truth",
        "ovd-coco_val2017-perturbed_ground_truth-padt_release",
        "rec-demo_refcoco_val-designed_errors",
        "rec-demo_refcoco_val-perturbed_ground_truth",
        "rec-demo_refcoco_val-perturbed_ground_truth-padt_release",
        "rec-demo_refcoco_val-perturbed_ground_truth_b",
        "rec-ref_l4_val-designed",
        "rec-ref_l4_val-designed-official",
        "rec-refcoco_val-perturbed_ground_truth",
        "rec-refcoco_val-perturbed_ground_truth_b",
        "rec-refcoco_val_cleaned-perturbed_ground_truth",
        "rec-refcoco_val_cleaned-perturbed_ground_truth_b",
        "res-demo_refcoco_val-designed_errors",
        "res-demo_refcoco_val-perturbed_ground_truth",
        "res-demo_refcoco_val-perturbed_ground_truth-padt_release",
        "res-demo_refcoco_val-perturbed_ground_truth_b",
        "res-reasonseg_val-perturbed",
        "res-reasonseg_val-perturbed-official",
        "res-refcoco_m_val-perturbed",
        "ric-ric_val-perturbed_ground_truth",
    ]
    assert len(list((tmp_path / "res" / "comparisons").glob("*.json"))) == 4
    assert all((tmp_path / "res" / n / "report.html").is_file() for n in names)
    assert "compare demo-A (padt-release) − demo-A (standard)" in r.output
    # the designed misses are reported exactly (checked against the numpy recomputation)
    assert r.output.count("(checked)") == 2
    ovd = json.loads((tmp_path / "res" / "ovd-coco_val2017-perturbed_ground_truth-padt_release" / "metrics.json").read_text())
    assert ovd["gt"] == "padt-filtered" and ovd["protocol"]["name"] == "padt-release"
    assert ovd["split"] == "coco_val2017_padt_filtered"
    # OVD and RIC reports draw the images with the most unmatched objects
    for name in ("ovd-coco_val2017-perturbed_ground_truth", "ric-ric_val-perturbed_ground_truth"):
        page = (tmp_path / "res" / name / "report.html").read_text()
        assert "most unmatched objects first" in page and page.count('class="card"') >= 1
        assert "Per-sample IoU" not in page


def test_rescoring_a_model_runs_predictions_keeps_its_model(scored_runs, tmp_path):
    import shutil

    from padt_eval.core.types import PromptKey, Task
    from padt_eval.tasks.prompts import prompt_template_hash

    root, runs = scored_runs
    run = tmp_path / "rec-model-run"
    run.mkdir()
    shutil.copy(root / "preds.jsonl", run / "predictions.jsonl")
    desc = {"family": "padt", "model": "PaDT-MLLM/PaDT_REC_3B", "min_pixels": 3136, "max_pixels": 1003520}
    (run / "manifest.json").write_text(json.dumps({"model": desc}))
    out = tmp_path / "release"
    r = runner.invoke(
        app,
        [
            "rec",
            "-s",
            str(root / "data" / "split.json"),
            "--image-root",
            str(root / "data" / "coco" / "train2014"),
            "-p",
            str(run / "predictions.jsonl"),
            "--protocol",
            "padt-release",
            "--no-report",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["model"] == {**desc, "scored_from": str(run / "predictions.jsonl")}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["prompt_template_hash"] == prompt_template_hash(PromptKey("padt"), Task.REC)

    # A baseline run records its prompt key (family + style): the re-scored manifest keeps
    # that key's hash (the family name alone is no key and used to give no hash silently).
    desc = {"family": "qwen2_5_vl", "prompt_key": "qwen2_5_vl:native", "name": "Qwen/Qwen2.5-VL-3B-Instruct"}
    (run / "manifest.json").write_text(json.dumps({"model": desc}))
    r = runner.invoke(
        app,
        [
            "rec",
            "-s",
            str(root / "data" / "split.json"),
            "--image-root",
            str(root / "data" / "coco" / "train2014"),
            "-p",
            str(run / "predictions.jsonl"),
            "--no-report",
            "-o",
            str(tmp_path / "again"),
        ],
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert manifest["prompt_template_hash"] == prompt_template_hash(PromptKey("qwen2_5_vl", "native"), Task.REC)
    assert manifest["prompt_template_hash"] != prompt_template_hash(PromptKey("qwen2_5_vl", "paper"), Task.REC)
