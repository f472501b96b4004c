"""The CLI end to end on synthetic data: results files, messages and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions

runner = CliRunner()


@pytest.fixture(scope="module")
def scored(synth_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    reader = open_split("refcoco_val", Task.REC, data_root=synth_root)
    preds = tmp / "preds.jsonl"
    expected = make_predictions(reader, preds, seed=3)
    return tmp, preds, expected


def test_rec_and_res_write_complete_results(synth_root, scored):
    tmp, preds, expected = scored
    for task, exp in (("rec", expected.rec), ("res", expected.res)):
        out = tmp / f"run-{task}"
        r = runner.invoke(
            app, [task, "--split", "refcoco_val", "--data-root", str(synth_root), "--predictions", str(preds), "--out", str(out)]
        )
        assert r.exit_code == 0, r.output
        assert f"results written to {out}" in r.output.replace("\n", "")
        doc = json.loads((out / "metrics.json").read_text())
        assert set(doc["metrics"]) == set(exp)
        for k, v in exp.items():
            assert doc["metrics"][k] == pytest.approx(v, abs=1e-12)
        assert set(doc["counts"]) >= {"n_samples", "n_predicted", "n_missing", "n_parse_failed"}
        assert doc["counts"]["n_samples"] == sum(expected.outcomes.values())
        assert doc["counts"]["n_missing"] == expected.outcomes["missing"]
        assert doc["counts"]["n_parse_failed"] == expected.outcomes["unparseable"]
        per_sample = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
        assert len(per_sample) == doc["counts"]["n_samples"]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["versions"]["pycocotools"] and manifest["versions"]["python"]
        assert manifest["split"]["layout"] == "refer" and len(manifest["split"]["files"]) == 2
        assert manifest["predictions"]["sha256"] and manifest["started"] <= manifest["finished"]
        assert "sha" in manifest["git"] and "dirty" in manifest["git"]
        assert not list(out.glob(".*partial")) and not list(out.glob(".*.tmp"))


def test_unknown_split_exits_2_with_message(synth_root, scored):
    _, preds, _ = scored
    r = runner.invoke(app, ["rec", "--split", "refcoco_vall", "--data-root", str(synth_root), "--predictions", str(preds)])
    assert r.exit_code == 2
    assert "unknown split 'refcoco_vall'" in r.output


def test_strict_malformed_predictions_exit_2(synth_root, scored, tmp_path):
    _, preds, _ = scored
    bad = tmp_path / "bad.jsonl"
    bad.write_text(preds.read_text() + "{not json\n")
    out = tmp_path / "out"
    r = runner.invoke(
        app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(bad), "--strict", "-o", str(out)]
    )
    assert r.exit_code == 2
    assert "malformed JSON line" in r.output and "bad.jsonl:" in r.output
    # not strict: scored, and the problem is listed
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(bad), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 malformed" in r.output
    assert json.loads((out / "metrics.json").read_text())["problems"]["problems"] == {"malformed": 1}


def test_needs_exactly_one_source(synth_root):
    r = runner.invoke(app, ["rec", "--split", "refcoco_val", "--data-root", str(synth_root)])
    assert r.exit_code == 2 and "exactly one of --predictions and --model" in r.output


def test_splits_command(synth_root):
    r = runner.invoke(app, ["splits", "--data-root", str(synth_root)])
    assert r.exit_code == 0
    assert "refcoco_val" in r.output and "refcocog_test" in r.output


def test_demo_command(tmp_path):
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--n-images", "8", "--no-models"])
    assert r.exit_code == 0, r.output
    assert "every metric equals its independently computed expectation" in r.output
    assert (tmp_path / "demo" / "results" / "rec-demo_refcoco_val-perturbed_ground_truth" / "metrics.json").is_file()


@pytest.mark.slow
def test_compile_flag_reaches_padt_and_keeps_the_answers(synth_root, tiny_checkpoint, tmp_path, monkeypatch):
    from padt_eval.models.padt import generation

    monkeypatch.setattr(generation, "COMPILE_BACKEND", "aot_eager")  # the same capture, no C++ build
    texts = {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        out = tmp_path / name
        r = runner.invoke(
            app,
            [
                "rec",
                "--split",
                "refcoco_val",
                "--data-root",
                str(synth_root),
                "--model",
                str(tiny_checkpoint),
                "--family",
                "padt",
                "--max-new-tokens",
                "8",
                "--device",
                "cpu",
                "--loader-workers",
                "0",
                "-o",
                str(out),
                *extra,
            ],
        )
        assert r.exit_code == 0, r.output
        model = json.loads((out / "model.json").read_text())
        assert model["compile"] is (name == "compiled")
        shards = [p for p in sorted(out.rglob("*.jsonl")) if ".rank" in p.name]  # the prediction shards
        rows = [json.loads(x) for p in shards for x in p.read_text().splitlines() if x.strip()]
        texts[name] = sorted((x["sample_id"], str(x.get("text"))) for x in rows)
    assert texts["eager"] and texts["eager"] == texts["compiled"]
