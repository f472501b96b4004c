"""The options objects: each rule a user can break is checked in `options.py`, with the
message the CLI prints; `--loader-workers` defaults from the CPU count."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval import options as opts
from padt_eval.cli import app
from padt_eval.core.errors import UsageError


@pytest.mark.parametrize(
    "cpus, nproc, want", [(1, 1, 0), (2, 1, 1), (8, 1, 4), (64, 1, 4), (16, 8, 1), (16, 2, 4), (4, 8, 0), (None, 1, 0)]
)
def test_loader_workers_share_the_cores_between_ranks(monkeypatch, cpus, nproc, want):
    monkeypatch.setattr(opts.os, "cpu_count", lambda: cpus)
    assert opts.default_loader_workers(nproc) == want
    assert opts.RunOptions(nproc).loader_workers_per_rank() == want
    assert opts.RunOptions(nproc, loader_workers=3).loader_workers_per_rank() == 3  # given: kept


def test_a_model_run_without_the_flag_records_the_default(synth_root, tmp_path, monkeypatch):
    monkeypatch.setattr(opts.os, "cpu_count", lambda: 1)  # one core: no loader process
    out = tmp_path / "run"
    args = [
        "res",
        "-s",
        "refcoco_val",
        "--data-root",
        str(synth_root),
        "--model",
        "colour-finder",
        "-o",
        str(out),
        "--device",
        "cpu",
        "--no-report",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "manifest.json").read_text())["runner"]["loader_workers"] == 0


def test_pixel_flags_need_a_format():
    with pytest.raises(UsageError, match=r"--min-pixels/--max-pixels set how --format"):
        opts.PredictionsOptions("p.jsonl", min_pixels=100)
    assert opts.PredictionsOptions("p.jsonl", text_format="qwen2_5_vl", min_pixels=100).min_pixels == 100


def test_cross_flag_rules():
    with pytest.raises(UsageError, match="give exactly one of --predictions and --model"):
        opts.check_one_source(None, None)
    with pytest.raises(UsageError, match="give exactly one of --predictions and --model"):
        opts.check_one_source("p.jsonl", "m")
    with pytest.raises(UsageError, match="--strict checks the lines of a predictions file"):
        opts.check_model_run(strict=True, text_format=None)
    with pytest.raises(UsageError, match="--format reads the raw text of a predictions file"):
        opts.check_model_run(strict=False, text_format="qwen2_5_vl")
    with pytest.raises(UsageError, match="give --gpus or --workers, not both"):
        opts.ranks(2, 2)
    assert opts.ranks(None, None) == (1, None) and opts.ranks(4, None) == (4, "cuda") and opts.ranks(None, 3) == (3, "cpu")
    with pytest.raises(UsageError, match=r"--error-iou / --background-iou: error thresholds need 0 < background < foreground"):
        opts.error_thresholds(0.5, 0.6)
