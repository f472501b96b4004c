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
    visual, pixel_values: torch.Tensor, grid_thw: torch.Tensor, *, batched_attention: bool = True, layout=None
) -> VisionOutputs:
    """Run `visual` (a stock `Qwen2_5_VisionTransformerPretrainedModel`) on flattened patches.

    `layout` (`host_meta.VisionLayout`, on the device of `pixel_values`) holds every index
    tensor derived from the grids, computed on the host; then the forward reads no device
    value (no host sync). Without it the layout is computed here from `grid_thw` (reading it:
    a sync when it lives on a GPU). Under "sdpa" the blocks' attention is batched
    (`batched_block`); `batched_attention=False` runs the stock blocks (the tests'
    cross-check; transformers' own sdpa/eager vision attention splits by `tolist()`).
    eager and flash-attn run stock."""
    from .host_meta import host_grids, vision_layout

    if layout is None:
        layout = vision_layout(host_grids(grid_thw), visual).to(pixel_values.device)
    cfg = visual.config
    unit = visual.spatial_merge_unit
    window_index = layout.window_index

    hidden = visual.patch_embed(pixel_values.to(visual.patch_embed.proj.weight.dtype))
    hidden = _permute_groups(hidden, window_index, unit)
    cos, sin = visual.rotary_pos_emb(hidden, layout.position_ids)
    cos = _permute_groups(cos, window_index, unit)
    sin = _permute_groups(sin, window_index, unit)

    batched = batched_attention and cfg._attn_implementation == "sdpa"
    for i, block in enumerate(visual.blocks):
        full = i in visual.fullatt_block_indexes
        if batched:  # two layouts, shared by all blocks: windows, and whole images
            hidden = batched_block(block, hidden, layout.images if full else layout.windows, (cos, sin))
            continue
        hidden = block(
            hidden,
            cu_seqlens=layout.cu_seqlens if full else layout.cu_window_seqlens,
            max_seqlen=layout.max_seqlen if full else layout.max_window_seqlen,
            position_embeddings=(cos, sin),
        )

    merged = visual.merger(hidden)[layout.reverse_index]
    return VisionOutputs(merged=merged, high_res=hidden, cos=cos, sin=sin, window_index=window_index)
