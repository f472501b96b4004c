"""Each runnable adapter end to end on the CPU with a tiny random model of its architecture.

1. `padt-eval rec --model TINY` on the demo split: the real loading path (family detected
   from config.json), the runner, the results files and the manifest.
2. Forced answers: generation is constrained to the text the family would write for the
   right box, so decoding, the parser, the family frame (Qwen2.5-VL's processor grid
   included) and the metric are checked together: every sample must be a hit.
"""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.models.coords import Frame
from padt_eval.models.coords.qwen2_5_vl import smart_resize
from padt_eval.models.loading import load_model

from ..coords.writers import WRITERS
from .forcing import force, run_forced
from .runs import RUN_IDS, RUNS

runner = CliRunner()


def _reader(demo_split, task=Task.REC):
    return PadtRefcocoJsonlReader(demo_split.rec_split, demo_split.images, task, name="demo_refcoco_val")


@pytest.mark.parametrize("family, checkpoint", RUNS, ids=RUN_IDS)
def test_cli_rec_with_a_tiny_model(family, checkpoint, tiny, demo_split, tmp_path):
    out = tmp_path / "run"
    args = ["rec", "-s", str(demo_split.rec_split), "--image-root", str(demo_split.images), "--model", str(tiny(checkpoint))]
    args += ["--max-new-tokens", "12", "-b", "4", "-o", str(out), "--device", "cpu", "--loader-workers", "0"]
    if family == "vlm_r1":
        args += ["--family", "vlm_r1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    n = len(_reader(demo_split))
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == n and all(p["meta"]["format"] == family for p in preds)
    model = json.loads((out / "manifest.json").read_text())["model"]
    assert model["family"] == family and model["format"] == family and model["device"] == "cpu"
    assert model["generation"]["max_new_tokens"]["rec"] == 12
    assert model["box_score"].startswith("mean log-probability")
    assert json.loads((out / "manifest.json").read_text())["prompt_template_hash"]
    if family in ("qwen2_5_vl", "vlm_r1"):
        assert model["processor"]["min_pixels"] == 3136 and model["processor"]["max_pixels"] == 128 * 128
        assert all("input_size" in p["meta"] for p in preds)
    assert model["prompt_style"] == ("paper" if family in ("qwen2_5_vl", "internvl") else "native")


@pytest.mark.parametrize("family, checkpoint", RUNS, ids=RUN_IDS)
def test_forced_right_answers_score_every_sample(family, checkpoint, tiny, demo_split, tmp_path, monkeypatch):
    adapter = load_model(str(tiny(checkpoint)), family, device="cpu", max_new_tokens=160)
    reader = _reader(demo_split)
    gt = {s.sample_id: s for s in reader}  # the test knows the answers; the adapter never does
    tok = adapter.tokenizer

    def target(req):
        s = gt[req.sample_id]
        w, h = s.image.width, s.image.height
        frame = Frame(w, h)
        if family in ("qwen2_5_vl", "vlm_r1"):
            ip = adapter.processor.image_processor
            ih, iw = smart_resize(h, w, 28, ip.size["shortest_edge"], ip.size["longest_edge"])
            frame = Frame(w, h, iw, ih)
        text, _ = WRITERS[family](s.objects[0].bbox, frame, s.expression)
        if family == "kosmos2":  # the phrase is in the prompt; the model writes the object
            text = text[text.index("<object>") :]
        ids = tok.encode(text, add_special_tokens=False)
        return ([tok.bos_token_id] if family == "florence2" else []) + ids

    force(adapter, target)
    result = run_forced(
        monkeypatch,
        adapter,
        Task.REC,
        str(demo_split.rec_split),
        tiny(checkpoint),
        tmp_path / "run",
        image_root=demo_split.images,
    )
    assert result.metrics["acc@0.5"] == 1.0, result
    preds = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    for p in preds:
        assert p["parse_status"] == "ok" and len(p["objects"]) == 1
        score = p["objects"][0]["score"]
        assert math.isfinite(score) and score <= 0.0
        assert p["meta"]["stopped"] is True
    if family in ("qwen2_5_vl", "vlm_r1"):
        # the frame came from the processor's grid, and equals smart_resize of the original size
        for p in preds:
            s = gt[p["sample_id"]]
            ih, iw = smart_resize(s.image.height, s.image.width, 28, 3136, 128 * 128)
            assert p["meta"]["input_size"] == [iw, ih]
    if family == "kosmos2":
        assert all(
            p["text"].startswith("<grounding><phrase>") and p["objects"][0]["label"] == gt[p["sample_id"]].expression
            for p in preds
        )
