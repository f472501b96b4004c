"""Alarms in scored runs: each fires on a predictions file built to trigger it, reaches
metrics.json (`alarms` and `warnings`), the terminal and report.html, and none fires on
the demo's predictions-file runs. The chance-level figures are recomputed here from the
split and instances files with plain numpy and pycocotools."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from padt_eval import api
from padt_eval.cli.app import app
from padt_eval.core.types import Task
from padt_eval.demo.run import DemoPaths, alarm_names, run_demo
from padt_eval.options import OutputOptions, PredictionsOptions

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("alarms_demo")
    runs, _, _ = run_demo(out, n_images=50, resamples=100)
    return out, runs


def _samples(demo_out: Path) -> list[dict]:
    """The demo split's samples as the file holds them (PaDT JSONL: normalised boxes), each
    with its `sample_id` (the 0-based line index)."""
    lines = [x for x in DemoPaths(demo_out).rec_split.read_text().splitlines() if x.strip()]
    return [dict(json.loads(x), sample_id=str(i)) for i, x in enumerate(lines)]


def _image_size(demo_out: Path, image: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(DemoPaths(demo_out).images / image) as im:
        return im.size


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _score(demo_out: Path, task: Task, preds: Path, out: Path) -> api.RunResult:
    return api.score(task, str(DemoPaths(demo_out).rec_split), PredictionsOptions(preds), output=OutputOptions(out))


def _whole_image_rows(demo_out: Path) -> list[dict]:
    rows = []
    for s in _samples(demo_out):
        w, h = _image_size(demo_out, s["image"])
        rows.append({"sample_id": s["sample_id"], "text": "[0, 0, 1, 1]", "objects": [{"bbox": [0, 0, w, h]}]})
    return rows


def test_the_demo_prediction_file_runs_raise_no_alarm(demo):
    _, runs = demo
    silent = [r for r in runs if r.model != "demo-errors"]
    assert len(silent) >= 10
    assert {f"{r.task.value} {r.model} {r.protocol}": alarm_names(r.result) for r in silent if alarm_names(r.result)} == {}
    for r in silent:
        doc = json.loads((r.result.out_dir / "metrics.json").read_text())
        assert "alarms" not in doc


def test_the_designed_errors_run_is_no_better_than_the_largest_instance(demo):
    """demo-errors answers 30 % of its samples right by design: a true alarm. Its trivial
    scores are recomputed from the files: the largest instance of each image (by box area,
    REC; by mask area, RES) from instances_train2014.json, the whole image's box and mask."""
    from pycocotools import mask as cocomask

    out, runs = demo
    errs = {r.task: r.result for r in runs if r.model == "demo-errors"}
    inst = json.loads(DemoPaths(out).train2014_instances.read_text())
    by_image: dict[int, list[dict]] = {}
    for a in inst["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    sizes = {im["id"]: (im["width"], im["height"]) for im in inst["images"]}
    rec_hits_whole, rec_hits_largest, res_whole, res_largest = [], [], [], []
    for s in _samples(out):
        image_id = int(Path(s["image"]).stem.split("_")[-1])
        w, h = sizes[image_id]
        x1, y1, x2, y2 = (v * d for v, d in zip(s["objects"][0]["bbox"], (w, h, w, h)))
        gt = [x1, y1, x2, y2]

        def iou(b, g=gt):
            iw, ih = max(0.0, min(b[2], g[2]) - max(b[0], g[0])), max(0.0, min(b[3], g[3]) - max(b[1], g[1]))
            u = (b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1]) - iw * ih
            return iw * ih / u

        rec_hits_whole.append(iou([0, 0, w, h]) >= 0.5)
        anns = by_image[image_id]
        big = max(anns, key=lambda a: a["bbox"][2] * a["bbox"][3])
        bx, by, bw, bh = big["bbox"]
        rec_hits_largest.append(iou([bx, by, bx + bw, by + bh]) >= 0.5)
        # RES: the target's own annotation (the one whose box is the sample's), decoded
        target = next(a for a in anns if _same_box(a["bbox"], gt))
        g = _decode(cocomask, target["segmentation"], h, w)
        masks = [_decode(cocomask, a["segmentation"], h, w) for a in anns]
        m = masks[int(np.argmax([x.sum() for x in masks]))]
        res_whole.append(g.sum() / (w * h))
        res_largest.append((g & m).sum() / (g | m).sum())
    rec = {t["answer"]: t for t in _chance(errs[Task.REC])["tests"]}
    res = {t["answer"]: t for t in _chance(errs[Task.RES])["tests"]}
    assert rec["whole_image"]["trivial"] == pytest.approx(np.mean(rec_hits_whole))
    assert rec["largest_instance"]["trivial"] == pytest.approx(np.mean(rec_hits_largest))
    assert not rec["largest_instance"]["above"] and rec["whole_image"]["above"] and rec["random_box"]["above"]
    assert res["whole_image"]["trivial"] == pytest.approx(np.mean(res_whole))
    assert res["largest_instance"]["trivial"] == pytest.approx(np.mean(res_largest))
    assert not res["largest_instance"]["above"]
    for r in errs.values():
        assert alarm_names(r) == {"chance_level"}
        assert r.record.alarms[0]["message"] in r.warnings


def _same_box(xywh, xyxy) -> bool:
    return np.allclose([xywh[0], xywh[1], xywh[0] + xywh[2], xywh[1] + xywh[3]], xyxy, atol=1e-3)


def _decode(cocomask, seg, h, w) -> np.ndarray:
    if isinstance(seg, list):
        seg = cocomask.merge(cocomask.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        seg = cocomask.frPyObjects(seg, h, w)
    return cocomask.decode(seg).astype(bool)


def _chance(result: api.RunResult) -> dict:
    return next(a for a in result.record.alarms if a["name"] == "chance_level")["evidence"]


def test_whole_image_answers_fire_chance_level_and_same_answer(demo, tmp_path):
    out, _ = demo
    preds = _write(tmp_path / "whole.jsonl", _whole_image_rows(out))
    result = _score(out, Task.REC, preds, tmp_path / "run")
    assert alarm_names(result) >= {"chance_level", "same_answer"}
    tests = {t["answer"]: t for t in _chance(result)["tests"]}
    assert tests["whole_image"]["run"] == tests["whole_image"]["trivial"] and tests["whole_image"]["p"] == 1.0
    doc = json.loads((result.out_dir / "metrics.json").read_text())
    assert [a["name"] for a in doc["alarms"]] == [a["name"] for a in result.record.alarms]
    assert all(a["message"] in doc["warnings"] for a in doc["alarms"])
    page = (result.out_dir / "report.html").read_text()
    assert 'data-alarm="chance_level"' in page and 'data-alarm="same_answer"' in page


def test_answers_that_ignore_the_image_fire_image_blind(demo, tmp_path):
    """One box per expression (from a hash of its text), whatever the image."""
    out, _ = demo
    rows = []
    for s in _samples(out):
        expr = s["conversations"][0]["value"]
        d = hashlib.sha256(expr.encode()).digest()
        rel = sorted([d[0] / 255, d[1] / 255]) + sorted([d[2] / 255, d[3] / 255])
        w, h = _image_size(out, s["image"])
        box = [rel[0] * w, rel[2] * h, rel[1] * w, rel[3] * h]
        rows.append({"sample_id": s["sample_id"], "text": f"box {rel}", "objects": [{"bbox": box}]})
    result = _score(out, Task.REC, _write(tmp_path / "blind.jsonl", rows), tmp_path / "run")
    assert "image_blind" in alarm_names(result)
    ev = next(a for a in result.record.alarms if a["name"] == "image_blind")["evidence"]
    assert ev["n_groups"] >= 10 and ev["share"] == 1.0


def test_ground_truth_answers_raise_nothing_then_unreadable_and_cut_off_ones_do(demo, tmp_path):
    out, runs = demo
    perfect = [r for r in runs if r.model == "demo-A" and r.task == Task.REC and r.protocol == "standard"][0]
    lines = [json.loads(x) for x in Path(perfect.result.record.predictions.file).read_text().splitlines()]
    ok = [x for x in lines if x.get("parse_status", "ok") == "ok"]
    clean = _score(out, Task.REC, _write(tmp_path / "clean.jsonl", ok), tmp_path / "clean")
    assert alarm_names(clean) == set()
    # every third answer unreadable (33 % > 25 %), each line saying it ran into --max-new-tokens
    rows = []
    for i, x in enumerate(ok):
        x = dict(x, meta={"stopped": False})
        if i % 3 == 0:
            x.update(objects=[], parse_status="failed", parse_reason="cut off", text="[12, 3")
        rows.append(x)
    bad = _score(out, Task.REC, _write(tmp_path / "bad.jsonl", rows), tmp_path / "bad")
    assert {"parse_failures", "hit_max_new_tokens"} <= alarm_names(bad)
    hit = next(a for a in bad.record.alarms if a["name"] == "hit_max_new_tokens")["evidence"]
    assert hit["field"] == "stopped" and hit["n_hit_max"] == len(rows)
    # the adapters' cost field is read first
    costed = [dict(x, meta={"hit_max_new_tokens": True, "stopped": True}) for x in ok]
    cut = _score(out, Task.REC, _write(tmp_path / "cost.jsonl", costed), tmp_path / "cost")
    assert next(a for a in cut.record.alarms if a["name"] == "hit_max_new_tokens")["evidence"]["field"] == "hit_max_new_tokens"


def test_the_terminal_prints_each_alarm_with_its_name(demo, tmp_path):
    out, _ = demo
    preds = _write(tmp_path / "whole.jsonl", _whole_image_rows(out))
    r = runner.invoke(app, ["rec", "-s", str(DemoPaths(out).rec_split), "-p", str(preds), "-o", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    text = r.output + (r.stderr if r.stderr_bytes is not None else "")
    assert "alarm [chance_level]: chance level: acc@0.5" in text and "alarm [same_answer]" in text


def test_a_res_run_at_chance_fires_on_its_masks(demo, tmp_path, monkeypatch):
    """Whole-image masks: the run is the trivial answer. With SUBSET_SAMPLES lowered, the
    test runs on a subset of that size, and says so."""
    from padt_eval.metrics import chance

    monkeypatch.setattr(chance, "SUBSET_SAMPLES", 100)
    out, _ = demo
    rows = []
    for s in _samples(out):
        w, h = _image_size(out, s["image"])
        rows.append({"sample_id": s["sample_id"], "objects": [{"bbox": [0, 0, 1, 1], "mask": _full_mask(h, w)}]})
    result = _score(out, Task.RES, _write(tmp_path / "full.jsonl", rows), tmp_path / "run")
    tests = {t["answer"]: t for t in _chance(result)["tests"]}
    # the whole-image mask IS the answer: the same per-sample IoUs, a zero-width interval at 0
    assert tests["whole_image"]["run"] == pytest.approx(tests["whole_image"]["trivial"])
    assert not tests["whole_image"]["above"]
    assert tests["whole_image"]["n"] == 100 and "100 of the 242 samples" in _chance(result)["subset"]


def _full_mask(h: int, w: int) -> dict:
    from padt_eval.core import rle

    return rle.encode(np.ones((h, w), dtype=bool))
