"""Nothing a user owns is emptied or claimed by a model run (issue 25): padt-eval writes
only into folders it created (signed `.padt-eval-run`), `--overwrite` empties only those
and only of its own files, options are checked before a folder is claimed, a refused run
leaves no lock, a clean end leaves no stale lock record, and a rerun retries the samples
that ended in error. Test names carry the failure codes of the issue."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.errors import UsageError
from padt_eval.results.ownership import SIGNATURE_FILE, read_signature
from padt_eval.runner.run_lock import LOCK_FILE
from tests.helpers import run_colour_finder as _run

runner = CliRunner()


@pytest.fixture(scope="module")
def split(synth_root):
    return dict(split="refcoco_val", data_root=synth_root)


@pytest.fixture(scope="module")
def done(split, tmp_path_factory):
    return _run(split, tmp_path_factory.mktemp("own") / "run")


def _snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder` with the sha256 of its bytes ("dir" for folders)."""
    return {
        str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def _user_folder(root: Path, foreign: dict[str, str]) -> Path:
    folder = root / "thesis"
    (folder / "data").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}\n")
    (folder / "data" / "table.csv").write_text("a,b\n1,2\n")
    for name, text in foreign.items():
        (folder / name).write_text(text)
    return folder


FOREIGN_RUN = {"run.json": json.dumps({"tool": "other", "seed": 1})}
FOREIGN_SCORE = {"metrics.json": json.dumps({"acc": 0.5}), "manifest.json": json.dumps({"by": "other"})}


# -- R13: --overwrite never empties a folder padt-eval did not create ----------------------------
@pytest.mark.parametrize("foreign", [FOREIGN_RUN, FOREIGN_SCORE], ids=["run.json", "metrics+manifest"])
def test_R13_overwrite_keeps_a_user_folder_with_another_tools_files(split, tmp_path, foreign):
    folder = _user_folder(tmp_path, foreign)
    before = _snapshot(folder)
    with pytest.raises(UsageError) as e:
        _run(split, folder, overwrite=True)
    msg = str(e.value)
    assert str(folder) in msg and "even with --overwrite" in msg and SIGNATURE_FILE in msg
    assert _snapshot(folder) == before  # thesis.tex, data/ and the foreign files, byte for byte; no lock file


def test_R13_an_unsigned_padt_eval_run_is_not_emptied_but_resumes(done, split, tmp_path, capfd):
    """A run folder of a padt-eval from before signatures: --overwrite refuses it with a way
    out; the same command without --overwrite resumes it (and signs it)."""
    old = tmp_path / "old"
    shutil.copytree(done.out_dir, old)
    (old / SIGNATURE_FILE).unlink(missing_ok=True)
    before = _snapshot(old)
    with pytest.raises(UsageError) as e:
        _run(split, old, overwrite=True)
    assert f"rm -r {old}" in str(e.value) and "even with --overwrite" in str(e.value)
    assert _snapshot(old) == before
    again = _run(split, old)
    assert again.metrics == done.metrics
    assert json.loads((old / "manifest.json").read_text())["runner"]["samples_this_attempt"] == 0
    assert read_signature(old)["kind"] == "model-run"


def test_R13_overwrite_of_a_signed_run_keeps_files_padt_eval_did_not_write(done, split, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(done.out_dir, out)
    (out / "my_notes.txt").write_text("keep me")
    signature = read_signature(out)
    again = _run(split, out, overwrite=True)
    assert again.metrics == done.metrics
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert read_signature(out) == signature  # still the folder padt-eval made
    assert json.loads((out / "manifest.json").read_text())["runner"]["samples_this_attempt"] == done.counts["n_samples"]


# -- R11: a refused run leaves no lock file behind ---------------------------------------------
def test_R11_a_refused_run_leaves_no_lock_in_a_foreign_folder(split, tmp_path):
    folder = _user_folder(tmp_path, FOREIGN_RUN)
    with pytest.raises(UsageError):
        _run(split, folder)
    assert not (folder / LOCK_FILE).exists()
    assert sorted(p.name for p in folder.iterdir()) == ["data", "run.json", "thesis.tex"]


# -- R18: a clean end leaves no "run that is gone" ----------------------------------------------
def test_R18_a_clean_rerun_does_not_take_over_a_lock(done, split):
    """The rerun is another process (as a user's second command is): before, the first
    run's record stayed in run.lock and the rerun named it "a run that is gone"."""
    cmd = [sys.executable, "-m", "padt_eval.cli", "res", "-s", "refcoco_val", "--data-root", str(split["data_root"])]
    cmd += ["--model", "colour-finder", "-o", str(done.out_dir), "-b", "4", "--loader-workers", "0", "--no-report"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "took over" not in again.stderr and "nothing to run" in again.stderr
    assert (done.out_dir / LOCK_FILE).read_text() == ""  # released cleanly: no holder recorded


# -- R22: samples that ended in error are retried by a rerun -------------------------------------
def test_R22_a_rerun_retries_samples_that_ended_in_error(synth_root, tmp_path, capfd):
    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    image = sorted((root / "coco" / "train2014").iterdir())[0]
    saved = image.read_bytes()
    image.unlink()
    split = dict(split="refcoco_val", data_root=root)
    out = tmp_path / "run"
    first = _run(split, out)
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    errored = {x["sample_id"] for x in lines if x["parse_status"] == "error"}
    assert errored and len(errored) < len(lines)
    assert first.counts["n_samples"] == len(lines)

    image.write_bytes(saved)  # the cause is fixed
    capfd.readouterr()
    again = _run(split, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runner"]["samples_this_attempt"] == len(errored)  # only those, nothing else recomputed
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == len({x["sample_id"] for x in lines}) == first.counts["n_samples"]
    assert all(x["parse_status"] != "error" for x in lines)
    assert "more than one prediction" not in capfd.readouterr().err  # a retried error is no duplicate
    assert first.counts["n_error"] == len(errored) and again.counts["n_error"] == 0
    fresh = _run(dict(split="refcoco_val", data_root=synth_root), tmp_path / "fresh")
    assert again.metrics == fresh.metrics


# -- U13, U27: a bad option is refused before the folder is claimed ------------------------------
def _cli_run(synth_root, out, *extra):
    args = ["res", "-s", "refcoco_val", "--data-root", str(synth_root), "--model", "colour-finder", "-o", str(out)]
    return runner.invoke(app, [*args, "-b", "4", "--loader-workers", "0", *extra])


def test_U13_an_unknown_model_option_is_refused_before_anything_is_written(synth_root, tmp_path):
    out = tmp_path / "run"
    bad = _cli_run(synth_root, out, "-O", "delay_sec=0")
    assert bad.exit_code == 2, bad.output
    assert "delay_sec" in bad.output and "delay_s" in bad.output.replace("delay_sec", "")  # the key and the known ones
    assert not out.exists()
    good = _cli_run(synth_root, out, "-O", "delay_s=0")  # the corrected command is not "a different run"
    assert good.exit_code == 0, good.output
    assert (out / "metrics.json").is_file()


def test_U13_padt_options_are_checked_before_the_folder_is_claimed(synth_root, tmp_path):
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions

    out = tmp_path / "run"
    with pytest.raises(UsageError) as e:
        api.run_model(
            Task.REC,
            "refcoco_val",
            ModelOptions(str(tmp_path / "no-such-checkpoint"), "padt", {"max_new_token": 8}),
            data=DataOptions(data_root=synth_root),
            output=OutputOptions(out),
        )
    assert "max_new_token" in str(e.value) and "max_new_tokens" in str(e.value) and "repetition_penalty" in str(e.value)
    assert not out.exists()


def test_padt_declared_options_are_load_padts_keywords():
    """The option check before a run and the loader agree on what PaDT takes."""
    import inspect

    from padt_eval.models.padt.adapter import load_padt
    from padt_eval.models.padt.family import LOAD_OPTIONS

    assert set(LOAD_OPTIONS) == set(inspect.signature(load_padt).parameters) - {"model", "device"}


def test_U27_flash_attention_without_flash_attn_claims_nothing(tiny_checkpoint, tmp_path):
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    world = make_world(2, seed=2)
    write_images(world, tmp_path / "coco" / "train2014")
    write_padt_jsonl(world, tmp_path / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json")
    out = tmp_path / "run"

    def run(attn):
        return api.run_model(
            Task.REC,
            "refcoco_val",
            ModelOptions(str(tiny_checkpoint), "padt", {"max_new_tokens": 6, "attn": attn}),
            data=DataOptions(data_root=tmp_path),
            run=RunOptions(1, batch_size=2, loader_workers=0),
            output=OutputOptions(out, report=False),
        )

    with pytest.raises(UsageError, match="flash-attn"):
        run("flash_attention_2")
    assert not out.exists()
    result = run("sdpa")  # the corrected command runs
    assert (out / "metrics.json").is_file() and result.counts["n_samples"] > 0
    assert len((out / "predictions.jsonl").read_text().splitlines()) == result.counts["n_samples"]
