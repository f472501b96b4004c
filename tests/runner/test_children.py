"""Ranks leave nothing behind, and a finished run is not relaunched.

A rank SIGKILLed mid-run used to leave its DataLoader workers and multiprocessing's
resource tracker alive, re-parented to init (one was found 34 minutes later). Here the
launcher runs in a session of its own; once it has exited, every process of that session
must be gone (polled for a bounded time: no wall-clock assertion, only "gone or not").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
from padt_eval.runner.children import loader_context
from padt_eval.runner.worker import FAULT_ENV

GONE_WITHIN_S = 10.0  # how long to look before calling a survivor a survivor


def _session_members(sid: int) -> list[tuple[int, str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append((int(entry.name), cmdline[:120]))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_no_process_of_the_run_survives_a_sigkilled_rank(synth_root, tmp_path):
    cmd = [
        sys.executable, "-m", "padt_eval.cli", "res", "-s", "refcoco_val", "--data-root", str(synth_root),
        "--model", "colour-finder", "-O", "delay_s=0.05", "-o", str(tmp_path / "run"), "-b", "2",
        "--workers", "2", "--loader-workers", "2",
    ]  # fmt: skip
    env = {**os.environ, FAULT_ENV: "1:2:kill"}
    log = tmp_path / "launcher.log"  # a file, not a pipe: a surviving child must not keep us waiting on it
    with open(log, "w") as f:
        launcher = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        launcher.wait(timeout=300)
        output = log.read_text()
        assert launcher.returncode == 1 and "rank 1: killed by a signal (SIGKILL)" in output, output
        deadline = time.monotonic() + GONE_WITHIN_S
        left = _session_members(launcher.pid)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = _session_members(launcher.pid)
        assert not left, f"processes of the run outlived it: {left}"
    finally:
        for pid, _ in _session_members(launcher.pid):  # only this test's own session
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def test_loader_start_method():
    """fork on CPU ranks (nothing re-imported), forkserver with preloaded modules on CUDA
    ranks (a process with CUDA initialised must not fork)."""
    assert loader_context("cpu", []).get_start_method() == "fork"
    assert loader_context("cuda:0", ["padt_eval.demo.colour_finder"]).get_start_method() == "forkserver"


@pytest.mark.slow
def test_a_finished_run_is_not_relaunched(synth_root, tmp_path, capfd):
    kw = dict(
        data=DataOptions(data_root=synth_root),
        run=RunOptions(2, batch_size=4, loader_workers=0),
        output=OutputOptions(tmp_path / "run"),
    )
    first = api.run_model(Task.RES, "refcoco_val", ModelOptions("colour-finder"), **kw)
    capfd.readouterr()
    again = api.run_model(Task.RES, "refcoco_val", ModelOptions("colour-finder"), **kw)
    assert again.metrics == first.metrics
    err = capfd.readouterr().err
    n = first.counts["n_samples"]
    assert f"resuming: {n} of {n} done" in err and "nothing to run" in err
    runner = json.loads((tmp_path / "run" / "manifest.json").read_text())["runner"]
    assert runner["attempt"] is None and runner["samples_this_attempt"] == 0 and runner["per_rank"] == []
    assert len(list((tmp_path / "run" / "plan").glob("*.json"))) == 1, "ranks were launched for a finished run"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_each_loader_start_method_gives_the_same_predictions(synth_root, tmp_path, monkeypatch, method):
    """forkserver is what CUDA ranks use; on the CPU it runs the same code path."""
    from padt_eval.runner.children import START_METHOD_ENV

    model, data = ModelOptions("colour-finder"), DataOptions(data_root=synth_root)
    inline = api.run_model(
        Task.RES,
        "refcoco_val",
        model,
        data=data,
        run=RunOptions(1, batch_size=4, loader_workers=0),
        output=OutputOptions(tmp_path / "inline"),
    )
    monkeypatch.setenv(START_METHOD_ENV, method)
    workers = api.run_model(
        Task.RES,
        "refcoco_val",
        model,
        data=data,
        run=RunOptions(1, batch_size=4, loader_workers=2),
        output=OutputOptions(tmp_path / method),
    )
    assert workers.metrics == inline.metrics and workers.counts == inline.counts
    strip = lambda p: [{k: v for k, v in json.loads(line).items() if k != "meta"} for line in p.read_text().splitlines()]  # noqa: E731
    assert strip(tmp_path / method / "predictions.jsonl") == strip(tmp_path / "inline" / "predictions.jsonl")
