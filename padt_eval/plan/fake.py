"""What the plan adds to the fake-CUDA harness (`models.fake_device`): attention as a GPU
runs it (`FusedAttention`), and `on_host` for host code written before the harness kept
CPU work real."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def on_host():
    """Run real CPU code (host metadata) while a fake mode is active."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    with unset_fake_temporarily(), torch.device("cpu"):
        yield


@contextmanager
def FusedAttention():  # noqa: N802 - used like the class it replaced
    """SDPA as a GPU runs it. Without CUDA, `scaled_dot_product_attention` on fake "cuda"
    tensors takes the math fallback, which materialises the (L x S) score matrix in float32;
    on an H100 the same call runs the flash kernel (no mask, fp16/bf16) or the
    memory-efficient one (with a mask), which never hold it. Inside this block the function
    sends those calls to the kernels' own operators, so the fake run allocates what they
    allocate (their output, and a float bias made from a boolean mask as SDPA makes it).
    The module attribute is swapped (callers look it up at call time) rather than a
    `TorchFunctionMode` installed, so the frames the harness reports stay the model's."""
    original = torch.nn.functional.scaled_dot_product_attention

    def sdpa(*args, **kwargs):
        out = fused_sdpa(*args, **kwargs)
        return original(*args, **kwargs) if out is None else out

    torch.nn.functional.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        torch.nn.functional.scaled_dot_product_attention = original


def fused_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """The flash / memory-efficient kernel call for 4-D inputs; None where SDPA itself would fall back."""
    if q.dim() != 4 or q.device.type != "cuda":
        return None
    if k.shape[-3] != q.shape[-3]:  # grouped-query attention: the kernels take full heads
        if not enable_gqa:
            return None
        rep = q.shape[-3] // k.shape[-3]
        k, v = k.repeat_interleave(rep, dim=-3), v.repeat_interleave(rep, dim=-3)
    if attn_mask is None and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] <= 256:
        return torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, dropout_p, is_causal, False, scale=scale)[0]
    bias = attn_mask
    if bias is not None and bias.dtype == torch.bool:
        bias = torch.where(bias, torch.zeros((), dtype=q.dtype), torch.full((), float("-inf"), dtype=q.dtype))
    return torch.ops.aten._scaled_dot_product_efficient_attention(q, k, v, bias, False, dropout_p, is_causal, scale=scale)[0]
