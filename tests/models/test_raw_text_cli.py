"""`--predictions F --format NAME` end to end through the CLI on synthetic RefCOCO."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.models.coords import Frame
from padt_eval.models.coords.qwen2_5_vl import input_frame

from .coords.writers import WRITERS

runner = CliRunner()


def _write(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def samples(synth_root):
    return list(open_split("refcoco_val", Task.REC, data_root=synth_root))


@pytest.mark.parametrize("fmt", ["qwen2_5_vl", "internvl", "florence2", "shikra", "cogvlm"])
def test_raw_text_is_read_in_the_family_frame(fmt, samples, synth_root, tmp_path):
    lines = []
    for s in samples:
        frame = input_frame(s.image.width, s.image.height) if fmt == "qwen2_5_vl" else Frame(s.image.width, s.image.height)
        text, _ = WRITERS[fmt](s.objects[0].bbox, frame, s.expression)
        # a decoy object on the line: --format must ignore it
        lines.append({"sample_id": s.sample_id, "text": text, "objects": [{"bbox": [0, 0, 1, 1]}]})
    preds = _write(tmp_path / "raw.jsonl", lines)
    out = tmp_path / "run"
    r = runner.invoke(
        app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "--format", fmt, "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["metrics"]["acc@0.5"] == 1.0
    assert doc["counts"]["n_predicted"] == len(samples)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["format"] == fmt and "coordinate_frame" in manifest["model"]
    if fmt == "qwen2_5_vl":
        assert manifest["model"]["min_pixels"] == 3136 and manifest["model"]["max_pixels"] == 12845056
    per_sample = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
    assert all(p["pred_bbox"] != [0.0, 0.0, 1.0, 1.0] for p in per_sample)


def test_qwen_pixels_setting_changes_the_reading(samples, synth_root, tmp_path):
    """Text written under max_pixels=8*28*28 is mis-scaled when read with the defaults,
    and read right when the run's setting is given: the setting belongs in the manifest."""
    small = 8 * 28 * 28
    lines = []
    for s in samples:
        text, _ = WRITERS["qwen2_5_vl"](s.objects[0].bbox, input_frame(s.image.width, s.image.height, 3136, small))
        lines.append({"sample_id": s.sample_id, "text": text})
    preds = _write(tmp_path / "small.jsonl", lines)
    accs = {}
    for name, extra in (("default", []), ("right", ["--max-pixels", str(small)])):
        out = tmp_path / name
        r = runner.invoke(
            app,
            [
                "rec",
                "-s",
                "refcoco_val",
                "--data-root",
                str(synth_root),
                "-p",
                str(preds),
                "-f",
                "qwen2_5_vl",
                "-o",
                str(out),
                *extra,
            ],
        )
        assert r.exit_code == 0, r.output
        accs[name] = json.loads((out / "metrics.json").read_text())["metrics"]["acc@0.5"]
    assert accs["right"] == 1.0 and accs["default"] < 0.5
    assert json.loads((tmp_path / "right" / "manifest.json").read_text())["model"]["max_pixels"] == small


def test_cut_off_text_and_text_less_lines_count_as_parse_failures(samples, synth_root, tmp_path):
    lines = [
        {"sample_id": samples[0].sample_id, "text": "{<31><40><55>"},
        {"sample_id": samples[1].sample_id, "objects": [{"bbox": [1, 2, 3, 4]}]},
    ]
    preds = _write(tmp_path / "p.jsonl", lines)
    out = tmp_path / "run"
    r = runner.invoke(
        app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-f", "minigpt_v2", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    counts = json.loads((out / "metrics.json").read_text())["counts"]
    assert counts["n_parse_failed"] == 2 and counts["n_missing"] == len(samples) - 2
    records = {json.loads(line)["sample_id"]: json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()}
    assert "incomplete" in records[samples[0].sample_id]["reason"]
    assert "no 'text'" in records[samples[1].sample_id]["reason"]


def test_format_errors(synth_root, tmp_path):
    preds = _write(tmp_path / "p.jsonl", [{"sample_id": "0", "text": "x"}])
    r = runner.invoke(
        app,
        ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-f", "qwen9", "-o", str(tmp_path / "o")],
    )
    assert r.exit_code == 2 and "unknown --format 'qwen9'" in r.output and "qwen2_5_vl" in r.output
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "--model", "x", "-f", "internvl"])
    assert r.exit_code == 2


def test_ovd_and_ric_read_raw_text_too(coco_root, tmp_path):
    """--format on `ovd` (Qwen3-VL JSON, labels mapped to categories) and on `ric` (InternVL
    grounded captions: phrases, boxes, caption)."""
    import shutil

    from padt_eval.demo.synthetic import as_val2017, make_world

    world = as_val2017(make_world(10, seed=9, first_image_id=500))  # the world `coco_root` holds
    ovd, ric = [], []
    for img in world:
        frame = Frame(img.width, img.height)
        items, caption = [], []
        for o in img.objects:
            x, y, w, h = o.bbox_xywh
            text, _ = WRITERS["qwen3_vl"]((x, y, x + w, y + h), frame, o.shape)
            items += json.loads(text)
            caption.append(WRITERS["internvl"]((x, y, x + w, y + h), frame, f"a {o.name}")[0])
        ovd.append({"sample_id": str(img.image_id), "text": "```json\n" + json.dumps(items) + "\n```"})
        ric.append({"sample_id": str(img.image_id), "text": "There is " + " next to ".join(caption) + "."})
    out = tmp_path / "ovd"
    r = runner.invoke(
        app,
        ["ovd", "--data-root", str(coco_root), "-p", str(_write(tmp_path / "ovd.jsonl", ovd)), "-f", "qwen3_vl", "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["metrics"]["ap50"] == pytest.approx(1.0) and doc["details"]["scores_provided"] is False
    if shutil.which("java") is None:
        pytest.skip("the RIC caption metrics need Java")
    out = tmp_path / "ric"
    r = runner.invoke(
        app,
        ["ric", "--data-root", str(coco_root), "-p", str(_write(tmp_path / "ric.jsonl", ric)), "-f", "internvl", "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["metrics"]["gp"] == pytest.approx(1.0) and doc["metrics"]["gr"] == pytest.approx(1.0)
    rec = json.loads((out / "per_sample.jsonl").read_text().splitlines()[0])
    assert rec["candidate"].startswith("There is a ") and "<ref>" not in rec["candidate"] and "[[" not in rec["candidate"]
