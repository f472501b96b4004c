"""Baseline generation keeps the chosen token's log-probability only, and decodes offsets
incrementally: same values as before, memory that does not grow with the answer beyond the
KV cache, offsets equal to decoding every prefix."""

from __future__ import annotations

import random

import pytest

from padt_eval.models.hf import generation
from padt_eval.models.hf.generation import decode_with_offsets, greedy_generate

from .live_tensors import LiveTensorBytes


def offsets_by_prefixes(tokenizer, ids):
    """The definition: token i ends where the decoding of ids[:i+1] ends (U+FFFD of an
    unfinished character not counted)."""
    dec = lambda part: tokenizer.decode(part, skip_special_tokens=False, clean_up_tokenization_spaces=False)  # noqa: E731
    text, out, prev = dec(ids), [], 0
    for i in range(1, len(ids) + 1):
        prefix = dec(ids[:i])
        end = len(prefix)
        while end > prev and prefix[end - 1] == "\ufffd" and not text.startswith(prefix):
            end -= 1
        end = min(max(end, prev), len(text))
        out.append((prev, end))
        prev = end
    return text, out


@pytest.mark.parametrize("family", ["qwen2_5_vl", "internvl", "kosmos2", "florence2"])
def test_incremental_offsets_equal_prefix_decoding(family, tiny):
    from transformers import AutoProcessor

    tok = AutoProcessor.from_pretrained(str(tiny(family))).tokenizer
    texts = ["the red circle é at (10,20),(30,40) 猫猫 ok", "  two  spaces\nnew line ü€", "x"]
    rng = random.Random(0)
    cases = [tok.encode(t, add_special_tokens=False) for t in texts]
    cases += [[rng.randrange(len(tok)) for _ in range(60)] for _ in range(5)]  # any ids, specials included
    for ids in cases:
        assert decode_with_offsets(tok, ids) == offsets_by_prefixes(tok, ids), ids


def _text_model(tiny):
    from padt_eval.models.loading import load_model

    adapter = load_model(str(tiny("qwen2_5_vl")), device="cpu", max_new_tokens=8)
    model, tok = adapter.model, adapter.tokenizer
    tok.padding_side = "left"
    inputs = dict(tok(["a red square", "the circle on the left of it"], return_tensors="pt", padding=True))
    return model, tok, inputs, adapter.eos_ids


def test_recorded_logprobs_equal_the_all_logits_ones(tiny, monkeypatch):
    model, tok, inputs, eos = _text_model(tiny)
    recorded = greedy_generate(model, inputs, max_new_tokens=24, eos_ids=eos, tokenizer=tok)
    monkeypatch.setattr(generation, "_scores_changed_before_custom_processors", lambda *a: ["forced"])
    all_logits = greedy_generate(model, inputs, max_new_tokens=24, eos_ids=eos, tokenizer=tok)
    for a, b in zip(recorded, all_logits):
        assert a.token_ids == b.token_ids and a.text == b.text and a.offsets == b.offsets
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-6, rel=0)
        assert len(a.logprobs) == len(a.token_ids) and all(lp <= 0 for lp in a.logprobs)


def _peak_bytes(model, tok, inputs, steps: int) -> int:
    with LiveTensorBytes() as mem:
        out = greedy_generate(model, inputs, max_new_tokens=steps, eos_ids=set(), tokenizer=tok)
    assert all(len(g.token_ids) == steps for g in out)
    return mem.peak


@pytest.mark.slow
def test_long_answers_do_not_grow_memory_beyond_the_kv_cache(tiny, monkeypatch):
    model, tok, inputs, _ = _text_model(tiny)
    model.generation_config.eos_token_id = None  # run every step
    cfg = model.config.get_text_config()
    batch, prompt = inputs["input_ids"].shape
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv_per_token = 2 * cfg.num_hidden_layers * batch * cfg.num_key_value_heads * head_dim * model.dtype.itemsize
    short, long = 250, 1000
    growth = _peak_bytes(model, tok, inputs, long) - _peak_bytes(model, tok, inputs, short)
    kv_growth = kv_per_token * (long - short)
    # DynamicCache concatenates: one layer's old and new buffers coexist for a moment, and
    # sequences / attention mask grow with the tokens (int64 and bool): allow 2x the KV
    # growth plus 64 bytes per token and row
    assert growth <= 2 * kv_growth + 64 * batch * (long - short), (growth, kv_growth)

    # the all-logits path keeps batch x vocab floats per step: the same measurement sees it
    monkeypatch.setattr(generation, "_scores_changed_before_custom_processors", lambda *a: ["forced"])
    growth_all = _peak_bytes(model, tok, inputs, long) - _peak_bytes(model, tok, inputs, short)
    vocab = model.get_output_embeddings().weight.shape[0]
    assert growth_all >= 0.9 * batch * vocab * 4 * (long - short) > 2 * growth
