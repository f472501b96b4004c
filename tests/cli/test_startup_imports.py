"""A command imports what it uses: `padt-eval --help` no numpy and no split reader;
scoring an OVD or RIC predictions file (report on) neither torch, transformers nor
matplotlib (REC/RES: tests/scoring/test_no_model_imports.py).

Each command runs in a fresh interpreter (this test process has imported much more);
the probe prints which of the watched modules are in `sys.modules` after the command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from padt_eval.demo.ovd_ric import make_ovd_predictions, make_ric_predictions
from padt_eval.demo.synthetic import as_val2017, make_world

REPO = Path(__file__).resolve().parents[2]
WATCHED = ("numpy", "pycocotools", "PIL", "torch", "transformers", "matplotlib", "padt_eval.data.coco", "padt_eval.runner")
PROBE = """
import json, sys
sys.argv = ["padt-eval", *json.loads(sys.argv[1])]
from padt_eval.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print("PROBE " + json.dumps({"code": code, "loaded": [m for m in __WATCHED__ if m in sys.modules]}))
""".replace("__WATCHED__", repr(WATCHED))


def _probe(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in r.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, r.stdout + r.stderr
    return json.loads(lines[-1][len("PROBE ") :])


def test_help_imports_no_numpy_and_no_split_reader():
    assert _probe(["--help"]) == {"code": 0, "loaded": []}


@pytest.mark.parametrize("task", ["ovd", "ric"])
def test_scoring_a_predictions_file_imports_no_model_library(task, coco_root, tmp_path):
    world = as_val2017(make_world(10, seed=9, first_image_id=500))  # the world `coco_root` holds
    preds = tmp_path / "preds.jsonl"
    if task == "ovd":
        make_ovd_predictions(world, coco_root / "coco" / "annotations" / "instances_val2017.json", preds, seed=1)
    else:
        make_ric_predictions(world, preds, seed=1)
    out = tmp_path / "run"
    got = _probe([task, "--data-root", str(coco_root), "-p", str(preds), "-o", str(out)])
    assert got["code"] == 0
    assert not {"torch", "transformers", "matplotlib", "padt_eval.runner"} & set(got["loaded"]), got
    assert "numpy" in got["loaded"]  # the control: the probe sees what scoring does import
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
