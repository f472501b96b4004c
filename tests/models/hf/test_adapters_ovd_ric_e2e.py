"""Each runnable adapter through `padt-eval ovd` and `padt-eval ric` on the demo's COCO
val2017 and RIC splits (tiny random models), and forced right answers through OVD (AP 1)
and RIC (GP = GR = 1, the reference caption reproduced)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.models.coords import Frame
from padt_eval.models.coords.qwen2_5_vl import smart_resize
from padt_eval.models.loading import load_model

from ..coords.writers import WRITERS
from .forcing import force, run_forced, text_ids
from .runs import RUN_IDS, RUNS

runner = CliRunner()
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="the RIC caption metrics need Java")


def _cli(task, family, checkpoint, tiny, demo_split, out):
    args = [task, "--data-root", str(demo_split.data), "--model", str(tiny(checkpoint)), "--max-new-tokens", "12"]
    args += ["-b", "4", "-o", str(out), "--device", "cpu", "--loader-workers", "0"]
    if family == "vlm_r1":
        args += ["--family", "vlm_r1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert doc["task"] == task and manifest["model"]["family"] == family and manifest["prompt_template_hash"]
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == doc["counts"]["n_samples"] == 3
    return doc, preds


@pytest.mark.parametrize("family, checkpoint", RUNS, ids=RUN_IDS)
def test_cli_ovd_with_a_tiny_model(family, checkpoint, tiny, demo_split, tmp_path):
    doc, preds = _cli("ovd", family, checkpoint, tiny, demo_split, tmp_path / "run")
    assert "ap" in doc["metrics"]
    assert all(o.get("score") is not None for p in preds for o in p["objects"])  # generated boxes carry confidence


@needs_java
@pytest.mark.parametrize("family, checkpoint", RUNS, ids=RUN_IDS)
def test_cli_ric_with_a_tiny_model(family, checkpoint, tiny, demo_split, tmp_path):
    doc, preds = _cli("ric", family, checkpoint, tiny, demo_split, tmp_path / "run")
    assert "cider_d" in doc["metrics"] and "gp" in doc["metrics"]
    assert all("caption" in p["meta"] for p in preds if p["parse_status"] == "ok")


def _frame(adapter, family, w, h):
    if family in ("qwen2_5_vl", "vlm_r1"):
        ip = adapter.processor.image_processor
        ih, iw = smart_resize(h, w, 28, ip.size["shortest_edge"], ip.size["longest_edge"])
        return Frame(w, h, iw, ih)
    return Frame(w, h)


def _ovd_answer(family, sample, frame):
    """The family's detection syntax for every GT object, labelled with its category."""
    texts = [WRITERS[family](o.bbox, frame, o.label)[0] for o in sample.objects]
    if family in ("qwen2_5_vl", "qwen3_vl", "vlm_r1"):
        items = [json.loads(t[t.index("[") : t.rindex("]") + 1])[0] for t in texts]
        body = "```json\n" + json.dumps(items) + "\n```"
        return f"<think>ok</think><answer>{body}</answer>" if family == "vlm_r1" else body
    return "".join(texts)


@pytest.mark.parametrize(
    "family, checkpoint",
    [("qwen2_5_vl", "qwen2_5_vl"), ("vlm_r1", "qwen2_5_vl"), ("internvl", "internvl"), ("florence2", "florence2")],
)
def test_forced_right_detections_give_ap_1(family, checkpoint, tiny, demo_split, tmp_path, monkeypatch):
    adapter = load_model(str(tiny(checkpoint)), family, device="cpu", max_new_tokens=400)
    reader = open_split("coco_val2017", Task.OVD, data_root=demo_split.data)
    gt = {s.sample_id: s for s in reader}  # the test knows the answers; the adapter never does
    force(
        adapter,
        lambda r: text_ids(
            adapter, _ovd_answer(family, gt[r.sample_id], _frame(adapter, family, r.image.width, r.image.height)), family
        ),
    )
    result = run_forced(
        monkeypatch, adapter, Task.OVD, "coco_val2017", tiny(checkpoint), tmp_path / "run", data_root=demo_split.data
    )
    # every object found with its category; the family's quantisation only costs AP at the
    # strictest IoU thresholds (Qwen's tiny processor resizes to at most 128x128 pixels)
    assert result.metrics["ap50"] == pytest.approx(1.0) and result.metrics["ap75"] == pytest.approx(1.0), result.metrics
    assert result.metrics["ap"] > 0.9
    assert result.counts["n_predicted"] == len(gt)


@needs_java
@pytest.mark.parametrize("family, checkpoint", [("qwen2_5_vl", "qwen2_5_vl"), ("kosmos2", "kosmos2")])
def test_forced_grounded_captions_ground_every_object(family, checkpoint, tiny, demo_split, tmp_path, monkeypatch):
    """The first reference caption (it names every object), each object followed by its box
    in the family's grounded form: GP = GR = 1, and the scored caption is the reference's words."""
    from padt_eval.demo.synthetic import as_val2017, make_world, ric_captions

    adapter = load_model(str(tiny(checkpoint)), family, device="cpu", max_new_tokens=300)
    world = {str(img.image_id): img for img in as_val2017(make_world(3, seed=2, first_image_id=1000))}  # the demo's val world

    def grounded(img, name, box):
        frame = _frame(adapter, family, img.width, img.height)
        if family == "kosmos2":  # continues "<grounding>An image of"
            return WRITERS["kosmos2"](box, frame, " " + name)[0]
        sx, sy = frame.input_width / img.width, frame.input_height / img.height  # Qwen2.5-VL: input pixels
        vals = [round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy)]
        return f"{name} ({json.dumps(vals)})"

    def answer(req):
        img = world[req.sample_id]
        _template, plain, order = ric_captions(img)[0]
        text = plain[0].lower() + plain[1:]
        for j in order:
            o = img.objects[j]
            x, y, w, h = o.bbox_xywh
            name = f"{'an' if o.name[0] in 'aeiou' else 'a'} {o.name}"
            text = text.replace(name, grounded(img, name, (x, y, x + w, y + h)), 1)
        return text if family == "kosmos2" else text[0].upper() + text[1:]

    force(adapter, lambda r: text_ids(adapter, answer(r), family))
    result = run_forced(monkeypatch, adapter, Task.RIC, "ric_val", tiny(checkpoint), tmp_path / "run", data_root=demo_split.data)
    assert result.metrics["gp"] == pytest.approx(1.0) and result.metrics["gr"] == pytest.approx(1.0), result.metrics
    for line in (tmp_path / "run" / "per_sample.jsonl").read_text().splitlines():
        rec = json.loads(line)
        plain = ric_captions(world[rec["sample_id"]])[0][1]
        assert plain.rstrip(".").lower() in rec["candidate"].lower(), (rec["candidate"], plain)
