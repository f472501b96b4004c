"""A tiny checkpoint wearing a released config.json: the released file's keys and values,
with only the sizes (and the token ids of a small test tokenizer) taken from the tiny model.

So loading, family detection and the adapters meet the released files' layout (legacy flat
Qwen2-VL/2.5-VL configs with `rope_scaling`, old `transformers_version`, `architectures`,
PaDT's `vl_decoder`) while the weights stay a few MB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"

# Keys whose value must match the tiny weights or the tiny tokenizer.
TINY_KEYS = {
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
    "max_window_layers", "head_dim", "max_position_embeddings", "depth", "num_heads", "out_hidden_size",
    "fullatt_block_indexes", "window_size", "embed_dim", "mlp_ratio", "deepstack_visual_indexes",
    "num_position_embeddings", "image_size", "patch_size", "latent_query_num", "layers", "attention_heads", "ffn_dim",
    "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads", "decoder_attention_heads",
    "encoder_ffn_dim", "decoder_ffn_dim", "depths", "num_groups", "projection_dim", "image_seq_length",
    "tie_word_embeddings", "llm_hidden_state", "bos_token_id", "eos_token_id", "pad_token_id", "image_token_id",
    "video_token_id", "vision_start_token_id", "vision_end_token_id", "vision_token_id", "decoder_start_token_id",
    "forced_bos_token_id", "forced_eos_token_id", "layer_types",
}  # fmt: skip


def _lookup(tiny: dict, key: str):
    """A key of the tiny config, also found in its nested text_config (released Qwen2-VL and
    Qwen2.5-VL configs are flat, transformers 5 saves them nested)."""
    if key in tiny:
        return tiny[key]
    return (tiny.get("text_config") or {}).get(key)


def _mrope(tiny: dict):
    for where in (tiny, tiny.get("text_config") or {}):
        for rope in (where.get("rope_parameters"), where.get("rope_scaling")):
            if isinstance(rope, dict) and "mrope_section" in rope:
                return rope["mrope_section"]
    return None


def merge(released: dict, tiny: dict) -> dict:
    out = {}
    for key, value in released.items():
        mine = _lookup(tiny, key)
        if key == "rope_scaling" and isinstance(value, dict) and "mrope_section" in value and _mrope(tiny) is not None:
            out[key] = {**value, "mrope_section": _mrope(tiny)}  # tiny heads: a smaller M-RoPE split
        elif isinstance(value, dict) and isinstance(mine, dict):
            out[key] = merge(value, mine)
        elif key in TINY_KEYS and mine is not None:
            out[key] = mine
        else:
            out[key] = value
    return out


def with_released_config(tiny_folder: Path, fixture: str, out: Path) -> Path:
    """A folder with the tiny checkpoint's files (linked) and the merged config.json."""
    out.mkdir(parents=True, exist_ok=True)
    for f in Path(tiny_folder).iterdir():
        if f.name != "config.json" and not (out / f.name).exists():
            os.symlink(f.resolve(), out / f.name)
    tiny = json.loads((Path(tiny_folder) / "config.json").read_text(encoding="utf-8"))
    released = json.loads((CONFIGS / fixture).read_text(encoding="utf-8"))
    (out / "config.json").write_text(json.dumps(merge(released, tiny), indent=2) + "\n", encoding="utf-8")
    return out
