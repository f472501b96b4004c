"""A command imports what it uses: `padt-eval --help` no numpy and no split reader;
scoring an OVD or RIC predictions file (report on) neither torch, transformers nor
matplotlib (REC/RES: tests/scoring/test_no_model_imports.py).

Each command runs in a fresh interpreter, through the probe of
tests/scoring/test_no_model_imports.py (which also reports torch, transformers, the runner
and the model adapters).
"""

from __future__ import annotations

import pytest

from padt_eval.demo.ovd_ric import make_ovd_predictions, make_ric_predictions
from padt_eval.demo.synthetic import as_val2017, make_world

from ..scoring.test_no_model_imports import _probe

WATCHED = ("numpy", "pycocotools", "PIL", "matplotlib", "padt_eval.data.coco")


def test_help_imports_no_numpy_and_no_split_reader():
    assert _probe(["--help"], WATCHED) == {"code": 0, "heavy": [], "driving": [], "loaded": []}


@pytest.mark.parametrize("task", ["ovd", "ric"])
def test_scoring_a_predictions_file_imports_no_model_library(task, coco_root, tmp_path):
    world = as_val2017(make_world(10, seed=9, first_image_id=500))  # the world `coco_root` holds
    preds = tmp_path / "preds.jsonl"
    if task == "ovd":
        make_ovd_predictions(world, coco_root / "coco" / "annotations" / "instances_val2017.json", preds, seed=1)
    else:
        make_ric_predictions(world, preds, seed=1)
    out = tmp_path / "run"
    got = _probe([task, "--data-root", str(coco_root), "-p", str(preds), "-o", str(out)], WATCHED)
    assert got["code"] == 0 and got["heavy"] == [] and got["driving"] == [] and "matplotlib" not in got["loaded"], got
    assert "numpy" in got["loaded"]  # the control: the probe sees what scoring does import
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
