"""Ranks joined by an outside launcher, on the CPU with gloo, two ways:

(a) two processes started by hand with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
    MASTER_PORT, as SLURM's `srun` starts them;
(b) `torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d` started twice, once per
    "node" (two nodes on one machine).

Each gives the metrics of a one-rank run, every sample id once, a manifest whose attempt
is the shards' attempt, and resumes correctly after one node is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from padt_eval.runner.shards import read_all
from padt_eval.runner.worker import FAULT_ENV

pytestmark = pytest.mark.slow
TIMEOUT_S = 300  # a hang guard only: a healthy round takes a fraction of it


@pytest.fixture(scope="module")
def data_root(synth_root, tmp_path_factory):
    """The synthetic split with one unreadable image: its samples fail, and the failures
    must be counted by whichever rank merges."""
    root = tmp_path_factory.mktemp("joined") / "data"
    shutil.copytree(synth_root, root)
    first = sorted((root / "coco" / "train2014").iterdir())[0]
    first.write_bytes(b"not an image")
    return root


@pytest.fixture(scope="module")
def one_rank(data_root, tmp_path_factory):
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    out = tmp_path_factory.mktemp("one") / "run"
    result = api.run_model(
        Task.RES,
        "refcoco_val",
        ModelOptions("colour-finder"),
        data=DataOptions(data_root=data_root),
        run=RunOptions(1, batch_size=4, loader_workers=0),
        output=OutputOptions(out),
    )
    assert result.counts["n_error"] > 0
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_args(data_root: Path, out: Path) -> list[str]:
    return [
        "res",
        "-s",
        "refcoco_val",
        "--data-root",
        str(data_root),
        "--model",
        "colour-finder",
        "-o",
        str(out),
        "-b",
        "4",
        "--loader-workers",
        "0",
    ]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", FAULT_ENV)
    }
    env.update(extra)
    return env


def _wait_all(procs: list[subprocess.Popen]) -> list[tuple[int, str]]:
    out = []
    for p in procs:
        try:
            text, _ = p.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append((p.returncode, text))
    return out


def _by_hand(data_root: Path, out: Path, fault_on_rank1: str | None = None) -> list[tuple[int, str]]:
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = _env(
            RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=port
        )
        if rank == 1 and fault_on_rank1:
            env[FAULT_ENV] = fault_on_rank1
        cmd = [sys.executable, "-m", "padt_eval.cli", *_cli_args(data_root, out)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return _wait_all(procs)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _torchrun(data_root: Path, out: Path, fault_on_killed_node: str | None = None) -> list[tuple[int, str]]:
    """Two torchrun agents, one per node. The node that may be killed starts first, so it
    hosts the rendezvous store: when it dies the other agent is not left waiting on it.
    The c10d rendezvous decides which rank a node gets, so its fault names any rank ("*")."""
    port = _free_port()
    procs = []
    for node in ("killed", "other"):
        env = _env(**({FAULT_ENV: fault_on_killed_node} if node == "killed" and fault_on_killed_node else {}))
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--max-restarts", "0",
            "-m", "padt_eval.cli", *_cli_args(data_root, out),
        ]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        if node == "killed":
            for _ in range(600):  # until the first agent serves the store
                if _listening(port) or procs[0].poll() is not None:
                    break
                time.sleep(0.1)
    return _wait_all(procs)


def _check_complete(out: Path, one_rank, resumed: bool):
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["metrics"] == one_rank.metrics and doc["counts"] == one_rank.counts
    answered = [p.sample_id for _, _, p in read_all(out) if p.parse_status != "error"]  # an error is retried by a rerun
    merged = [json.loads(line)["sample_id"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(answered) == len(set(answered)), "a sample was answered twice"
    assert len(merged) == len(set(merged)) == one_rank.counts["n_samples"], "a sample was merged twice or never"
    runner = json.loads((out / "manifest.json").read_text())["runner"]
    attempt = runner["attempt"]
    shard_attempts = {p.name.split(".rank")[0] for p in (out / "shards").glob("*.jsonl")}
    assert attempt in shard_attempts, f"manifest names attempt {attempt}, shards are {shard_attempts}"
    new = sum(1 for name, _, _ in read_all(out) if name.startswith(f"{attempt}."))
    assert runner["samples_this_attempt"] == new and runner["world_size"] == 2
    assert runner["resumed"] is resumed
    failed = sum(
        1 for name, _, p in read_all(out) if name.startswith(f"{attempt}.") and p.parse_status.value in ("error", "failed")
    )
    assert runner["failed_this_attempt"] == failed
    if not resumed:
        assert failed == one_rank.counts["n_error"] + one_rank.counts["n_parse_failed"] > 0
    assert not (out / "merge.lock").exists()
    return runner


def _check_kill_then_resume(out: Path, results: list[tuple[int, str]], rerun, one_rank) -> None:
    codes = [rc for rc, _ in results]
    assert any(rc != 0 for rc in codes), results
    assert not (out / "metrics.json").exists()
    before = len({p.sample_id for _, _, p in read_all(out) if p.parse_status != "error"})  # errors run again
    assert 0 < before < one_rank.counts["n_samples"]
    results = rerun()
    assert all(rc == 0 for rc, _ in results), results
    assert any(f"resuming: {before} of {one_rank.counts['n_samples']} done" in text for _, text in results)
    runner = _check_complete(out, one_rank, resumed=True)
    assert runner["samples_this_attempt"] == one_rank.counts["n_samples"] - before


def test_ranks_started_by_hand(data_root, one_rank, tmp_path):
    out = tmp_path / "run"
    results = _by_hand(data_root, out)
    assert all(rc == 0 for rc, _ in results), results
    _check_complete(out, one_rank, resumed=False)
    assert not any("resumed an earlier run" in text for _, text in results)


def test_ranks_started_by_hand_resume_after_a_sigkill(data_root, one_rank, tmp_path):
    out = tmp_path / "run"
    results = _by_hand(data_root, out, fault_on_rank1="1:1:kill")
    assert results[1][0] == -signal.SIGKILL, results
    _check_kill_then_resume(out, results, lambda: _by_hand(data_root, out), one_rank)


def test_torchrun_two_nodes(data_root, one_rank, tmp_path):
    out = tmp_path / "run"
    results = _torchrun(data_root, out)
    assert all(rc == 0 for rc, _ in results), results
    _check_complete(out, one_rank, resumed=False)


def test_torchrun_two_nodes_resume_after_a_node_is_killed(data_root, one_rank, tmp_path):
    out = tmp_path / "run"
    results = _torchrun(data_root, out, fault_on_killed_node="*:1:kill")  # its rank SIGKILLs itself after one batch
    _check_kill_then_resume(out, results, lambda: _torchrun(data_root, out), one_rank)
