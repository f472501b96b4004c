"""OVD, RIC and RES through the adapters (forced answers on tiny models): every box with
its label and confidence for OVD; phrases and a clean caption for RIC (Florence-2's
two-stage cascade, Kosmos-2's echoed prompt); Florence-2 polygons as a RES mask."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from padt_eval.core import rle
from padt_eval.core.types import ImageRef, ModelRequest, ParseStatus, Task
from padt_eval.models.loading import load_model
from padt_eval.runner.prepare import predict_requests
from padt_eval.tasks.prompts import render, template_for

from .forcing import force, text_ids


def _requests(adapter, demo_split, task, n=2):
    reqs = []
    for i, path in enumerate(sorted(demo_split.images.iterdir())[:n]):
        w, h = Image.open(path).size
        base = ModelRequest(str(i), task, ImageRef(str(path), w, h), expression="the red circle", categories=["circle", "square"])
        reqs.append(ModelRequest(**{**base.__dict__, "prompt": render(template_for(adapter.prompt_key, task), base)}))
    return reqs


def test_ovd_keeps_every_box_with_label_and_confidence(tiny, demo_split):
    adapter = load_model(str(tiny("qwen3_vl")), device="cpu", max_new_tokens=80)
    answer = '[{"bbox_2d": [100, 100, 400, 500], "label": "circle"}, {"bbox_2d": [500, 200, 900, 800], "label": "square"}]'
    force(adapter, lambda r: text_ids(adapter, answer, "qwen3_vl"))
    reqs = _requests(adapter, demo_split, Task.OVD)
    assert "'circle, square'" in reqs[0].prompt  # Qwen3-VL's ODinW prompt
    for req, pred in zip(reqs, predict_requests(adapter, reqs)):
        assert pred.parse_status == ParseStatus.OK
        assert [o.label for o in pred.objects] == ["circle", "square"]
        assert all(math.isfinite(o.score) and o.score <= 0 for o in pred.objects)
        w = req.image.width
        assert pred.objects[0].bbox[0] == pytest.approx(100 / 1000 * w)


def test_ric_internvl_phrases_and_caption(tiny, demo_split):
    adapter = load_model(str(tiny("internvl")), device="cpu", max_new_tokens=120)
    answer = "In this image, <ref>a red circle</ref><box>[[100, 100, 400, 500]]</box> sits next to <ref>a blue square</ref><box>[[500, 200, 900, 800]]</box>."
    force(adapter, lambda r: text_ids(adapter, answer, "internvl"))
    pred = predict_requests(adapter, _requests(adapter, demo_split, Task.RIC, 1))[0]
    assert [o.label for o in pred.objects] == ["a red circle", "a blue square"]
    assert pred.meta["caption"] == "In this image, a red circle sits next to a blue square."
    assert pred.text == answer


def test_ric_kosmos2_echoes_its_prompt(tiny, demo_split):
    adapter = load_model(str(tiny("kosmos2")), device="cpu", max_new_tokens=40)
    answer = "<phrase> a red circle</phrase><object><patch_index_0044><patch_index_0863></object>."
    force(adapter, lambda r: text_ids(adapter, answer, "kosmos2"))
    pred = predict_requests(adapter, _requests(adapter, demo_split, Task.RIC, 1))[0]
    assert pred.text.startswith("<grounding>An image of")
    assert pred.meta["caption"] == "An image of a red circle."
    assert [o.label for o in pred.objects] == ["a red circle"] and pred.objects[0].score <= 0


def test_ric_florence2_cascade(tiny, demo_split):
    adapter = load_model(str(tiny("florence2")), device="cpu", max_new_tokens=40)
    caption = "A red circle next to a blue square."
    grounded = "a red circle<loc_100><loc_100><loc_400><loc_500>a blue square<loc_500><loc_200><loc_900><loc_800>"

    def target(req):
        return text_ids(adapter, grounded if req.prompt.startswith("<CAPTION_TO_PHRASE_GROUNDING>") else caption, "florence2")

    force(adapter, target)
    reqs = _requests(adapter, demo_split, Task.RIC, 2)
    assert reqs[0].prompt == "<DETAILED_CAPTION>"
    for pred in predict_requests(adapter, reqs):
        assert pred.meta["caption"] == caption
        assert [o.label for o in pred.objects] == ["a red circle", "a blue square"]
        assert pred.parse_status == ParseStatus.OK


def test_res_florence2_polygon_becomes_a_mask(tiny, demo_split):
    adapter = load_model(str(tiny("florence2")), device="cpu", max_new_tokens=40)
    poly = "<loc_100><loc_100><loc_600><loc_100><loc_600><loc_600><loc_100><loc_600>"
    force(adapter, lambda r: text_ids(adapter, poly, "florence2"))
    req = _requests(adapter, demo_split, Task.RES, 1)[0]
    assert req.prompt == "<REFERRING_EXPRESSION_SEGMENTATION>the red circle"
    pred = predict_requests(adapter, [req])[0]
    obj = pred.objects[0]
    w, h = req.image.width, req.image.height
    assert obj.mask is not None and obj.mask["size"] == [h, w]
    assert rle.area(obj.mask) == pytest.approx(0.5 * w * 0.5 * h, rel=0.1)
