"""The cost fields the adapters record (core/answer_cost.py) against tokens counted here,
independently, with the checkpoint's own tokenizer file: prompt tokens = the chat text's
tokens with the image placeholder expanded to the merged patches of the processor's
resize (`smart_resize` of the recorded image size, the checkpoint's pixel budget);
completion tokens = the forced answer's tokens plus the end-of-turn token; an answer
forced past --max-new-tokens is flagged as having hit it."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tokenizers import Tokenizer  # noqa: E402

from padt_eval.core.types import Task  # noqa: E402
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader  # noqa: E402
from padt_eval.models.coords.qwen2_5_vl import smart_resize  # noqa: E402
from padt_eval.models.loading import load_model  # noqa: E402
from padt_eval.runner.prepare import predict_requests  # noqa: E402
from padt_eval.tasks.registry import get_task  # noqa: E402

from .hf.forcing import force  # noqa: E402

ANSWER = '[{"bbox_2d": [10, 20, 30, 40], "label": "the red circle on the left"}]'


@pytest.fixture(autouse=True)
def _threads(_one_torch_thread):
    """One torch thread (tests/models/conftest.py)."""


def _requests(demo_split, adapter, n=5):
    reader = PadtRefcocoJsonlReader(demo_split.rec_split, demo_split.images, Task.REC, name="demo_refcoco_val")
    samples = list(reader)[:n]
    task = get_task(Task.REC)
    return [s.request(prompt=task.prompt(adapter.prompt_key, s)) for s in samples]


def _budget(folder):
    if (folder / "preprocessor_config.json").is_file():
        cfg = json.loads((folder / "preprocessor_config.json").read_text())
    else:  # saved by transformers 5
        cfg = json.loads((folder / "processor_config.json").read_text())["image_processor"]
    size = cfg.get("size") or {}
    lo = cfg.get("min_pixels") or size["shortest_edge"]
    hi = cfg.get("max_pixels") or size["longest_edge"]
    return int(cfg.get("patch_size", 14)), int(cfg.get("merge_size", 2)), int(lo), int(hi)


def _image_tokens(folder, width, height):
    patch, merge, lo, hi = _budget(folder)
    h, w = smart_resize(height, width, patch * merge, lo, hi)
    return (h // patch) * (w // patch) // merge**2


def _qwen(tiny, max_new_tokens, target_words):
    folder = tiny("qwen2_5_vl")
    adapter = load_model(str(folder), "qwen2_5_vl", device="cpu", max_new_tokens=max_new_tokens)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = tok.encode(target_words, add_special_tokens=False).ids
    force(adapter, lambda req: ids)
    return folder, adapter, tok, ids


def test_hf_cost_fields_equal_tokens_counted_with_the_tokenizer(tiny, demo_split):
    folder, adapter, tok, ids = _qwen(tiny, 64, ANSWER)
    requests = _requests(demo_split, adapter)
    preds = predict_requests(adapter, requests)  # one padded batch of prompts of different lengths
    prompt_lengths = set()
    for req, p in zip(requests, preds):
        chat = adapter.chat_text(req)
        text_tokens = len(tok.encode(chat, add_special_tokens=False).ids)
        placeholder = len(tok.encode("<|image_pad|>", add_special_tokens=False).ids)
        want = text_tokens - placeholder + _image_tokens(folder, req.image.width, req.image.height)
        assert p.meta["prompt_tokens"] == want, req.sample_id
        assert p.meta["completion_tokens"] == len(ids) + 1  # the answer and its end-of-turn token
        assert p.meta["hit_max_new_tokens"] is False
        prompt_lengths.add(want)
    assert len(prompt_lengths) > 1  # the batch was padded: each row counted without its padding


def test_hf_an_answer_forced_past_max_new_tokens_hits_it(tiny, demo_split):
    _, adapter, _, ids = _qwen(tiny, 6, ANSWER)
    assert len(ids) > 6
    preds = predict_requests(adapter, _requests(demo_split, adapter, n=2))
    for p in preds:
        assert p.meta["hit_max_new_tokens"] is True
        assert p.meta["completion_tokens"] == 6
        assert p.meta["stopped"] is False


def test_padt_cost_fields_equal_tokens_counted_with_the_tokenizer(tiny_checkpoint, demo_split):
    max_new = 6
    adapter = load_model(str(tiny_checkpoint), "padt", device="cpu", max_new_tokens=max_new)
    requests = _requests(demo_split, adapter)
    preds = predict_requests(adapter, requests)
    tok = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    render = adapter.pipeline.processor.tokenizer.render_prompt
    for req, p in zip(requests, preds):
        text = render(req.prompt)
        placeholder = len(tok.encode("<|image_pad|>", add_special_tokens=False).ids)
        want = len(tok.encode(text, add_special_tokens=False).ids) - placeholder
        want += _image_tokens(tiny_checkpoint, req.image.width, req.image.height)
        assert p.meta["prompt_tokens"] == want, req.sample_id
        # a row that never ended ran every step; one that ended counts its end-of-turn token
        assert p.meta["hit_max_new_tokens"] is (not p.meta["finished"])
        assert 1 <= p.meta["completion_tokens"] <= max_new
        if p.meta["hit_max_new_tokens"]:
            assert p.meta["completion_tokens"] == max_new
