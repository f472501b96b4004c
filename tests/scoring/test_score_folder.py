"""Where the score of a predictions file may go (issue 25, R16 and R17): into a new or
empty folder, or over an earlier score of a predictions file; never into a folder that
padt-eval did not create, nor into a model run's folder, running or finished. A refusal
names the folder and suggests a new one, and writes nothing."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from padt_eval import api
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions
from padt_eval.results.ownership import SIGNATURE_FILE, read_signature
from tests.helpers import run_colour_finder


@pytest.fixture(scope="module")
def preds(synth_root, tmp_path_factory):
    p = tmp_path_factory.mktemp("score_folder") / "preds.jsonl"
    make_predictions(open_split("refcoco_val", Task.REC, data_root=synth_root), p, seed=3)
    return p


@pytest.fixture(scope="module")
def model_run(synth_root, tmp_path_factory):
    return run_colour_finder(dict(split="refcoco_val", data_root=synth_root), tmp_path_factory.mktemp("mr") / "run")


def _score(synth_root, preds, out, task=Task.REC):
    return api.score(
        task, "refcoco_val", PredictionsOptions(preds), data=DataOptions(data_root=synth_root), output=OutputOptions(out)
    )


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def _suggested(message: str) -> Path:
    return Path(re.search(r"--out (\S+)", message).group(1))


FOREIGN = {
    "metrics.json": json.dumps({"accuracy": 0.9}),
    "manifest.json": json.dumps({"tool": "other"}),
    "per_sample.jsonl": json.dumps({"id": 1}) + "\n",
}


@pytest.mark.parametrize("contents", [{"thesis.tex": "\\section{x}"}, FOREIGN], ids=["user folder", "foreign results"])
def test_R17_a_score_never_replaces_files_in_a_folder_padt_eval_did_not_create(synth_root, preds, tmp_path, contents):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, text in contents.items():
        (folder / name).write_text(text)
    before = _snapshot(folder)
    with pytest.raises(UsageError) as e:
        _score(synth_root, preds, folder)
    msg = str(e.value)
    assert str(folder) in msg and SIGNATURE_FILE in msg
    assert _snapshot(folder) == before
    suggestion = _suggested(msg)
    assert suggestion.parent == folder and not suggestion.exists()
    result = _score(synth_root, preds, suggestion)  # the suggested folder works
    assert result.out_dir == suggestion and (suggestion / "metrics.json").is_file()
    assert read_signature(suggestion)["kind"] == "scored-file"
    assert {k: v for k, v in _snapshot(folder).items() if not k.startswith(suggestion.name)} == before


def test_R17_the_cli_refuses_with_exit_2(synth_root, preds, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, text in FOREIGN.items():
        (folder / name).write_text(text)
    cmd = [sys.executable, "-m", "padt_eval.cli", "rec", "-s", "refcoco_val", "--data-root", str(synth_root)]
    done = subprocess.run([*cmd, "-p", str(preds), "-o", str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "--out" in done.stderr
    assert json.loads((folder / "metrics.json").read_text()) == {"accuracy": 0.9}


@pytest.mark.parametrize("signed", [True, False], ids=["this version", "from before signatures"])
def test_R16_a_score_never_goes_into_a_finished_model_run(synth_root, preds, model_run, tmp_path, signed):
    run_dir = tmp_path / "run"
    shutil.copytree(model_run.out_dir, run_dir)
    if not signed:
        (run_dir / SIGNATURE_FILE).unlink(missing_ok=True)
    before = _snapshot(run_dir)
    for source in (preds, run_dir / "predictions.jsonl"):  # another file, or the run's own under another name
        with pytest.raises(UsageError) as e:
            api.score(
                Task.RES,
                "refcoco_val",
                PredictionsOptions(source),
                data=DataOptions(data_root=synth_root),
                output=OutputOptions(run_dir),
            )
        msg = str(e.value)
        assert "model run" in msg and str(run_dir) in msg
        assert _suggested(msg).parent == run_dir.parent
    assert _snapshot(run_dir) == before


HOLD = """
import sys, time
from pathlib import Path
from padt_eval.runner.run_lock import RunLock
lock = RunLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(600)
"""


def test_R16_a_score_never_goes_into_a_running_model_run(synth_root, preds, model_run, tmp_path):
    running = tmp_path / "running"
    shutil.copytree(model_run.out_dir, running)
    for name in ("metrics.json", "manifest.json", "per_sample.jsonl", "predictions.jsonl", "report.html"):
        (running / name).unlink(missing_ok=True)  # what a run folder holds while its ranks compute
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(running)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _snapshot(running)
        with pytest.raises(UsageError, match="model run"):
            _score(synth_root, preds, running, Task.RES)
        assert _snapshot(running) == before and not (running / "metrics.json").exists()
    finally:
        holder.kill()
        holder.wait()


def test_rescoring_into_an_earlier_score_replaces_it(synth_root, preds, tmp_path):
    out = tmp_path / "score"
    first = _score(synth_root, preds, out)
    signature = read_signature(out)
    again = _score(synth_root, preds, out, Task.RES)
    assert again.out_dir == out and read_signature(out) == signature
    assert json.loads((out / "metrics.json").read_text())["task"] == "res" != first.task.value
