"""Drift: check-batching says in one line whether a model's answers change, between batch
sizes or (--backends) between backends."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from padt_eval.cli.app import app
from padt_eval.core.types import ImageRef, ObjectPred, Prediction, Sample, Task
from padt_eval.runner.batching import compare_runs

runner = CliRunner()


def _sample(i: int) -> Sample:
    return Sample(str(i), Task.REC, ImageRef(f"/x/{i}.png", 10, 10), expression="thing")


def test_one_changed_box_is_drift_and_a_last_bit_is_not():
    samples = [_sample(i) for i in range(3)]
    first = [Prediction(str(i), text="[1, 2, 3, 4]", objects=[ObjectPred(bbox=[1.0, 2.0, 3.0, 4.0])]) for i in range(3)]
    same = [Prediction(str(i), text="[1, 2, 3, 4]", objects=[ObjectPred(bbox=[1.0, 2.0, 3.0, 4.000001])]) for i in range(3)]
    report = compare_runs(samples, first, same, ("backend hf", "backend vllm"))
    assert report.line().startswith("no drift: 0 of 3 answers change between backend hf and backend vllm")
    moved = list(same)
    moved[1] = Prediction("1", text="[1, 2, 3, 5]", objects=[ObjectPred(bbox=[1.0, 2.0, 3.0, 5.0])])
    report = compare_runs(samples, first, moved, ("backend hf", "backend vllm"))
    assert report.line().startswith("DRIFT: 1 of 3 answers change between backend hf and backend vllm (text: 1, objects: 1;")
    assert report.differing_ids == ["1"] and set(report.examples[0]) == {"sample_id", "backend hf", "backend vllm"}


def test_backends_must_be_two(demo_split):
    r = runner.invoke(app, ["check-batching", "-s", str(demo_split.rec_split), "--model", "x", "--backends", "hf"])
    assert r.exit_code == 2 and "--backends takes two backends" in r.output


@pytest.mark.slow
def test_a_backend_cross_check_runs_each_backend_and_prints_one_line(tiny, demo_split):
    """hf against hf (vLLM needs a GPU): the wiring, and no drift on identical backends."""
    r = runner.invoke(
        app,
        [
            "check-batching",
            "-s",
            str(demo_split.rec_split),
            "--image-root",
            str(demo_split.images),
            "--model",
            str(tiny("qwen2_5_vl")),
            "--backends",
            "hf,hf",
            "-n",
            "4",
            "-b",
            "2",
            "--max-new-tokens",
            "6",
            "--device",
            "cpu",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "no drift: 0 of 4 answers change between backend hf and backend hf" in r.output
