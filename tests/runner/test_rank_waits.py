"""Ranks started by hand (as `srun` starts them) that wait for each other: every wait says
whom it waits for and where, ends after --rank-timeout, and a refused rank releases the
others at once (J04, J06). On the CPU with gloo, on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from padt_eval.runner.run_lock import RunLock
from padt_eval.runner.worker import FAULT_ENV

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
GUARD_S = 150  # a hang guard only (torch's own wait was 1,800 s); each run here takes seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, data_root: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", FAULT_ENV)
    }
    env.update(
        PYTHONPATH=str(REPO), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1",
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    cmd = [
        sys.executable, "-m", "padt_eval.cli", "res", "-s", "refcoco_val", "--data-root", str(data_root),
        "--model", "colour-finder", "-o", str(out), "-b", "4", "--loader-workers", "0", *extra,
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(*procs: subprocess.Popen) -> list[tuple[int, str]]:
    out = []
    try:
        for p in procs:
            _, stderr = p.communicate(timeout=GUARD_S)
            out.append((p.returncode, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return out


def test_J04_a_refused_rank_0_releases_the_others_at_once(synth_root, tmp_path):
    """Rank 0 is refused (another run holds the folder); rank 1, with the default
    --rank-timeout of 30 minutes, stops as soon as rank 0 is refused, with its reason."""
    out = tmp_path / "run"
    out.mkdir()
    port = _free_port()
    with RunLock.acquire(out):  # "another run" holds the folder
        (rc0, err0), (rc1, err1) = _finish(_rank(0, port, synth_root, out), _rank(1, port, synth_root, out))
    assert rc0 == 2 and "error:" in err0, err0
    reason = err0.split("error:", 1)[1].strip().splitlines()[0]
    assert rc1 == rc0, err1
    assert f"rank 0 was refused, so rank 1 stops too: {reason}" in " ".join(err1.split()), err1
    assert "Traceback" not in err0 + err1


def test_J06_rank_0_waits_aloud_for_a_rank_that_never_comes_then_gives_up(synth_root, tmp_path):
    out = tmp_path / "run"
    port = _free_port()
    ((rc, err),) = _finish(_rank(0, port, synth_root, out, "--rank-timeout", "0.1"))  # 6 s
    text = " ".join(err.split())
    assert rc == 124, err
    assert f"rank 0: waiting for rank(s) 1 of 2 to join at 127.0.0.1:{port}" in text, err
    assert f"rank 0: rank(s) 1 of 2 did not join at 127.0.0.1:{port} within 6 s (--rank-timeout)" in text, err
    with RunLock.acquire(out):  # the folder is free again
        pass


def test_J06_rank_1_waits_aloud_for_rank_0s_store_then_gives_up(synth_root, tmp_path):
    port = _free_port()
    ((rc, err),) = _finish(_rank(1, port, synth_root, tmp_path / "run", "--rank-timeout", "0.1"))
    text = " ".join(err.split())
    assert rc == 124, err
    assert f"rank 1: waiting for rank 0's store at 127.0.0.1:{port}" in text, err
    assert f"rank 1: rank 0's store at 127.0.0.1:{port} did not come up within 6 s (--rank-timeout)" in text, err
