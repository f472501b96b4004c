"""A PaDT checkpoint's configuration, read from its `config.json`.

The file is a Qwen2.5-VL config with two extra top-level entries, `vl_decoder` and
`use_visual_prototype_projection`. Released PaDT checkpoints were saved by transformers
4.50, whose Qwen2.5-VL config is *flat* (text keys at the top level, `rope_scaling`);
transformers 5.x nests them under `text_config` and calls the rope dict `rope_parameters`.
We accept both and build the two stock sub-configs ourselves, so that nothing depends on
how a given transformers version up-converts an old file.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.core.errors import CheckpointError

# Text-model keys we carry over from a flat (4.50) config. Anything else at the top level
# is either a vision/PaDT entry or bookkeeping (architectures, transformers_version ...).
_TEXT_KEYS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "use_sliding_window",
    "sliding_window",
    "max_window_layers",
    "attention_dropout",
    "initializer_range",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
)
_VISION_KEYS = (
    "depth",
    "hidden_size",
    "hidden_act",
    "intermediate_size",
    "num_heads",
    "in_channels",
    "patch_size",
    "spatial_merge_size",
    "temporal_patch_size",
    "tokens_per_second",
    "window_size",
    "out_hidden_size",
    "fullatt_block_indexes",
    "initializer_range",
)

#: rank of the prototype projection; the reference hard-codes it (not in config.json)
PROTOTYPE_RANK = 64


@dataclass
class DecoderConfig:
    """The `vl_decoder` entry. `llm_hidden_state` and `spatial_merge_size` are overwritten
    from the main config, as the reference does at construction."""

    hidden_size: int
    intermediate_size: int
    num_heads: int
    llm_hidden_state: int
    spatial_merge_size: int
    use_mask_loss: bool = True
    attn_implementation: str | None = None  # informational: what the trainer wrote


@dataclass
class PadtConfig:
    raw: dict[str, Any]
    text: dict[str, Any]  # kwargs for Qwen2_5_VLTextConfig
    vision: dict[str, Any]  # kwargs for Qwen2_5_VLVisionConfig
    decoder: DecoderConfig
    use_visual_prototype_projection: bool
    tie_word_embeddings: bool
    image_token_id: int
    video_token_id: int
    vision_start_token_id: int
    vision_end_token_id: int | None
    extras: dict[str, Any] = field(default_factory=dict)

    # -- convenient views -------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """E: rows of the text embedding table (also the width of the text logits)."""
        return int(self.text["vocab_size"])

    @property
    def hidden_size(self) -> int:
        return int(self.text["hidden_size"])

    @property
    def merge_size(self) -> int:
        return int(self.vision.get("spatial_merge_size", 2))

    # -- building the stock configs ------------------------------------------------------
    def text_config(self, attn: str):
        from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig

        cfg = Qwen2_5_VLTextConfig(**copy.deepcopy(self.text))
        cfg._attn_implementation = attn
        return cfg

    def vision_config(self, attn: str):
        from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig

        cfg = Qwen2_5_VLVisionConfig(**copy.deepcopy(self.vision))
        cfg._attn_implementation = attn
        return cfg


def _rope_dict(src: dict[str, Any]) -> dict[str, Any]:
    rope = dict(src.get("rope_parameters") or src.get("rope_scaling") or {})
    rope.setdefault("rope_theta", src.get("rope_theta", rope.get("rope_theta", 1000000.0)))
    rtype = rope.get("rope_type", rope.get("type", "default"))
    rope["rope_type"] = "default" if rtype in ("mrope", "default") else rtype
    rope.pop("type", None)
    if "mrope_section" not in rope:
        raise CheckpointError("config.json: the text rope parameters lack 'mrope_section' (needed by Qwen2.5-VL M-RoPE)")
    return rope


def parse_config(raw: dict[str, Any], *, source: str = "config.json") -> PadtConfig:
    """Validate a PaDT config dict and split it into the pieces our modules need."""
    raw = copy.deepcopy(raw)
    if raw.get("model_type") not in (None, "qwen2_5_vl"):
        raise CheckpointError(f"{source}: model_type is {raw.get('model_type')!r}, expected 'qwen2_5_vl' (PaDT)")
    if "vl_decoder" not in raw:
        raise CheckpointError(f"{source}: no 'vl_decoder' entry; this is not a PaDT checkpoint")
    nested = raw.get("text_config")
    text_src = dict(nested) if isinstance(nested, dict) else raw
    text = {k: text_src[k] for k in _TEXT_KEYS if k in text_src}
    for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"):
        if k not in text:
            raise CheckpointError(f"{source}: text model entry {k!r} is missing")
    text["rope_parameters"] = _rope_dict(text_src)

    vis_src = raw.get("vision_config")
    if not isinstance(vis_src, dict):
        raise CheckpointError(f"{source}: 'vision_config' is missing")
    vision = {k: vis_src[k] for k in _VISION_KEYS if k in vis_src}
    for k in ("depth", "hidden_size", "num_heads", "out_hidden_size"):
        if k not in vision:
            raise CheckpointError(f"{source}: vision_config entry {k!r} is missing")
    if int(vision["out_hidden_size"]) != int(text["hidden_size"]):
        raise CheckpointError(
            f"{source}: vision out_hidden_size {vision['out_hidden_size']} != text hidden_size {text['hidden_size']}"
        )

    vd = dict(raw["vl_decoder"])
    merge = int(vision.get("spatial_merge_size", 2))
    try:
        dec = DecoderConfig(
            hidden_size=int(vd["hidden_size"]),
            intermediate_size=int(vd["intermediate_size"]),
            num_heads=int(vd["num_heads"]),
            llm_hidden_state=int(text["hidden_size"]),
            spatial_merge_size=merge,
            # the reference evaluation forces masks on whatever the trainer wrote (the mask
            # head's weights are always in the checkpoint)
            use_mask_loss=True,
            attn_implementation=vd.get("attn_implementation"),
        )
    except KeyError as exc:
        raise CheckpointError(f"{source}: vl_decoder entry {exc.args[0]!r} is missing") from None
    # The decoder adds vision block outputs to its own features and rotates its heads with
    # the vision rotary table: both only work under these two conditions.
    if dec.hidden_size != int(vision["hidden_size"]):
        raise CheckpointError(
            f"{source}: vl_decoder.hidden_size {dec.hidden_size} must equal vision hidden_size {vision['hidden_size']}"
        )
    if dec.hidden_size % dec.num_heads or dec.hidden_size // dec.num_heads < int(vision["hidden_size"]) // int(
        vision["num_heads"]
    ):
        raise CheckpointError(
            f"{source}: vl_decoder head dim {dec.hidden_size}/{dec.num_heads} must be an integer at least the "
            f"vision head dim {vision['hidden_size']}/{vision['num_heads']}"
        )
    if dec.hidden_size % 16:
        raise CheckpointError(f"{source}: vl_decoder.hidden_size {dec.hidden_size} must be a multiple of 16 (mask head)")

    tie = raw.get("tie_word_embeddings")
    if tie is None and isinstance(nested, dict):
        tie = nested.get("tie_word_embeddings")
    return PadtConfig(
        raw=raw,
        text=text,
        vision=vision,
        decoder=dec,
        use_visual_prototype_projection=bool(raw.get("use_visual_prototype_projection", True)),
        tie_word_embeddings=bool(tie) if tie is not None else False,
        image_token_id=int(raw.get("image_token_id", 151655)),
        video_token_id=int(raw.get("video_token_id", 151656)),
        vision_start_token_id=int(raw.get("vision_start_token_id", 151652)),
        vision_end_token_id=raw.get("vision_end_token_id"),
    )


def load_config(folder: str | Path) -> PadtConfig:
    path = Path(folder) / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: not found; a PaDT checkpoint folder needs config.json") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    return parse_config(raw, source=str(path))
