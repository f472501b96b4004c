"""`padt-eval ovd` and `padt-eval ric` end to end on synthetic COCO/RIC-layout data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.demo.ovd_ric import make_ovd_predictions, make_ric_predictions
from padt_eval.demo.synthetic import as_val2017, make_world
from padt_eval.metrics.detection import STAT_KEYS

runner = CliRunner()


def _world():
    return as_val2017(make_world(10, seed=9, first_image_id=500))  # the world `coco_root` holds


def test_ovd_command(coco_root, tmp_path):
    preds = tmp_path / "ovd.jsonl"
    exp = make_ovd_predictions(_world(), coco_root / "coco" / "annotations" / "instances_val2017.json", preds, seed=1)
    out = tmp_path / "run"
    r = runner.invoke(app, ["ovd", "--data-root", str(coco_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert list(doc["metrics"]) == list(STAT_KEYS)
    for k, v in exp.metrics.items():
        assert doc["metrics"][k] == (None if v is None else pytest.approx(v, abs=1e-12)), k
    assert doc["details"]["scores_provided"] is True and doc["task"] == "ovd"
    assert doc["protocol"]["synonyms"]["sofa"] == "couch"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["split"]["layout"] == "coco" and len(manifest["split"]["files"]) == 1
    assert "AP @[.50:.95]" in r.output
    # PaDT's filtered GT: same command, another split name and a note in the results
    out2 = tmp_path / "run2"
    r = runner.invoke(app, ["ovd", "--data-root", str(coco_root), "-p", str(preds), "-o", str(out2), "--gt", "padt-filtered"])
    assert r.exit_code == 0, r.output
    doc2 = json.loads((out2 / "metrics.json").read_text())
    assert doc2["split"] == "coco_val2017_padt_filtered"
    assert "PaDT-filtered GT" in json.loads((out2 / "manifest.json").read_text())["split"]["notes"][0]
    r = runner.invoke(app, ["ovd", "--data-root", str(coco_root), "-p", str(preds), "--gt", "nope"])
    assert r.exit_code == 2 and "unknown --gt 'nope'" in r.output


def test_ovd_without_scores_says_ranking_is_arbitrary(coco_root, tmp_path):
    preds = tmp_path / "ovd.jsonl"
    make_ovd_predictions(_world(), coco_root / "coco" / "annotations" / "instances_val2017.json", preds, seed=2)
    lines = [json.loads(line) for line in preds.read_text().splitlines()]
    for line in lines:
        for o in line.get("objects", []):
            o.pop("score", None)
    preds.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "run"
    r = runner.invoke(app, ["ovd", "--data-root", str(coco_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["details"]["scores_provided"] is False
    assert "ranking is arbitrary" in " ".join(doc["notes"]) and "ranking is" in r.output


def test_ric_command(coco_root, tmp_path):
    preds = tmp_path / "ric.jsonl"
    exp = make_ric_predictions(_world(), preds, seed=1)
    out = tmp_path / "run"
    r = runner.invoke(app, ["ric", "--data-root", str(coco_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert list(doc["metrics"])[:10] == ["bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider_d", "spice", "gp", "gr"]
    assert doc["metrics"]["spice"] is None and doc["details"]["spice"].startswith("unavailable")
    for k, v in exp.metrics.items():
        assert doc["metrics"][k] == pytest.approx(v, abs=1e-12), k
    per_sample = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
    assert len(per_sample) == 10 and all("<|VRT" not in p.get("candidate", "") for p in per_sample)


def test_ric_without_java_exits_2(coco_root, tmp_path, monkeypatch):
    preds = tmp_path / "ric.jsonl"
    preds.write_text('{"sample_id": "500", "text": "a cat"}\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    r = runner.invoke(app, ["ric", "--data-root", str(coco_root), "-p", str(preds), "-o", str(tmp_path / "run")])
    assert r.exit_code == 2 and "default-jre-headless" in r.output
