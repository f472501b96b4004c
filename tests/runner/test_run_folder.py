"""Run folders cannot be broken or wiped: one run at a time, --overwrite only on run
folders, duplicates from a crashed concurrent run merged to one copy, protocol and the
resolved device/dtype in the run's identity."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from padt_eval import api
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task
from padt_eval.runner.fingerprint import RUN_FILE, claim_run_dir, fingerprint
from padt_eval.runner.run_lock import LOCK_FILE, RunFolderBusy
from tests.helpers import run_colour_finder


@pytest.fixture(scope="module")
def split(synth_root):
    return dict(split="refcoco_val", data_root=synth_root)


_run = run_colour_finder


@pytest.fixture(scope="module")
def done(split, tmp_path_factory):
    return _run(split, tmp_path_factory.mktemp("done") / "run")


# -- one run at a time -----------------------------------------------------------------
HOLD = """
import sys, time
from pathlib import Path
from padt_eval.runner.run_lock import RunLock
lock = RunLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(600)
"""


def test_a_second_run_into_a_busy_folder_is_refused_with_the_holder(split, tmp_path, capfd):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy) as e:
            _run(split, out)
        msg = str(e.value)
        assert f"pid {holder.pid}" in msg and "started 20" in msg and "another padt-eval run" in msg
        assert not (out / "shards").exists(), "the refused run computed samples"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The holder died without releasing anything: its lock is stale and is taken over.
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == holder.pid
    result = _run(split, out)
    assert result.counts["n_predicted"] == result.counts["n_samples"]
    assert f"took over the run-folder lock of a run that is gone (pid {holder.pid}" in capfd.readouterr().err


@pytest.mark.slow
def test_two_concurrent_runs_into_one_folder(split, tmp_path):
    """A real second run while the first computes: refused, the first finishes alone, every
    sample once (before the lock, both computed everything and every merge then failed)."""
    import time

    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "padt_eval.cli", "res", "-s", "refcoco_val", "--data-root", str(split["data_root"]),
        "--model", "colour-finder", "-O", "delay_s=0.1", "-o", str(out), "-b", "4", "--loader-workers", "0",
    ]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(3000):  # until the first run holds the folder and has started computing
            if (out / "shards").is_dir() or first.poll() is not None:
                break
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[0]
        with pytest.raises(RunFolderBusy, match=f"pid {first.pid} "):
            _run(split, out)
        output, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, output
    from padt_eval.runner.shards import read_all

    ids = [p.sample_id for _, _, p in read_all(out)]
    assert len(ids) == len(set(ids)) and (out / "metrics.json").is_file()


def test_the_lock_is_free_after_a_run(done, split):
    again = _run(split, done.out_dir)  # would be refused if the first run had kept it
    assert again.metrics == done.metrics


def test_duplicates_from_a_crashed_concurrent_run_keep_one_copy(done, split, tmp_path, capfd):
    out = tmp_path / "run"
    shutil.copytree(done.out_dir, out)
    (shard,) = (out / "shards").glob("*.jsonl")
    # What a second run into the same folder leaves: the same samples in another attempt.
    shutil.copy(shard, out / "shards" / "a29990101-000000-ffffff.rank0.jsonl")
    again = _run(split, out)
    assert again.metrics == done.metrics and again.counts == done.counts
    err = capfd.readouterr().err
    n = done.counts["n_samples"]
    assert f"{n} sample(s) had more than one prediction" in err and "kept the first copy of each" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runner"]["duplicates_kept_first"] == n
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == n == len({json.loads(line)["sample_id"] for line in lines})


# -- --overwrite -------------------------------------------------------------------------
def test_overwrite_refuses_a_folder_that_is_not_a_run_folder(split, tmp_path):
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "sub" / "data.bin").write_bytes(b"\0" * 10)
    for overwrite in (False, True):
        with pytest.raises(UsageError, match="is not a padt-eval run folder") as e:
            _run(split, folder, overwrite=overwrite)
        assert "even with --overwrite" in str(e.value)
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "sub" / "data.bin").stat().st_size == 10
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "sub"]  # not even a lock file was left


def test_overwrite_refuses_a_results_tree(done, split, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(done.out_dir, results / "rec-run")
    with pytest.raises(UsageError, match="is not a padt-eval run folder"):
        _run(split, results, overwrite=True)
    assert (results / "rec-run" / "metrics.json").is_file() and (results / "rec-run" / RUN_FILE).is_file()


def test_overwrite_replaces_a_run_folder(done, split, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(done.out_dir, out)
    (out / "shards" / "stray.jsonl").write_text("")
    again = _run(split, out, overwrite=True)
    assert again.metrics == done.metrics
    assert not (out / "shards" / "stray.jsonl").exists()
    assert json.loads((out / "manifest.json").read_text())["runner"]["resumed"] is False


# -- identity ------------------------------------------------------------------------------
def test_protocol_is_part_of_the_identity_and_the_default_folder(done, split, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(done.out_dir, out)
    with pytest.raises(UsageError) as e:
        _run(split, out, protocol="padt-release")
    assert 'protocol: "standard" → "padt-release"' in str(e.value)
    assert json.loads((out / "metrics.json").read_text())["protocol"]["name"] == "standard"  # not replaced
    standard = api.model_run_dir(Task.RES, "refcoco_val", "colour-finder")
    release = api.model_run_dir(Task.RES, "refcoco_val", "colour-finder", protocol="padt-release")
    assert standard != release and release.name.endswith("padt-release")


def _fp(family, device, options):
    from padt_eval.models.base import resolved_dtype_of

    return fingerprint(
        task="rec", split_files={"a": "0"}, model={"model": "m"}, family=family, options=options, prompt_template_hash="h",
        device=device, dtype=resolved_dtype_of(family, device, options),
    )  # fmt: skip


def _one_prediction(out):
    """What a run that computed a sample leaves (a run that computed nothing is no other run)."""
    (out / "shards").mkdir(exist_ok=True)
    (out / "shards" / "a1.rank0.jsonl").write_text(json.dumps({"sample_id": "1", "parse_status": "ok"}) + "\n")


@pytest.mark.parametrize("family, default", [("qwen2_5_vl", "float32"), ("padt", "float32")])
def test_dtype_as_resolved_not_as_typed(tmp_path, family, default):
    out = tmp_path / "run"
    out.mkdir()
    assert claim_run_dir(out, _fp(family, "cpu", {"max_new_tokens": 8}), False) is False
    _one_prediction(out)
    # --dtype float32 on the CPU is what the run used anyway: the same run, resumed
    assert claim_run_dir(out, _fp(family, "cpu", {"max_new_tokens": 8, "dtype": default}), False) is True
    with pytest.raises(UsageError) as e:
        claim_run_dir(out, _fp(family, "cpu", {"max_new_tokens": 8, "dtype": "bfloat16"}), False)
    assert f'resolved.dtype: "{default}" → "bfloat16"' in str(e.value)


def test_device_and_its_dtype_are_in_the_identity(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    claim_run_dir(out, _fp("qwen2_5_vl", "cuda", {}), False)  # started on GPUs: bf16 by default
    _one_prediction(out)
    with pytest.raises(UsageError) as e:
        claim_run_dir(out, _fp("qwen2_5_vl", "cpu", {}), False)  # resumed on the CPU: fp32
    msg = str(e.value)
    assert 'resolved.device: "cuda" → "cpu"' in msg and 'resolved.dtype: "bfloat16" → "float32"' in msg


def test_foreign_folder_check_happens_before_anything_is_written(tmp_path):
    from padt_eval.runner.fingerprint import check_run_dir

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "x").write_text("1")
    with pytest.raises(UsageError):
        check_run_dir(folder, {}, False)
    assert os.listdir(folder) == ["x"]
