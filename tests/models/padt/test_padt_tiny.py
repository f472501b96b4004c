"""The tiny checkpoint builder: complete, deterministic, in the reference's key layout."""

from __future__ import annotations

import hashlib
import json

from safetensors.torch import load_file

from padt_eval.demo.tiny_padt import build_tiny_padt

FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.json",
    "preprocessor_config.json",
}


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_complete_and_deterministic(tmp_path, tiny_checkpoint):
    again = build_tiny_padt(tmp_path / "again", seed=0)
    assert set(_digest(again)) == FILES
    assert _digest(again) == _digest(tiny_checkpoint)
    other = build_tiny_padt(tmp_path / "other", seed=7)
    assert _digest(other)["model.safetensors"] != _digest(tiny_checkpoint)["model.safetensors"]
    assert _digest(other)["tokenizer.json"] == _digest(tiny_checkpoint)["tokenizer.json"]


def test_reference_key_layout_and_config(tiny_checkpoint):
    keys = set(load_file(str(tiny_checkpoint / "model.safetensors")))
    assert "model.embed_tokens.weight" in keys and "lm_head.weight" in keys
    assert "visual.blocks.0.attn.qkv.weight" in keys and "visual.merger.mlp.2.weight" in keys
    assert {"vis_norm.weight", "vis_norm.bias", "vis_proj.0.weight", "vis_proj.1.weight"} <= keys
    assert "vl_decoder.low_res_transformer.cross_attn_image_to_query.proj.bias" in keys
    assert not any(k.startswith("language_model.") for k in keys)
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    assert cfg["model_type"] == "qwen2_5_vl" and cfg["architectures"] == ["PaDTForConditionalGeneration"]
    assert cfg["vl_decoder"]["hidden_size"] == cfg["vision_config"]["hidden_size"]
    tok = json.loads((tiny_checkpoint / "tokenizer.json").read_text())
    n_tokens = len(tok["model"]["vocab"]) + len(tok["added_tokens"])
    assert cfg["vocab_size"] > n_tokens  # padding rows exist, as in the released checkpoints
    gen = json.loads((tiny_checkpoint / "generation_config.json").read_text())
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    assert gen["eos_token_id"] == [ids["<|im_end|>"], ids["<|endoftext|>"]] and cfg["image_token_id"] == ids["<|image_pad|>"]


def test_tied_variant_has_no_lm_head(tiny_tied_checkpoint):
    keys = set(load_file(str(tiny_tied_checkpoint / "model.safetensors")))
    assert "lm_head.weight" not in keys
    assert json.loads((tiny_tied_checkpoint / "config.json").read_text())["tie_word_embeddings"] is True


def test_chat_prompt_renders_like_qwen(tiny_checkpoint):
    from padt_eval.models.padt.tokenizer import PadtTokenizer

    tok = PadtTokenizer.from_folder(tiny_checkpoint)
    text = tok.render_prompt("Please describe this image.")
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>Please describe this image.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tok.token_strings(tok.encode(text))[0] == "<|im_start|>"
    assert tok.decode(tok.encode(text)) == text
