"""A preallocated key/value cache for the decode steps, and the attention mask that goes with it.

transformers' `DynamicCache` concatenates every layer's keys and values at every step, so
each step allocates and its shapes grow: neither `torch.compile` (without recompiling)
nor a CUDA graph can capture it. Here every layer owns one (B, kv_heads, S, head_dim)
buffer for the whole generation; a step writes its new column at `write_pos`, a 0-d
*device* tensor, with `index_copy_`, so the step never reads a Python int and never
changes shape. Columns not written yet are excluded by the mask, which is kept as a
(B, S) bool "may attend" table and widened to the layout the attention kernel wants.

The prompt is still run through a `DynamicCache` (exactly today's prefill, bit for bit)
and copied in once; only decode steps use this object. It implements the one method the
Qwen2.5-VL attention calls on a cache, `update(keys, values, layer_idx, ...)`.
"""

from __future__ import annotations

import torch

# S (prompt + new tokens) is rounded up to this, so batches with nearby prompt lengths
# share one compiled step; the extra columns are masked.
CACHE_LENGTH_BUCKET = 128


def bucketed(n: int, bucket: int) -> int:
    return -(-n // bucket) * bucket


class StaticKVCache:
    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], write_pos: torch.Tensor):
        self.keys = keys
        self.values = values
        self.write_pos = write_pos  # 0-d long tensor, shared with the decode state

    @classmethod
    def from_prefill(cls, prefill_cache, max_len: int, write_pos: torch.Tensor) -> StaticKVCache:
        """Allocate (B, H, max_len, D) per layer and copy the prompt's keys/values in."""
        keys, values = [], []
        for layer in prefill_cache.layers:
            k, v = layer.keys, layer.values
            kb = k.new_zeros(k.shape[:2] + (max_len, k.shape[3]))
            vb = v.new_zeros(v.shape[:2] + (max_len, v.shape[3]))
            kb[:, :, : k.shape[2]].copy_(k)
            vb[:, :, : v.shape[2]].copy_(v)
            keys.append(kb)
            values.append(vb)
        return cls(keys, values, write_pos)

    @property
    def max_len(self) -> int:
        return self.keys[0].shape[2]

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        """Write one step's (B, H, 1, D) keys/values at `write_pos`; return the full buffers.
        A 0-d `write_pos` is one column for every row (the static loop); a (B,) one gives
        each row its own column (continuous batching, `slots`)."""
        if self.write_pos.dim() == 0:
            at = self.write_pos.view(1)
            self.keys[layer_idx].index_copy_(2, at, key_states)
            self.values[layer_idx].index_copy_(2, at, value_states)
        else:
            at = self.write_pos.view(-1, 1, 1, 1).expand_as(key_states)
            self.keys[layer_idx].scatter_(2, at, key_states)
            self.values[layer_idx].scatter_(2, at.expand_as(value_states), value_states)
        return self.keys[layer_idx], self.values[layer_idx]


def attention_mask_for(keep: torch.Tensor, attn_impl: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """(B, S) bool "may attend" -> the per-layer-type mask dict the text model accepts as is
    (bypassing transformers' mask builder, whose shortcuts read tensor values on the host).
    SDPA takes a bool mask (True = attend); the eager kernel adds a float mask."""
    mask = keep[:, None, None, :]
    if attn_impl == "eager":
        mask = torch.where(mask, torch.zeros((), dtype=dtype, device=keep.device), torch.finfo(dtype).min)
    return {"full_attention": mask}
