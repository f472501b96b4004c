"""The damaged-file fault list as a table: every row damages one file of a results or run
folder, runs the command that reads it, and asserts exit 2 or a listed skip, a message
naming the file and its line or field, and no traceback.

Codes (issue 25): L01 leaderboard, L04 report, L05 report of damaged predictions, L07
compare, R14 a corrupted run.json, R19 a shard line without sample_id, M02 closed stdout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from padt_eval import api
from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.demo.data import make_predictions
from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl
from padt_eval.options import OutputOptions, PredictionsOptions

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


# -- damage helpers: each takes the run folder and edits one file ------------------------
def _json(name: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        p = run / name
        doc = json.loads(p.read_text())
        edit(doc)
        p.write_text(json.dumps(doc))

    return damage


def _set(key: str, value) -> Callable[[dict], None]:
    return lambda d: d.__setitem__(key, value)


def _line(index: int, edit: Callable[[str], str]) -> Callable[[Path], None]:
    """Replace per_sample.jsonl's line `index` (0-based) by `edit(line)`."""

    def damage(run: Path) -> None:
        p = run / "per_sample.jsonl"
        lines = p.read_text().splitlines()
        lines[index] = edit(lines[index])
        p.write_text("\n".join(lines) + "\n")

    return damage


def _cut(run: Path) -> None:
    p = run / "per_sample.jsonl"
    p.write_bytes(p.read_bytes()[:-40])  # cut inside the last line


def _field(key: str, value) -> Callable[[str], str]:
    def edit(line: str) -> str:
        d = json.loads(line)
        d[key] = value
        return json.dumps(d)

    return edit


def _prediction(objects) -> Callable[[Path], None]:
    """Line 1 of the scored predictions file gets `objects`; per_sample makes that sample
    the worst one, so the report draws it."""

    def damage(run: Path) -> None:
        doc = json.loads((run / "metrics.json").read_text())
        preds = Path(doc["predictions"]["file"])
        lines = preds.read_text().splitlines()
        first = json.loads(lines[0])
        first["objects"] = objects
        lines[0] = json.dumps(first)
        preds.write_text("\n".join(lines) + "\n")
        doc["predictions"]["sha256"] = None  # the report would otherwise refuse the changed file
        (run / "metrics.json").write_text(json.dumps(doc))
        _line(0, _field("iou", 0.0))(run)

    return damage


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    damage: Callable[[Path], None]
    file: str  # the file the message must name
    where: str  # regex: the line or field it must name
    outcome: str = "exit 2"  # or "skip": exit 0 with the folder listed as skipped


_BAD_RLE = {"size": [240, 320], "counts": "@@@"}  # 240x320: the grey canvas the report draws on

DAMAGED: list[Row] = [
    Row("L01", "counts-a-list", _json("metrics.json", _set("counts", [1, 2])), "metrics.json", r"field 'counts'", "skip"),
    Row("L01", "counts-a-string", _json("metrics.json", _set("counts", "x")), "metrics.json", r"field 'counts'", "skip"),
    Row("L01", "count-a-string", _json("metrics.json", lambda d: d["counts"].__setitem__("n_samples", "38")), "metrics.json", r"field 'counts.n_samples'", "skip"),
    Row("L01", "model-a-string", _json("metrics.json", _set("model", "qwen")), "metrics.json", r"field 'model'", "skip"),
    Row("L01", "model-a-list", _json("metrics.json", _set("model", ["qwen"])), "metrics.json", r"field 'model'", "skip"),
    Row("L01", "protocol-a-list", _json("metrics.json", _set("protocol", [1])), "metrics.json", r"field 'protocol'", "skip"),
    Row("L01", "errors-a-list", _json("metrics.json", _set("errors", [1])), "metrics.json", r"field 'errors'", "skip"),
    Row("L01", "manifest-split-a-string", _json("manifest.json", _set("split", "refcoco_val")), "manifest.json", r"field 'split'", "skip"),
    Row("L01", "manifest-split-a-list", _json("manifest.json", _set("split", ["refcoco_val"])), "manifest.json", r"field 'split'", "skip"),
    Row("L01", "manifest-split-files-a-list", _json("manifest.json", lambda d: d["split"].__setitem__("files", ["a"])), "manifest.json", r"field 'split.files'", "skip"),
    Row("L01", "manifest-a-list", lambda r: (r / "manifest.json").write_text("[1]"), "manifest.json", r"expected a JSON object", "skip"),
    Row("L04", "per-sample-cut-short", _cut, "per_sample.jsonl", r":\d+: malformed JSON line .*cut short"),
    Row("L04", "per-sample-garbage-line", _line(3, lambda s: "@@garbage"), "per_sample.jsonl", r":4: malformed JSON line"),
    Row("L04", "per-sample-list-line", _line(3, lambda s: "[1, 2]"), "per_sample.jsonl", r":4: expected a JSON object, got a list"),
    Row("L04", "per-sample-iou-a-string", _line(0, _field("iou", "high")), "per_sample.jsonl", r":1: field 'iou' must be a number"),
    Row("L04", "per-sample-no-sample-id", _line(0, _field("sample_id", None)), "per_sample.jsonl", r":1: field 'sample_id'"),
    Row("L04", "per-sample-status-a-list", _line(0, _field("status", ["ok"])), "per_sample.jsonl", r":1: field 'status' must be a string"),
    Row("L04", "manifest-bad-utf8", lambda r: (r / "manifest.json").write_bytes(b'{"split": "\xff\xfe"}'), "manifest.json", r"not UTF-8 text \(byte 11\)"),
    Row("L04", "metrics-bad-utf8", lambda r: (r / "metrics.json").write_bytes(b"\xff" + (r / "metrics.json").read_bytes()), "metrics.json", r"not UTF-8 text \(byte 0\)"),
    Row("L05", "objects-a-string", _prediction("garbage"), "preds.jsonl", r":1: 'objects' must be a list", "skip"),
    Row("L05", "bad-rle", _prediction([{"bbox": [0, 0, 5, 5], "mask": _BAD_RLE}]), "preds.jsonl", r":1: objects\[0\]\.mask is not a valid COCO RLE", "skip"),
    Row("L05", "box-a-string", _prediction([{"bbox": "0 0 5 5"}]), "preds.jsonl", r":1: objects\[0\]\.bbox must be four finite numbers", "skip"),
    Row("L07", "per-sample-iou-a-string", _line(0, _field("iou", "high")), "per_sample.jsonl", r":1: field 'iou' must be a number"),
    Row("L07", "per-sample-hit-a-string", _line(0, _field("hit@0.5", "yes")), "per_sample.jsonl", r":1: field 'hit@0.5' must be a boolean"),
    Row("L07", "per-sample-list-line", _line(3, lambda s: "[1, 2]"), "per_sample.jsonl", r":4: expected a JSON object"),
    Row("L07", "per-sample-garbage-line", _line(3, lambda s: "@@garbage"), "per_sample.jsonl", r":4: malformed JSON line"),
    Row("L07", "metric-a-string", _json("metrics.json", lambda d: d["metrics"].__setitem__("acc@0.5", "x")), "metrics.json", r"field 'metrics.acc@0.5' must be a number"),
]  # fmt: skip


def _rows(code: str) -> list:
    return [pytest.param(r, id=r.name) for r in DAMAGED if r.code == code]


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _names(output: str, path: Path, where: str) -> bool:
    """The output names `path` and, right after it, the line or field."""
    return re.search(re.escape(str(path)) + r"[^\n]*?" + where, output) is not None


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """Two REC runs (a, b) of one predictions file on 8 synthetic images."""
    root = tmp_path_factory.mktemp("damaged")
    world = make_world(8, seed=2)
    images = root / "data" / "coco" / "train2014"
    write_images(world, images)
    split = root / "data" / "split.json"
    write_padt_jsonl(world, split)
    preds = root / "preds.jsonl"
    make_predictions(PadtRefcocoJsonlReader(split, images, Task.REC), preds, seed=1)
    for name in ("a", "b"):
        reader = PadtRefcocoJsonlReader(split, images, Task.REC, name="synth_val")
        api.score(Task.REC, "synth_val", PredictionsOptions(preds), reader=reader, output=OutputOptions(root / "results" / name))
    return root


def _damaged_copy(scored: Path, tmp_path: Path, row: Row) -> Path:
    root = tmp_path / "w"
    shutil.copytree(scored, root)
    run = root / "results" / "a"
    for name in ("metrics.json",):  # the predictions file named inside moves with the copy
        doc = json.loads((run / name).read_text())
        doc["predictions"]["file"] = str(root / "preds.jsonl")
        (run / name).write_text(json.dumps(doc))
    row.damage(run)
    return root


def _damaged_path(root: Path, row: Row) -> Path:
    return root / row.file if row.file == "preds.jsonl" else root / "results" / "a" / row.file


@pytest.mark.parametrize("row", _rows("L01"))
def test_L01_leaderboard_lists_a_damaged_run_as_skipped(scored, tmp_path, row):
    root = _damaged_copy(scored, tmp_path, row)
    r = runner.invoke(app, ["leaderboard", "--results", str(root / "results"), "--out", str(tmp_path / "board")])
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    path = _damaged_path(root, row)
    assert _names(r.output, path, row.where) and "skipped:" in r.output, r.output
    board = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "1 run folder(s) skipped" in board and _names(board, path, row.where)
    assert "from 1 run(s)" in board  # the intact run b is still tabled


@pytest.mark.parametrize("row", _rows("L04"))
def test_L04_report_of_a_damaged_run_exits_2_naming_file_and_line(scored, tmp_path, row):
    root = _damaged_copy(scored, tmp_path, row)
    r = runner.invoke(app, ["report", str(root / "results" / "a")])
    _no_traceback(r)
    assert r.exit_code == 2, r.output
    assert _names(r.output, _damaged_path(root, row), row.where), r.output


@pytest.mark.parametrize("row", _rows("L05"))
def test_L05_report_lists_predictions_it_cannot_draw(scored, tmp_path, row):
    root = _damaged_copy(scored, tmp_path, row)
    r = runner.invoke(app, ["report", str(root / "results" / "a")])
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    import html

    page = html.unescape((root / "results" / "a" / "report.html").read_text())
    assert "1 prediction(s) not drawn" in page and _names(page, _damaged_path(root, row), row.where)


@pytest.mark.parametrize("row", _rows("L07"))
def test_L07_compare_with_a_damaged_run_exits_2_naming_file_and_line(scored, tmp_path, row):
    root = _damaged_copy(scored, tmp_path, row)
    a, b = root / "results" / "a", root / "results" / "b"
    for args in ([a, b], [b, a]):
        r = runner.invoke(app, ["compare", *map(str, args), "--resamples", "100", "-o", str(tmp_path / "cmp.json")])
        _no_traceback(r)
        assert r.exit_code == 2, r.output
        assert _names(r.output, _damaged_path(root, row), row.where), r.output


def test_L07_leaderboard_skips_a_damaged_comparison_file(scored, tmp_path):
    root = tmp_path / "w"
    shutil.copytree(scored, root)
    res = root / "results"
    r = runner.invoke(app, ["compare", str(res / "a"), str(res / "b"), "--resamples", "100"])
    assert r.exit_code == 0, r.output
    (cmp_file,) = (res / "comparisons").glob("*.json")
    doc = json.loads(cmp_file.read_text())
    next(iter(doc["metrics"].values()))["ci95"] = "wide"
    cmp_file.write_text(json.dumps(doc))
    r = runner.invoke(app, ["leaderboard", "--results", str(res), "--out", str(tmp_path / "board")])
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    assert _names(r.output, cmp_file, r"field 'metrics\..+\.ci95'"), r.output


# -- a model run's own files: run.json (R14), shard lines (R19) -------------------------
def _model_run(synth_root, out, *extra):
    return ["res", "-s", "refcoco_val", "--data-root", str(synth_root), "--model", "colour-finder", "-o", str(out),
            "--device", "cpu", "--loader-workers", "0", "-b", "4", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        pytest.param(lambda p: p.write_text('{"fingerprint": {"task": "res"'), r"not readable .*line 1 column \d+", id="cut-short"),
        pytest.param(lambda p: p.write_text("[]"), r"no 'fingerprint' object", id="a-list"),
        pytest.param(lambda p: p.write_text('{"fingerprint": "res"}'), r"no 'fingerprint' object", id="fingerprint-a-string"),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe{}"), r"not readable .*byte 0xff in position 0", id="bad-utf8"),
    ],
)  # fmt: skip
def test_R14_a_corrupted_run_json_exits_2_and_overwrite_replaces_it(synth_root, tmp_path, damage, where):
    out = tmp_path / "run"
    first = runner.invoke(app, _model_run(synth_root, out))
    assert first.exit_code == 0, first.output
    want = json.loads((out / "metrics.json").read_text())["metrics"]
    damage(out / "run.json")
    r = runner.invoke(app, _model_run(synth_root, out))
    _no_traceback(r)
    assert r.exit_code == 2, r.output
    assert _names(r.output, out / "run.json", where) and "--overwrite" in r.output, r.output
    again = runner.invoke(app, _model_run(synth_root, out, "--overwrite"))
    assert again.exit_code == 0, again.output
    assert json.loads((out / "metrics.json").read_text())["metrics"] == want


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        pytest.param(lambda d: d.pop("sample_id"), "no 'sample_id' field", id="no-sample-id"),
        pytest.param(lambda d: d.__setitem__("sample_id", None), "no 'sample_id' field", id="sample-id-null"),
        pytest.param(lambda d: d.__setitem__("sample_id", ["0"]), "field 'sample_id' is", id="sample-id-a-list"),
    ],
)
def test_R19_a_shard_line_without_sample_id_is_named_and_its_sample_redone(synth_root, tmp_path, capfd, edit, why):
    out = tmp_path / "run"
    first = runner.invoke(app, _model_run(synth_root, out))
    assert first.exit_code == 0, first.output
    want = json.loads((out / "metrics.json").read_text())["metrics"]
    (shard,) = (out / "shards").glob("*.jsonl")
    lines = shard.read_text().splitlines()
    rec = json.loads(lines[2])
    edit(rec)
    lines[2] = json.dumps(rec)
    shard.write_text("\n".join(lines) + "\n")
    capfd.readouterr()
    r = runner.invoke(app, _model_run(synth_root, out))
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    notes = capfd.readouterr().err  # the runner's notes go to the terminal's stderr
    assert _names(notes, shard, ":3: " + re.escape(why)) and "samples are run again" in notes, notes
    assert json.loads((out / "metrics.json").read_text())["metrics"] == want  # the sample was redone, same answer


# -- M02: closed stdout --------------------------------------------------------------------
@pytest.mark.parametrize("closed", [(1,), (1, 2), (0, 1, 2)], ids=["stdout", "stdout-stderr", "all-three"])
def test_M02_closed_stdout_still_writes_the_results(scored, tmp_path, closed):
    out = tmp_path / "run"
    root = scored
    cmd = [sys.executable, "-m", "padt_eval.cli", "rec", "-s", str(root / "data" / "split.json"),
           "--image-root", str(root / "data" / "coco" / "train2014"), "-p", str(root / "preds.jsonl"), "-o", str(out)]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        p = subprocess.run(
            cmd,
            stderr=err if 2 not in closed else None,
            preexec_fn=lambda: [os.close(f) for f in closed],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=300,
        )
    assert p.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    doc = json.loads((out / "metrics.json").read_text())
    want = json.loads((root / "results" / "a" / "metrics.json").read_text())
    assert doc["metrics"] == want["metrics"]
    assert (out / "per_sample.jsonl").read_bytes() == (root / "results" / "a" / "per_sample.jsonl").read_bytes()


def test_rescoring_run_predictions_beside_a_damaged_manifest_scores_them(scored, tmp_path):
    """`<run>/predictions.jsonl` is re-scored with the model named in its manifest; a
    manifest that is not an object only costs that provenance."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(scored / "preds.jsonl", run / "predictions.jsonl")
    (run / "manifest.json").write_text("[1]")
    out = tmp_path / "out"
    r = runner.invoke(app, ["rec", "-s", str(scored / "data" / "split.json"), "--image-root",
                            str(scored / "data" / "coco" / "train2014"), "-p", str(run / "predictions.jsonl"), "-o", str(out)])  # fmt: skip
    _no_traceback(r)
    assert r.exit_code == 0, r.output
    want = json.loads((scored / "results" / "a" / "metrics.json").read_text())["metrics"]
    assert json.loads((out / "metrics.json").read_text())["metrics"] == want
