"""Faults that are not a bad predictions line: each ends in one message naming what and
where, with the documented exit code, and keeps what was computed."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions
from padt_eval.runner.shards import read_all
from padt_eval.runner.worker import FAULT_ENV

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def preds(synth_root, tmp_path_factory):
    p = tmp_path_factory.mktemp("failures") / "preds.jsonl"
    make_predictions(open_split("refcoco_val", Task.REC, data_root=synth_root), p, seed=3)
    return p


def _model_run(synth_root, out, *extra):
    return [
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
        "--loader-workers",
        "0",
        "-b",
        "4",
        *extra,
    ]


def _kept(run_dir) -> int:
    return len({p.sample_id for _, _, p in read_all(run_dir)})


# -- item 3: file system errors, Java -----------------------------------------------------
def test_read_only_results_folder_exits_2_naming_the_folder(synth_root, preds, tmp_path, monkeypatch):
    out = tmp_path / "ro" / "run"

    def read_only(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr("padt_eval.scoring.score.RunWriter", read_only)
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert f"error: Read-only file system (EROFS): {out}" in r.output and "Traceback" not in r.output


def test_disk_full_at_the_merge_keeps_the_shards_and_resumes(synth_root, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def full(run_dir, reader):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run_dir / "predictions.jsonl"))

    monkeypatch.setattr("padt_eval.runner.orchestrate.merge_shards", full)
    r = runner.invoke(app, _model_run(synth_root, out))
    assert r.exit_code == 2, r.output
    assert f"error: No space left on device (ENOSPC): {out / 'predictions.jsonl'}; what was computed before is kept" in r.output
    n = len(open_split("refcoco_val", Task.RES, data_root=synth_root))
    assert _kept(out) == n  # every prediction is still in the shards
    monkeypatch.undo()
    r = runner.invoke(app, _model_run(synth_root, out))
    assert r.exit_code == 0, r.output
    assert "run: 0 samples" in r.output and "resumed an earlier run" in r.output


def test_a_rank_that_left_no_readable_error_on_a_full_disk_says_so(tmp_path, monkeypatch):
    """The disk is full, so the rank's error file is empty and torch reports a JSON decode
    error: the message must show the full disk, not only that."""
    import collections

    import torch.distributed.launcher.api as launcher_api

    from padt_eval.options import ModelOptions
    from padt_eval.runner.job import RunJob
    from padt_eval.runner.launch import RankFailed, launch

    def launcher(config, entrypoint):
        def run(*args):
            raise json.JSONDecodeError("Expecting value", "", 0)

        return run

    monkeypatch.setattr(launcher_api, "elastic_launch", launcher)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr("padt_eval.core.failures.shutil.disk_usage", lambda path: usage(100, 100, 0))
    job = RunJob(task="res", split="refcoco_val", model=ModelOptions("colour-finder", "colour-finder"), out_dir=tmp_path)
    with pytest.raises(RankFailed) as e:
        launch(job, 2, tmp_path / "logs")
    assert e.value.exit_code == 2
    assert "Expecting value" in str(e.value) and f"the disk holding {tmp_path} is full (0 bytes free; ENOSPC)" in str(e.value)


@pytest.mark.slow
def test_disk_full_inside_a_rank_shows_enospc(synth_root, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setenv(FAULT_ENV, "1:1:enospc")
    r = runner.invoke(app, _model_run(synth_root, out, "--workers", "2"))
    assert r.exit_code == 2 and "Traceback (most recent call last)" not in r.output.split("rank 1:")[0]
    assert "No space left on device" in r.output and "Expecting value" not in r.output
    assert "the predictions already written are kept" in r.output


def test_a_java_that_exits_1_is_named(coco_root, tmp_path, monkeypatch):
    from padt_eval.demo.ovd_ric import make_ric_predictions
    from padt_eval.demo.synthetic import as_val2017, make_world

    if shutil.which("java") is None:
        pytest.skip("writing the RIC predictions computes their expected scores with Java")
    preds = tmp_path / "ric.jsonl"
    make_ric_predictions(as_val2017(make_world(10, seed=9, first_image_id=500)), preds, seed=1)
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: could not open jvm.cfg' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    r = runner.invoke(app, ["ric", "--data-root", str(coco_root), "-p", str(preds), "-o", str(tmp_path / "run")])
    assert r.exit_code == 2, r.output
    assert f"`{fake} -version` exits with code 1: Error: could not open jvm.cfg" in r.output
    assert "max() arg" not in r.output and "Traceback" not in r.output


def test_ovd_polygon_with_a_string_names_file_and_annotation(coco_root, tmp_path):
    data = json.loads((coco_root / "coco" / "annotations" / "instances_val2017.json").read_text())
    ann = next(a for a in data["annotations"] if isinstance(a.get("segmentation"), list))
    ann["segmentation"][0][1] = "12.5px"
    f = tmp_path / "instances.json"
    f.write_text(json.dumps(data))
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"sample_id": str(ann["image_id"]), "objects": []}) + "\n")
    r = runner.invoke(
        app,
        ["ovd", "-s", str(f), "--image-root", str(coco_root / "coco" / "val2017"), "-p", str(preds), "-o", str(tmp_path / "run")],
    )
    assert r.exit_code == 2, r.output
    assert (
        f"{f}: image {ann['image_id']!r}: annotation {ann['id']!r}: polygon 0, coordinate 1 must be a finite number, got '12.5px'"
        in r.output
    )


# -- item 4: Ctrl-C ------------------------------------------------------------------------
def test_ctrl_c_in_a_single_rank_run_says_what_was_kept(synth_root, tmp_path, monkeypatch):
    out = tmp_path / "run"
    n = len(open_split("refcoco_val", Task.RES, data_root=synth_root))
    monkeypatch.setenv(FAULT_ENV, "0:2:sigint")  # Ctrl-C after two batches of 4
    r = runner.invoke(app, _model_run(synth_root, out))
    assert r.exit_code == 130, r.output
    kept = _kept(out)
    assert 0 < kept < n
    assert f"interrupted: {kept} of {n} predictions kept in {out}; rerun the same command to resume" in r.output
    monkeypatch.delenv(FAULT_ENV)
    r = runner.invoke(app, _model_run(synth_root, out))
    assert r.exit_code == 0 and f"run: {n - kept} samples" in r.output


def test_ctrl_c_while_scoring_a_file_exits_130(synth_root, preds, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("padt_eval.scoring.score._chunks", interrupted)
    r = runner.invoke(
        app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(tmp_path / "run")]
    )
    assert r.exit_code == 130 and "interrupted: nothing was lost; rerun the same command" in r.output
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_in_a_multi_rank_run(synth_root, tmp_path):
    """SIGINT to the launcher's process group, as a terminal sends it: exit 130 and the
    message, not torch's "Process N got signal: 2"."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "padt_eval.cli", *_model_run(synth_root, out, "--workers", "2", "-O", "delay_s=0.5")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while _kept(out) < 4 if (out / "shards").is_dir() else True:  # both ranks under way
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    n = len(open_split("refcoco_val", Task.RES, data_root=synth_root))
    kept = _kept(out)
    assert proc.returncode == 130, stdout + stderr
    assert f"interrupted: {kept} of {n} predictions kept in {out}; rerun the same command to resume" in stderr
    assert "got signal" not in stdout + stderr and "Traceback" not in stdout + stderr


# -- item 7: empty inputs, --strict ----------------------------------------------------------
def test_empty_predictions_file_is_warned_and_recorded(synth_root, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "run"
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(empty), "-o", str(out)])
    assert r.exit_code == 0, r.output
    message = f"the predictions file {empty} is empty: every sample scores as a miss"
    assert f"warning: {message}" in r.output
    assert json.loads((out / "metrics.json").read_text())["warnings"] == [message]


def test_strict_is_refused_with_a_model(synth_root, tmp_path):
    r = runner.invoke(app, _model_run(synth_root, tmp_path / "run", "--strict"))
    assert r.exit_code == 2 and "--strict checks the lines of a predictions file" in r.output
    assert not (tmp_path / "run").exists()


# -- item 8: no image folder needed to score a file ------------------------------------------
def test_scoring_needs_no_image_folder(synth_root, coco_root, preds, tmp_path):
    no_images = tmp_path / "ref"
    shutil.copytree(synth_root, no_images, ignore=shutil.ignore_patterns("train2014"))
    ref = runner.invoke(
        app,
        ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(tmp_path / "a"), "--no-report"],
    )
    r = runner.invoke(
        app,
        ["rec", "-s", "refcoco_val", "--data-root", str(no_images), "-p", str(preds), "-o", str(tmp_path / "b"), "--no-report"],
    )
    assert r.exit_code == 0, r.output
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text())["metrics"] for d in "ab"]
    assert ref.exit_code == 0 and metrics[0] == metrics[1]
    # a model run reads images: there the folder is still required
    r = runner.invoke(app, _model_run(no_images, tmp_path / "c"))
    assert r.exit_code == 2 and "no COCO train2014 image folder" in r.output
    coco_no_images = tmp_path / "coco"
    shutil.copytree(coco_root, coco_no_images, ignore=shutil.ignore_patterns("val2017"))
    ovd = tmp_path / "ovd.jsonl"
    ovd.write_text(json.dumps({"sample_id": "500", "objects": [{"bbox": [0, 0, 5, 5], "label": "circle", "score": 0.5}]}) + "\n")
    r = runner.invoke(app, ["ovd", "--data-root", str(coco_no_images), "-p", str(ovd), "-o", str(tmp_path / "d"), "--no-report"])
    assert r.exit_code == 0, r.output


# -- item 9: COCO errors point at the user's file ----------------------------------------------
@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("images"), "not a COCO instances file (no 'images' list) and not a PaDT COCO JSONL (no 'objects')"),
        (lambda d: d["images"].append(dict(d["images"][0])), "appears more than once in 'images'"),
        (lambda d: d.update(images=[], annotations=[]), "the instances file lists no images"),
        (None, "the file is empty"),
    ],
)
def test_coco_errors_name_the_users_file(coco_root, tmp_path, mutate, message):
    data = json.loads((coco_root / "coco" / "annotations" / "instances_val2017.json").read_text())
    f = tmp_path / "my_instances.json"
    if mutate is None:
        f.write_text("")
    else:
        mutate(data)
        f.write_text(json.dumps(data))
    preds = tmp_path / "p.jsonl"
    preds.write_text("")
    r = runner.invoke(
        app,
        ["ovd", "-s", str(f), "--image-root", str(coco_root / "coco" / "val2017"), "-p", str(preds), "-o", str(tmp_path / "run")],
    )
    assert r.exit_code == 2, r.output
    assert f"error: {f}: " in r.output and message in r.output and "--gt padt-filtered" not in r.output
    assert ".cache" not in r.output and "cache" not in r.output.split(str(f))[-1]


# -- item 10: output a person reads -------------------------------------------------------------
def test_help_reads_well_when_piped():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "<bool>" not in r.output and "--version" in r.output
    lines = r.output.splitlines()
    # each command's summary on one line: the first paragraph of its docstring, whole
    demo = next(line for line in lines if line.strip().startswith("demo "))
    assert demo.strip().endswith("each number checked independently.")
    r = runner.invoke(app, ["rec", "--help"])
    assert "<bool>" not in r.output and "padt-eval[vllm]" in r.output and "--max-pixels 1003520" in r.output
    assert "--strict " in r.output


def test_counts_line_reads_once():
    from padt_eval.report.console import counts_line

    assert (
        counts_line({"n_samples": 242, "n_predicted": 242, "n_no_object": 242})
        == "242 samples: 0 with an object; misses: 242 with no object"
    )
    assert counts_line({"n_samples": 5, "n_predicted": 3, "n_no_object": 1, "n_missing": 1, "n_parse_failed": 1}) == (
        "5 samples: 2 with an object; misses: 1 with no object, 1 missing, 1 unparseable"
    )
    assert counts_line({"n_samples": 2, "n_predicted": 2}) == "2 samples: 2 with an object"


def test_library_chatter_goes_to_the_log(tmp_path, capfd):
    import warnings

    from padt_eval.core.library_log import library_output_to

    log = tmp_path / "logs" / "libraries.log"
    with library_output_to(log):
        warnings.warn("`past_key_values` is deprecated", FutureWarning, stacklevel=1)
        os.write(2, b"PTBTokenizer tokenized 272 tokens\n")
        subprocess.run(["sh", "-c", "echo Loading weights >&2"], check=True)
    print("after")
    captured = capfd.readouterr()
    assert "deprecated" not in captured.err and "PTBTokenizer" not in captured.err and "Loading weights" not in captured.err
    text = log.read_text()
    assert (
        "FutureWarning: `past_key_values` is deprecated" in text
        and "PTBTokenizer tokenized" in text
        and "Loading weights" in text
    )
    with library_output_to(tmp_path / "quiet" / "libraries.log"):
        pass
    assert not (tmp_path / "quiet").exists()  # nothing said, no log


def test_unknown_family_and_format_get_a_did_you_mean():
    from padt_eval.core.errors import UsageError
    from padt_eval.models.base import get_family
    from padt_eval.models.coords import get_format

    with pytest.raises(UsageError, match=r"unknown model family 'qwen2.5_vl' \(did you mean 'qwen2_5_vl'\?\)"):
        get_family("qwen2.5_vl")
    with pytest.raises(UsageError, match=r"unknown --format 'internvl3' \(did you mean 'internvl'\?\)"):
        get_format("internvl3")
