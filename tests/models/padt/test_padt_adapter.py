"""End to end: tiny built checkpoint + synthetic images -> canonical Predictions."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from padt_eval.core import rle
from padt_eval.core.types import ImageRef, ModelRequest, ParseStatus, PromptKey, Task
from padt_eval.runner.prepare import predict_requests
from padt_eval.tasks.registry import get_task

SIZES = [(112, 84), (130, 90), (64, 200), (300, 150), (45, 60)]


@pytest.fixture(scope="module")
def requests_(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    reqs = []
    for i, (w, h) in enumerate(SIZES):
        im = Image.new("RGB", (w, h), (128, 128, 128))
        d = ImageDraw.Draw(im)
        d.rectangle([w // 6, h // 5, w // 2, h // 2], fill=(220, 20, 20))
        d.ellipse([w // 2, h // 2, w - 3, h - 3], fill=(20, 20, 220))
        path = folder / f"img{i}.png"
        im.save(path)
        task = [Task.REC, Task.OVD, Task.RIC, Task.RES, Task.OVD][i]
        req = ModelRequest(
            sample_id=f"s{i}",
            task=task,
            image=ImageRef(str(path), w, h),
            expression="the red square",
            categories=["square", "circle"],
        )
        reqs.append(replace(req, prompt=get_task(task).prompt(PromptKey("padt"), req)))  # as the runner asks
    reqs.insert(
        2,
        ModelRequest(
            sample_id="broken",
            task=Task.RIC,
            image=ImageRef(str(folder / "missing.png"), 10, 10),
            prompt="Please describe this image.",
        ),
    )
    reqs.append(
        ModelRequest(
            sample_id="prompted",
            task=Task.RIC,
            image=ImageRef(str(folder / "img0.png"), 112, 84),
            prompt="Please describe this image.",
        )
    )
    return reqs


@pytest.fixture(scope="module")
def adapter(tiny_checkpoint):
    from padt_eval.models.padt.adapter import load_padt

    return load_padt(str(tiny_checkpoint), max_new_tokens=16, batch_size=3)


def test_a_request_without_a_prompt_is_that_samples_error(adapter, requests_):
    # The prompt is the task's to fill in (tasks.prompts); the adapter never makes one up.
    pred = predict_requests(adapter, [replace(requests_[0], prompt=None)])[0]
    assert pred.parse_status == ParseStatus.ERROR and pred.parse_reason == "no prompt in the request"


def test_predictions_are_canonical(adapter, requests_):
    preds = predict_requests(adapter, requests_)
    assert [p.sample_id for p in preds] == [r.sample_id for r in requests_]
    n_objects = 0
    for req, pred in zip(requests_, preds):
        if req.sample_id == "broken":
            assert pred.parse_status == ParseStatus.ERROR and "missing.png" in pred.parse_reason
            continue
        assert pred.parse_status in (ParseStatus.OK, ParseStatus.FAILED)
        if pred.parse_status == ParseStatus.FAILED:
            assert pred.parse_reason
        assert "<|im_end|>" not in pred.text and "<|endoftext|>" not in pred.text
        w, h = req.image.width, req.image.height
        for obj in pred.objects:
            n_objects += 1
            x1, y1, x2, y2 = obj.bbox
            assert all(isinstance(v, float) for v in obj.bbox)
            assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
            assert 0.0 < obj.score < 1.0
            assert obj.mask["size"] == [h, w] and isinstance(obj.mask["counts"], str)
            assert rle.decode(obj.mask).shape == (h, w)
        meta = pred.meta
        assert meta["parser"] == "default" and meta["generated_steps"] <= 16
        assert meta["truncated"] == (not meta["finished"])
        assert len(meta["vrt_per_object"]) == len(pred.objects)
        # the VRT patch indices the diff report draws: one list per object, in the merged grid
        assert [len(v) for v in meta["vrt_patches"]] == meta["vrt_per_object"]
        assert meta["vrt_grid_hw"] == [meta["image_grid_thw"][1] // 2, meta["image_grid_thw"][2] // 2]
        assert all(isinstance(i, int) and i >= 0 for v in meta["vrt_patches"] for i in v)
        json.dumps(pred.to_json())
    assert n_objects > 0, "the tiny model produced no object at all; the decoder path went untested"


def test_compat_mode_reports_reference_boxes(tiny_checkpoint, requests_):
    from padt_eval.models.padt.adapter import load_padt

    compat = load_padt(str(tiny_checkpoint), max_new_tokens=16, batch_size=8, compat=True)
    preds = predict_requests(compat, requests_)
    for pred in preds:
        if pred.parse_status == ParseStatus.ERROR:
            continue
        assert pred.meta["parser"] == "reference-compat"
        assert len(pred.meta["compat_xywh"]) == len(pred.objects)
        for obj, (x, y, w, h) in zip(pred.objects, pred.meta["compat_xywh"]):
            assert obj.bbox == [float(x), float(y), float(x + w), float(y + h)]
        if pred.parse_status == ParseStatus.FAILED:
            assert pred.objects == []  # the reference's rule, reported instead of silent


def test_batch_size_does_not_change_results(tiny_checkpoint, adapter, requests_):
    from padt_eval.models.padt.adapter import load_padt

    single = predict_requests(load_padt(str(tiny_checkpoint), max_new_tokens=16, batch_size=1), requests_)
    batched = predict_requests(adapter, requests_)
    for a, b in zip(single, batched):
        assert a.text == b.text and a.parse_status == b.parse_status
        assert len(a.objects) == len(b.objects)
        for oa, ob in zip(a.objects, b.objects):  # left padding differs; values agree to float noise
            assert oa.bbox == pytest.approx(ob.bbox, abs=1e-3)
            assert oa.score == pytest.approx(ob.score, abs=1e-5)


def test_describe(adapter, tiny_checkpoint):
    d = adapter.describe()
    json.dumps(d)
    assert d["family"] == "padt" and d["dtype"] == "float32" and d["device"] == "cpu" and d["attn"] == "sdpa"
    sha = hashlib.sha256((tiny_checkpoint / "model.safetensors").read_bytes()).hexdigest()
    assert d["weights_sha256"] == {"model.safetensors": sha}
    assert d["generation"]["max_new_tokens"] == 16 and d["generation"]["repetition_penalty"] == 1.05
    assert d["generation"]["do_sample"] is False
    assert d["min_pixels"] == 3136 and d["max_pixels"] == 15680
    assert d["compat"] is False and d["implementation"]


def test_pixel_budget_override(tiny_checkpoint, requests_):
    from padt_eval.models.padt.adapter import load_padt

    small = load_padt(str(tiny_checkpoint), max_new_tokens=2, max_pixels=56 * 56)
    assert small.describe()["max_pixels"] == 56 * 56
    pred = predict_requests(small, [requests_[-1]])[0]
    t, h, w = pred.meta["image_grid_thw"]
    assert h * w * 14 * 14 <= 56 * 56


def test_bf16_runs_end_to_end(tiny_checkpoint, requests_):
    from padt_eval.models.padt.adapter import load_padt

    preds = predict_requests(load_padt(str(tiny_checkpoint), max_new_tokens=6, dtype="bfloat16"), requests_[:2])
    assert len(preds) == 2 and all(p.parse_status != ParseStatus.ERROR for p in preds)


def test_family_registers_without_torch():
    code = (
        "import sys; import padt_eval.models.padt.family as f; "
        "from padt_eval.models import base; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'; "
        "fam = base._FAMILIES['padt']; assert fam.loader is not None; print(fam.runs_here()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
