"""The Qwen2.5-VL vision tower, run so that it yields the three things PaDT needs.

PaDT consumes, besides the usual merged image embeddings, the last vision block's output
*before* the patch merger and the rotary cos/sin the blocks used. transformers 5.x's
vision model returns the merged output (and, as `last_hidden_state`, the pre-merge states)
but not the rotary tables, so we drive the stock sub-modules (patch embedding, rotary
embedding, blocks, merger: stock weights, stock kernels) ourselves and keep every
intermediate we need.

Orders, exactly as the reference returns them (its decoder was trained on them):

* `merged` (K x D): merger output put back into the processor's raster order, images
  concatenated. Same as stock.
* `high_res` (sum P x Dv): last block output, still in the *window-permuted* order the
  blocks run in (merge groups in window order, the 4 patches of a group in the
  processor's sub-order). The reference never undoes this permutation.
* `cos`, `sin` (sum P x head_dim): the rotary tables in the same window order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .attention import PackedSegments, padded_sdpa


@dataclass
class VisionOutputs:
    merged: torch.Tensor
    high_res: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor
    window_index: torch.Tensor


def _permute_groups(x: torch.Tensor, window_index: torch.Tensor, unit: int) -> torch.Tensor:
    """Reorder rows in groups of `unit` (= m^2 patches of one merged token) by window_index."""
    n = x.shape[0]
    return x.reshape(n // unit, unit, -1)[window_index].reshape(n, -1)


def batched_block(block, hidden: torch.Tensor, segments: PackedSegments, position_embeddings) -> torch.Tensor:
    """A stock vision block with its attention as one SDPA call over every window (or image)
    of the batch. Under "sdpa" the stock attention calls SDPA once per window (hundreds per
    image); same weights, same formulas, the windows padded into one batch instead."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    attn = block.attn
    x = block.norm1(hidden)
    n = x.shape[0]
    q, k, v = attn.qkv(x).reshape(n, 3, attn.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
    q, k = apply_rotary_pos_emb_vision(q, k, *position_embeddings)
    hidden = hidden + attn.proj(padded_sdpa(q, k, v, segments, segments, attn.scaling))
    return hidden + block.mlp(block.norm2(hidden))


def vision_forward(
    visual, pixel_values: torch.Tensor, grid_thw: torch.Tensor, *, batched_attention: bool = True
) -> VisionOutputs:
    """Run `visual` (a stock `Qwen2_5_VisionTransformerPretrainedModel`) on flattened patches.

    Under "sdpa" the blocks' attention is batched (`batched_block`); `batched_attention=False`
    runs the stock blocks (the tests' cross-check). eager and flash-attn run stock."""
    from transformers.utils.generic import get_max_seqlen
    from transformers.vision_utils import (
        get_vision_attention_seqlens,
        get_vision_position_ids,
        get_vision_window_index,
    )

    cfg = visual.config
    unit = visual.spatial_merge_unit
    position_ids = get_vision_position_ids(grid_thw, visual.spatial_merge_size)
    cu_seqlens, max_seqlen = get_vision_attention_seqlens(grid_thw, cfg)
    window_index, cu_window_seqlens = get_vision_window_index(
        grid_thw,
        spatial_merge_size=visual.spatial_merge_size,
        window_size=visual.window_size,
        patch_size=visual.patch_size,
    )
    window_index = window_index.to(pixel_values.device)
    cu_window_seqlens = cu_window_seqlens.to(pixel_values.device)
    cu_seqlens = cu_seqlens.to(pixel_values.device)
    max_window_seqlen = get_max_seqlen(cu_window_seqlens, cfg)

    hidden = visual.patch_embed(pixel_values.to(visual.patch_embed.proj.weight.dtype))
    hidden = _permute_groups(hidden, window_index, unit)
    cos, sin = visual.rotary_pos_emb(hidden, position_ids.to(hidden.device))
    cos = _permute_groups(cos, window_index, unit)
    sin = _permute_groups(sin, window_index, unit)

    batched = batched_attention and cfg._attn_implementation == "sdpa"
    if batched:  # two layouts, shared by all blocks: windows, and whole images
        layouts = {False: PackedSegments(cu_window_seqlens), True: PackedSegments(cu_seqlens)}
    for i, block in enumerate(visual.blocks):
        full = i in visual.fullatt_block_indexes
        if batched:
            hidden = batched_block(block, hidden, layouts[full], (cos, sin))
            continue
        hidden = block(
            hidden,
            cu_seqlens=cu_seqlens if full else cu_window_seqlens,
            max_seqlen=max_seqlen if full else max_window_seqlen,
            position_embeddings=(cos, sin),
        )

    merged = visual.merger(hidden)[torch.argsort(window_index)]
    return VisionOutputs(merged=merged, high_res=hidden, cos=cos, sin=sin, window_index=window_index)
