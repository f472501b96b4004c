"""Reading a results folder back: a folder scored now reads back as the record scoring
returned, and a folder in an older layout is brought to the current one by the one
reader (`results.reader.read_run` / `read_run_model`, rules in `results/older.py`), so
report/ and scoring/ see only the current, typed layout."""

from __future__ import annotations

import json
from pathlib import Path

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions
from padt_eval.report.runs import load_run
from padt_eval.results.reader import read_run, read_run_model


def test_a_scored_folder_reads_back_as_the_returned_record(synth_root, preds, tmp_path):
    out = tmp_path / "run"
    result = api.score(
        Task.REC,
        "refcoco_val",
        PredictionsOptions(preds),
        data=DataOptions(data_root=synth_root),
        output=OutputOptions(out, name="mine", report=False),
    )
    record, manifest, _ = read_run(out)
    assert record == result.record and manifest == result.manifest
    assert record.model.display_name == "mine" and record.model.entries["predictions_file"] == str(preds)
    # the numbers the record holds are the ones the files hold (independently read)
    doc = json.loads((out / "metrics.json").read_text())
    n = len(open_split("refcoco_val", Task.REC, data_root=synth_root))
    assert record.metrics == doc["metrics"] and record.counts == doc["counts"] and record.counts["n_samples"] == n
    assert manifest.split.files == json.loads((out / "manifest.json").read_text())["split"]["files"]


def _older_folder(root: Path) -> Path:
    """A folder as an older padt-eval (or a hand) wrote it: metrics.json without task,
    split or model, its protocol a bare name and the ground truth inside it; the
    manifest holds task, split and model, PaDT's with no prompt key."""
    d = root / "old-run"
    d.mkdir()
    (d / "metrics.json").write_text(
        json.dumps({"metrics": {"acc@0.5": 0.5}, "counts": {"n_samples": 2}, "protocol": "padt-release"})
    )
    (d / "manifest.json").write_text(
        json.dumps(
            {
                "task": "rec",
                "split": {"name": "refcoco_val", "layout": "refer", "files": {"/x/refs.p": "ab"}},
                "model": {"family": "padt", "model": "PaDT-MLLM/PaDT_REC_3B", "max_pixels": 1003520},
                "finished": "2025-01-01T00:00:00+00:00",
            }
        )
    )
    return d


def test_an_older_folder_layout_is_read_into_the_current_one(tmp_path):
    d = _older_folder(tmp_path)
    record, manifest, _ = read_run(d)
    assert (record.run_id, record.task, record.split) == ("old-run", "rec", "refcoco_val")
    assert record.protocol == {"name": "padt-release"} and record.protocol_name == "padt-release"
    assert record.model.entries == {"family": "padt", "model": "PaDT-MLLM/PaDT_REC_3B", "max_pixels": 1003520}
    assert manifest.model is record.model and manifest.finished == "2025-01-01T00:00:00+00:00"
    assert manifest.versions is None and manifest.runner is None  # what it never wrote reads as None
    # the tables read it through the same reader, with nothing of their own for old folders
    run = load_run(d)
    assert (run.task, run.split, run.protocol, run.model_name) == ("rec", "refcoco_val", "padt-release", "PaDT-MLLM/PaDT_REC_3B")
    assert run.gt_variant == "refer" and run.pixels("max_pixels") == "1003520" and run.prompt_hash == "—"


def test_an_older_ground_truth_inside_the_protocol_is_the_runs_gt(tmp_path):
    d = _older_folder(tmp_path)
    (d / "metrics.json").write_text(json.dumps({"metrics": {}, "protocol": {"name": "standard", "gt": "padt-filtered"}}))
    (d / "manifest.json").unlink()
    record, manifest, _ = read_run(d)
    assert record.gt == "padt-filtered" and manifest is None
    assert load_run(d).gt_variant == "padt-filtered" and load_run(d).task == "?"


def test_an_older_model_run_gives_its_provenance_through_the_reader(tmp_path):
    d = _older_folder(tmp_path)
    model, key = read_run_model(d)
    assert key == "padt" and model.prompt_key is None  # PaDT's key is its family; the description is kept as written
    doc = json.loads((d / "manifest.json").read_text())
    doc["model"] = {"family": "predictions", "predictions_file": "/p.jsonl"}  # how older versions named a scored file
    (d / "manifest.json").write_text(json.dumps(doc))
    assert read_run_model(d) is None
    (d / "manifest.json").write_text("{not json")
    assert read_run_model(d) is None
