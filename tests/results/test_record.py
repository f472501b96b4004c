"""The run record's types round-trip through the files `RunWriter` writes: what scoring
builds is what `read_run` gives back, field for field, and the files hold the keys in
the layout padt-eval has always written (readers of older versions, and tests that read
the JSON directly, see no difference)."""

from __future__ import annotations

import hashlib
import json

import pytest

from padt_eval.results.manifest import SCHEMA, Manifest, RunnerInfo, SplitDescription
from padt_eval.results.reader import read_run
from padt_eval.results.record import METRICS_SCHEMA, ModelDescription, PredictionsRef, RunRecord
from padt_eval.results.writer import RunWriter

MODEL = ModelDescription(
    {
        "family": "qwen2_5_vl",
        "name": "Qwen/Qwen2.5-VL-3B-Instruct",
        "prompt_key": "qwen2_5_vl:native",
        "processor": {"min_pixels": 3136, "max_pixels": 12845056},
        "generation": {"max_new_tokens": {"rec": 128}},
    }
)
PREDICTIONS = PredictionsRef("/runs/a/predictions.jsonl", "ab" * 32)


def _record(**changes) -> RunRecord:
    fields = dict(
        run_id="rec-refcoco_val-qwen",
        task="rec",
        split="refcoco_val",
        model=MODEL,
        metrics={"acc@0.5": 0.625, "mean_iou": 0.5123456789012345, "acc@0.9": None},
        counts={"n_samples": 8, "n_predicted": 7, "n_missing": 1},
        protocol={"name": "standard", "selection": "first"},
        details={"threshold_sweep": [{"threshold": 0.5, "f1": 0.25}]},
        notes=["a note"],
        predictions=PREDICTIONS,
        problems={"file": PREDICTIONS.file, "lines": 7, "problems": {}},
        errors={"shares": {"hit": 0.625, "localization": 0.375}},
        warnings=["the predictions file is short"],
    )
    return RunRecord(**{**fields, **changes})


def _manifest(runner: RunnerInfo | None = None) -> Manifest:
    return Manifest(
        task="rec",
        split=SplitDescription("refcoco_val", "refer", {"/data/refs(unc).p": "cd" * 32}, "/data/coco", 8, ["a split note"]),
        model=MODEL,
        prompt_template_hash="ef" * 8,
        predictions=PREDICTIONS,
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:01:00+00:00",
        world_size=2,
        versions={"python": "3.11.0", "torch": None},
        git={"sha": None, "dirty": None},
        platform={"system": "Linux"},
        accelerator=None,
        command=["padt-eval", "rec"],
        runner=runner,
    )


RUNNER = RunnerInfo(
    world_size=2,
    device="cpu",
    resumed=False,
    samples_this_attempt=8,
    failed_this_attempt=1,
    seconds=1.5,
    samples_per_s=5.333,
    attempt="a1",
    batch_size="auto",
    batch_size_resolved=4,
    loader_workers=0,
    per_rank=[{"rank": 0, "samples": 4}, {"rank": 1, "samples": 4}],
    started="2026-01-01T00:00:00+00:00",
    extra={"data_wait_seconds": 0.25},  # a field a newer runner writes passes through
)


def _write(tmp_path, record: RunRecord, manifest: Manifest):
    out = tmp_path / record.run_id
    writer = RunWriter(out)
    writer.write_record({"sample_id": "0", "iou": 0.5})
    writer.finish(record, manifest)
    return out


@pytest.mark.parametrize(
    "record, runner",
    [
        (_record(), RUNNER),
        (_record(gt="padt-filtered", errors=None, warnings=[]), None),  # optional keys left out
        (_record(extra={"added_by_a_newer_version": {"x": 1}}), None),  # unknown keys pass through
    ],
    ids=["full", "optional-keys-absent", "unknown-keys"],
)
def test_written_record_and_manifest_read_back_equal(tmp_path, record, runner):
    manifest = _manifest(runner)
    out = _write(tmp_path, record, manifest)
    got_record, got_manifest, sha = read_run(out)
    assert got_record == record and got_manifest == manifest
    # one model description: the manifest refers to the record's, it holds no copy
    assert got_manifest.model is got_record.model
    raw = (out / "metrics.json").read_bytes()
    assert sha == hashlib.sha256(raw).hexdigest()


def test_files_hold_the_keys_in_the_written_layout(tmp_path):
    """The JSON as readers of the files see it: the schema versions, each key in its
    place, the model description in both files, the optional keys only when set."""
    record, manifest = _record(), _manifest(RUNNER)
    out = _write(tmp_path, record, manifest)
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == [
        "schema", "run_id", "task", "split", "model", "metrics", "counts", "protocol",
        "details", "notes", "errors", "predictions", "problems", "warnings",
    ]  # fmt: skip
    assert metrics["schema"] == METRICS_SCHEMA == "padt-eval/metrics/v1"
    assert metrics["metrics"] == {"acc@0.5": 0.625, "mean_iou": 0.5123456789012345, "acc@0.9": None}
    assert metrics["predictions"] == {"file": "/runs/a/predictions.jsonl", "sha256": "ab" * 32}
    doc = json.loads((out / "manifest.json").read_text())
    assert list(doc) == [
        "schema", "task", "versions", "git", "platform", "accelerator", "command", "started", "finished",
        "world_size", "split", "model", "prompt_template_hash", "predictions", "runner",
    ]  # fmt: skip
    assert doc["schema"] == SCHEMA == "padt-eval/manifest/v1" and doc["accelerator"] is None
    assert doc["model"] == metrics["model"] == MODEL.entries
    assert doc["split"]["files"] == {"/data/refs(unc).p": "cd" * 32}
    assert list(doc["runner"])[-2:] == ["data_wait_seconds", "started"]  # newer fields before api's `started`
    assert doc["runner"]["samples_this_attempt"] == 8 and doc["runner"]["batch_size"] == "auto"

    out2 = _write(tmp_path / "b", _record(errors=None, warnings=[]), _manifest())
    metrics = json.loads((out2 / "metrics.json").read_text())
    assert "errors" not in metrics and "warnings" not in metrics and "gt" not in metrics
    assert "runner" not in json.loads((out2 / "manifest.json").read_text())


def test_model_description_reads_the_keys_padt_eval_uses():
    assert MODEL.family == "qwen2_5_vl" and MODEL.prompt_key == "qwen2_5_vl:native"
    assert MODEL.display_name == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert MODEL.find("max_pixels") == 12845056 and MODEL.find("nowhere") is None
    scored = ModelDescription({"family": None, "predictions_file": "/p/answers_v2.jsonl"})
    assert scored.family is None and scored.display_name == "answers_v2" and scored.prompt_key is None
    named = scored.with_entries(name="mine")
    assert named.display_name == "mine" and list(named.entries) == ["family", "predictions_file", "name"]
    assert scored.entries == {"family": None, "predictions_file": "/p/answers_v2.jsonl"}  # a copy: the original unchanged
    renamed = MODEL.with_entries(name="other")
    assert list(renamed.entries) == list(MODEL.entries)  # an existing key keeps its place
