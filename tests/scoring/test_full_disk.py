"""Scoring into a disk that fills up (F03, F04, F05), on a real full disk.

Each test mounts a tmpfs of a few pages in a private mount namespace (`unshare -rm`, no
root needed where user namespaces are allowed; skipped elsewhere) and scores the demo
predictions into it, with the disk sized so that it fills while a given file is written:
per_sample.jsonl (F03), manifest.json (F04), metrics.json (F05). Each must end with exit
2 and a message naming that file, and leave no result file and no temporary file: a
folder holds either a complete result or none.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions

REPO = Path(__file__).resolve().parents[2]
PAGE = 4096  # tmpfs counts whole pages
RESULT_FILES = ("per_sample.jsonl", "manifest.json", "metrics.json")


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=4k none $d && umount $d && rmdir $d"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces_work(), reason="needs unprivileged user and mount namespaces (unshare -rm)")


@pytest.fixture(scope="module")
def preds(synth_root, tmp_path_factory):
    p = tmp_path_factory.mktemp("full_disk") / "preds.jsonl"
    make_predictions(open_split("refcoco_val", Task.REC, data_root=synth_root), p, seed=3)
    return p


def _score_cmd(synth_root: Path, preds: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "padt_eval.cli", "rec", "-s", "refcoco_val", "--data-root", str(synth_root),
        "-p", str(preds), "-o", str(out), "--no-report",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def pages(synth_root, preds, tmp_path_factory) -> dict[str, int]:
    """Pages each result file takes, from a scoring on a disk with room; "before": the
    pages of what the scoring writes before them (the folder's signature)."""
    out = tmp_path_factory.mktemp("roomy") / "run"
    r = subprocess.run(_score_cmd(synth_root, preds, out), env=_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    size = {p.name: -(-p.stat().st_size // PAGE) for p in out.iterdir() if p.is_file()}
    return {**{name: size.pop(name) for name in RESULT_FILES}, "before": sum(size.values())}


def _score_on_a_small_disk(synth_root: Path, preds: Path, mount: Path, n_pages: int) -> tuple[int, str, list[str]]:
    """(exit code, stderr, what the run folder holds) for a scoring into a tmpfs of `n_pages`."""
    mount.mkdir()
    out = mount / "run"
    script = (
        f"mount -t tmpfs -o size={n_pages * PAGE} none {shlex.quote(str(mount))} || exit 99\n"
        f"{shlex.join(_score_cmd(synth_root, preds, out))}\n"
        "rc=$?\n"
        f"echo '--- listing'; ls -A {shlex.quote(str(out))} 2>/dev/null; exit $rc\n"
    )
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode != 99, r.stderr
    listing = r.stdout.split("--- listing", 1)[1].split()
    return r.returncode, r.stderr, listing


def _check(rc: int, stderr: str, listing: list[str], out: Path, full_at: str) -> None:
    assert rc == 2, stderr
    assert f"error: No space left on device (ENOSPC): {out / full_at}" in stderr, stderr
    assert "Traceback" not in stderr
    assert not [f for f in listing if f in RESULT_FILES or f.endswith((".partial", ".tmp"))], listing


@needs_namespaces
def test_F03_disk_full_while_per_sample_is_written(synth_root, preds, pages, tmp_path):
    rc, stderr, listing = _score_on_a_small_disk(
        synth_root, preds, tmp_path / "disk", pages["before"] + pages["per_sample.jsonl"] - 1
    )
    _check(rc, stderr, listing, tmp_path / "disk" / "run", "per_sample.jsonl")


@needs_namespaces
def test_F04_disk_full_while_the_manifest_is_written(synth_root, preds, pages, tmp_path):
    rc, stderr, listing = _score_on_a_small_disk(
        synth_root, preds, tmp_path / "disk", pages["before"] + pages["per_sample.jsonl"]
    )
    _check(rc, stderr, listing, tmp_path / "disk" / "run", "manifest.json")


@needs_namespaces
def test_F05_disk_full_while_the_metrics_are_written(synth_root, preds, pages, tmp_path):
    n = pages["before"] + pages["per_sample.jsonl"] + pages["manifest.json"]
    rc, stderr, listing = _score_on_a_small_disk(synth_root, preds, tmp_path / "disk", n)
    _check(rc, stderr, listing, tmp_path / "disk" / "run", "metrics.json")


def test_F03_the_writer_on_dev_full_names_the_file_and_leaves_nothing(tmp_path):
    """The same without namespaces: /dev/full fails every flush with ENOSPC, naming no
    file, as a full disk does; closing it fails again."""
    import errno

    from padt_eval.results.writer import RunWriter

    out = tmp_path / "run"
    writer = RunWriter(out)
    writer._per_sample.close()
    writer._per_sample = open("/dev/full", "wb")  # noqa: SIM115 — the writer closes it
    with pytest.raises(OSError) as e:
        try:
            for i in range(10_000):  # more than one buffer: a write itself fails
                writer.write_record({"sample_id": str(i), "iou": 0.5})
            writer.finish({"metrics": {}}, {"manifest": 1})
        except BaseException:
            writer.abort()
            raise
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(out / "per_sample.jsonl")
    assert list(out.iterdir()) == []
