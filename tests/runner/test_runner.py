"""The sharded runner on CPU ranks: equality across world sizes, kills, resume, refusals."""

from __future__ import annotations

import json

import pytest

from padt_eval import api
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
from padt_eval.runner.launch import RankFailed
from padt_eval.runner.plan import read_plan
from padt_eval.runner.shards import read_all
from padt_eval.runner.worker import FAULT_ENV
from tests.helpers import run_colour_finder


@pytest.fixture(scope="module")
def split(synth_root):
    return dict(split="refcoco_val", data_root=synth_root)


_run = run_colour_finder


def _without_timing(run_dir):
    """Predictions in file order, without the per-sample wall time (which no two runs share)."""
    lines = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    for line in lines:
        line.get("meta", {}).pop("seconds", None)
    return lines


def _shard_ids(run_dir):
    return [p.sample_id for _, _, p in read_all(run_dir)]


@pytest.fixture(scope="module")
def single(split, tmp_path_factory):
    return _run(split, tmp_path_factory.mktemp("single") / "run", nproc=1, loader_workers=1)


def test_single_rank_scores_and_records_the_run(single):
    assert single.counts["n_samples"] > 20 and single.counts["n_predicted"] == single.counts["n_samples"]
    assert 0.3 < single.metrics["miou"] < 1.0
    manifest = json.loads((single.out_dir / "manifest.json").read_text())
    assert manifest["runner"]["world_size"] == 1 and manifest["runner"]["samples_this_attempt"] == single.counts["n_samples"]
    assert manifest["model"]["family"] == "colour-finder"
    lines = (single.out_dir / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == single.counts["n_samples"]


@pytest.mark.slow
def test_two_ranks_equal_one_rank(split, single, tmp_path):
    two = _run(split, tmp_path / "two", nproc=2)
    assert two.metrics == single.metrics and two.counts == single.counts
    a = (single.out_dir / "predictions.jsonl").read_bytes()
    b = (two.out_dir / "predictions.jsonl").read_bytes()
    assert a == b  # same predictions, same (split) order
    ids = _shard_ids(two.out_dir)
    assert len(ids) == len(set(ids)) == two.counts["n_samples"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["1:0:kill", "1:2:kill", "0:3:kill"])
def test_killed_rank_then_rerun_gives_identical_metrics(split, single, tmp_path, monkeypatch, fault):
    out = tmp_path / "run"
    monkeypatch.setenv(FAULT_ENV, fault)
    with pytest.raises(RankFailed) as e:
        _run(split, out, nproc=2)
    assert "killed by a signal" in str(e.value) or "exited with code" in str(e.value)
    assert "rerunning the same command completes only what is missing" in str(e.value)
    written_before = set(_shard_ids(out))
    monkeypatch.delenv(FAULT_ENV)
    again = _run(split, out, nproc=2)
    assert again.metrics == single.metrics and again.counts == single.counts
    ids = _shard_ids(out)
    assert len(ids) == len(set(ids)) == again.counts["n_samples"], "a sample was predicted twice"
    manifest = json.loads((out / "manifest.json").read_text())
    # "1:0:kill" races rank 0's first batch against the teardown: when rank 0 wrote nothing
    # either, the rerun resumes nothing, and `resumed` must say so (it is true only when
    # something was resumed).
    assert manifest["runner"]["resumed"] is bool(written_before)
    assert manifest["runner"]["samples_this_attempt"] == again.counts["n_samples"] - len(written_before)


@pytest.mark.slow
def test_resume_with_a_different_world_size(split, single, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setenv(FAULT_ENV, "0:2:raise")  # one rank, stops after 2 batches
    with pytest.raises(RuntimeError, match="injected failure"):
        _run(split, out, nproc=1)
    n_before = len(_shard_ids(out))
    assert n_before == 8
    monkeypatch.delenv(FAULT_ENV)
    again = _run(split, out, nproc=2)  # finish with two ranks
    assert again.metrics == single.metrics
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runner"]["world_size"] == 2
    assert manifest["runner"]["samples_this_attempt"] == again.counts["n_samples"] - n_before


def test_fingerprint_mismatch_is_refused(split, single, tmp_path):
    out = tmp_path / "run"
    _run(split, out, options={"delay_s": 0.0})
    with pytest.raises(UsageError) as e:
        _run(split, out, options={"delay_s": 0.001})
    msg = str(e.value)
    assert "holds a different run" in msg and "generation_options.delay_s: 0.0 → 0.001" in msg and "--overwrite" in msg
    again = _run(split, out, options={"delay_s": 0.001}, overwrite=True)
    assert again.metrics == single.metrics


def test_non_run_folder_is_refused(split, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not a padt-eval run folder"):
        _run(split, tmp_path / "busy")


@pytest.mark.slow
def test_a_raising_rank_ends_the_run_promptly(split, tmp_path, monkeypatch):
    """Rank 1 fails after one batch: the run stops rank 0 rather than waiting for it to
    finish its share (behaviour, not a clock: rank 0's shard is left incomplete)."""
    monkeypatch.setenv(FAULT_ENV, "1:1:raise")
    out = tmp_path / "run"
    with pytest.raises(RankFailed) as e:
        _run(split, out, nproc=2, options={"delay_s": 0.4})  # rank 0 alone would take ~25 s
    assert "rank 1: RuntimeError: injected failure on rank 1 after 1 batches" in str(e.value)
    assert "Traceback" in str(e.value)
    (summary,) = (out / "plan").glob("*.json")
    attempt = json.loads(summary.read_text())["attempt"]
    planned_rank0 = len(read_plan(out, attempt, 0))
    written_rank0 = [p for name, _, p in read_all(out) if name == f"{attempt}.rank0.jsonl"]
    assert len(written_rank0) < planned_rank0, "rank 0 ran to the end: the failure of rank 1 did not stop it"


@pytest.mark.slow
def test_tiny_padt_two_ranks_equal_one_rank(tiny_checkpoint, tmp_path):
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl

    world = make_world(4, seed=2)
    write_images(world, tmp_path / "coco" / "train2014")
    write_padt_jsonl(world, tmp_path / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json")
    model, data = ModelOptions(str(tiny_checkpoint), "padt", {"max_new_tokens": 12}), DataOptions(data_root=tmp_path)
    one = api.run_model(
        Task.REC,
        "refcoco_val",
        model,
        data=data,
        run=RunOptions(1, batch_size=1, loader_workers=0),
        output=OutputOptions(tmp_path / "one"),
    )
    two = api.run_model(
        Task.REC,
        "refcoco_val",
        model,
        data=data,
        run=RunOptions(2, batch_size=1, loader_workers=0),
        output=OutputOptions(tmp_path / "two"),
    )
    # Same tokens, same parses; boxes equal to float noise (two CPU ranks run one thread
    # each, one rank uses both cores: matmuls then sum in another order).
    assert one.counts == two.counts
    assert one.metrics == pytest.approx(two.metrics, abs=1e-6)
    a, b = _without_timing(one.out_dir), _without_timing(two.out_dir)
    assert [(x["sample_id"], x.get("text"), x["parse_status"]) for x in a] == [
        (y["sample_id"], y.get("text"), y["parse_status"]) for y in b
    ]
    for x, y in zip(a, b):
        for ox, oy in zip(x["objects"], y["objects"]):
            assert ox["bbox"] == pytest.approx(oy["bbox"], abs=1e-3)
    manifest = json.loads((two.out_dir / "manifest.json").read_text())
    assert manifest["model"]["family"] == "padt" and manifest["model"]["weights_sha256"]
