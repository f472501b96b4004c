"""`--protocol padt-release` equals the PaDT release's own scripts on a case of our own.

The expected numbers were printed by the release's `eval_refcoco.py` and `eval_coco.py`,
run unmodified on the case of `release_case.py` (tests/fixtures/release_scripts/README.md).
The case holds half-pixel boxes, multi-object answers, a missing line, a key shared by two
samples, an image the PaDT filter drops and a mixed-case class name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from tests.metrics import release_case

EXPECTED = json.loads((Path(__file__).parents[1] / "fixtures" / "release_scripts" / "expected.json").read_text())
runner = CliRunner()


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return release_case.write_ours(tmp_path_factory.mktemp("release_case"))


def _score(case, task, predictions, tmp_path):
    out = tmp_path / task
    split = ["-s", "refcoco_val"] if task in ("rec", "res") else []
    r = runner.invoke(
        app,
        [
            task,
            *split,
            "--data-root",
            str(case["data_root"]),
            "-p",
            str(predictions),
            "--protocol",
            "padt-release",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    return json.loads((out / "metrics.json").read_text())


def test_rec_equals_eval_refcoco(case, tmp_path):
    doc = _score(case, "rec", case["rec_predictions"], tmp_path)
    exp = EXPECTED["rec_res"]
    assert doc["metrics"]["acc@0.5"] == pytest.approx(exp["REC AP_50"], abs=1e-12)
    for key in ("acc@0.5", "acc@0.75", "acc@0.9", "mean_iou"):
        assert doc["metrics"][key] == pytest.approx(exp[key], abs=1e-12), key


def test_rec_ground_truth_rounds_as_the_release(case, tmp_path):
    """The half-pixel boxes: widths from the normalised difference, as the release."""
    out = tmp_path / "rec"
    _score(case, "rec", case["rec_predictions"], tmp_path)
    records = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
    per_key = {r["key"]: r["iou"] for r in records}
    assert per_key == pytest.approx(EXPECTED["rec_res"]["per_key_iou"], abs=1e-12)


def test_res_ciou_equals_eval_refcoco(case, tmp_path):
    doc = _score(case, "res", case["rec_predictions"], tmp_path)
    assert doc["metrics"]["ciou"] == pytest.approx(EXPECTED["rec_res"]["RES CIoU"], abs=1e-12)


def test_ovd_equals_eval_coco(case, tmp_path):
    from padt_eval.metrics.detection import STAT_KEYS

    doc = _score(case, "ovd", case["ovd_predictions"], tmp_path)
    stats = EXPECTED["ovd"]["stats"]
    assert len(stats) == len(STAT_KEYS) == 12
    for key, v in zip(STAT_KEYS, stats):
        assert doc["metrics"][key] == (None if v < 0 else pytest.approx(v, abs=1e-12)), key
