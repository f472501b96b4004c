"""Adding a split is one entry in the split table: it then opens, is listed by `splits` and
`data status`, and re-opens for a report, with no other code touched."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task
from padt_eval.data import split_table
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.registry import open_split, split_status
from padt_eval.data.split_table import TRAIN2014, Layout, SplitSpec, count_lines
from padt_eval.demo.data import make_predictions
from padt_eval.fetch import status
from padt_eval.report.run_report import build_run_report, reopen_split
from padt_eval.report.runs import load_run

runner = CliRunner()


def _open_mini(a):
    return PadtRefcocoJsonlReader(a.files[0], a.images, a.task, name=a.name)


MINI = SplitSpec(
    name="mini_val",
    tasks=(Task.REC, Task.RES),
    dataset="mini",
    partition="mini/val",
    layouts=(
        Layout(
            "padt-jsonl",
            "padt",
            "mini layout",
            (("mini/val.jsonl", "mini/val.json"),),
            _open_mini,
            count_lines,
            gts=("official",),
        ),
    ),
    images=TRAIN2014,
    fetch="refcoco",  # listed under `data status`'s refcoco rows
)


@pytest.fixture
def mini_root(synth_root, tmp_path, monkeypatch):
    """A data root holding the new split's file (a copy of refcoco_val's PaDT JSONL) and the images."""
    monkeypatch.setitem(split_table.SPLITS, MINI.name, MINI)
    root = tmp_path / "data"
    shutil.copytree(synth_root / "coco", root / "coco")
    (root / "mini").mkdir()
    shutil.copy(synth_root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json", root / "mini" / "val.json")
    return root


def test_a_new_table_entry_opens_and_is_listed(mini_root, synth_root):
    r = open_split("mini_val", Task.RES, data_root=mini_root)
    direct = PadtRefcocoJsonlReader(mini_root / "mini" / "val.json", mini_root / "coco" / "train2014", Task.RES)
    assert r.info.name == "mini_val" and r.info.layout == "padt-jsonl" and len(r) == len(direct) > 0
    assert [(s.sample_id, s.expression) for s in r] == [(s.sample_id, s.expression) for s in direct]
    # its errors come from the same engine: did-you-mean, the places looked and the fetch command
    with pytest.raises(UsageError, match=r"unknown split 'mini_vall' \(did you mean 'mini_val'\?\)"):
        open_split("mini_vall", Task.REC, data_root=mini_root)
    with pytest.raises(UsageError) as e:
        open_split("mini_val", Task.REC, data_root=synth_root)
    assert (
        "mini layout: " in str(e.value)
        and "mini/val.jsonl" in str(e.value)
        and "padt-eval data fetch refcoco coco-train2014-images" in str(e.value)
    )
    with pytest.raises(UsageError, match="no COCO train2014 image folder"):
        open_split("mini_val", Task.REC, data_root=mini_root, image_root=mini_root / "nowhere")

    row = {r["split"]: r for r in split_status(mini_root)}["mini_val"]
    n_lines = sum(1 for line in (mini_root / "mini" / "val.json").read_text().splitlines() if line.strip())
    assert row["found"] and row["n_samples"] == n_lines == len(direct) and row["layout"] == "padt-jsonl"
    out = runner.invoke(app, ["splits", "--data-root", str(mini_root)])
    assert out.exit_code == 0 and "mini_val" in out.output and f"{n_lines:,}" in out.output

    rows = {(r.dataset, r.annotations): r for r in status(mini_root)}
    assert rows[("refcoco", "padt")].contents == "1/4 splits: mini_val"
    assert rows[("refcoco", "official")].contents == "0/4 splits"  # mini_val has no official layout
    out = runner.invoke(app, ["data", "status", "--data-root", str(mini_root)])
    assert out.exit_code == 0 and "1/4 splits: mini_val" in out.output


def test_a_new_table_entry_is_scored_and_reopened_for_a_report(mini_root, synth_root, tmp_path):
    preds = tmp_path / "preds.jsonl"
    make_predictions(open_split("mini_val", Task.REC, data_root=mini_root), preds, seed=3)
    out = tmp_path / "run"
    r = runner.invoke(app, ["rec", "-s", "mini_val", "--data-root", str(mini_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    # the same file under its standard name scores the same: the new entry changes no number
    ref = tmp_path / "ref"
    r = runner.invoke(
        app,
        [
            "rec",
            "-s",
            "refcoco_val",
            "--layout",
            "padt-jsonl",
            "--data-root",
            str(synth_root),
            "-p",
            str(preds),
            "-o",
            str(ref),
            "--no-report",
        ],
    )
    assert r.exit_code == 0, r.output
    metrics = [json.loads((d / "metrics.json").read_text())["metrics"] for d in (out, ref)]
    assert metrics[0] == metrics[1]
    manifest = json.loads((out / "manifest.json").read_text())["split"]
    assert manifest["name"] == "mini_val" and manifest["layout"] == "padt-jsonl"
    # re-opened from the manifest alone (no data root), as `padt-eval report` does
    reader, why = reopen_split(load_run(out))
    assert (
        why == ""
        and reader is not None
        and reader.info.name == "mini_val"
        and len(reader) == len(open_split("mini_val", Task.REC, data_root=mini_root))
    )
    page = build_run_report(out)
    assert "not drawn" not in page and "images could not be opened" not in page and 'data-sample="' in page
