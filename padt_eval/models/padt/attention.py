"""Non-causal attention over packed variable-length segments, and the decoder's rotary.

The PaDT decoder packs every object's tokens (and every object's copy of its image memory)
into one long tensor with cumulative lengths, and each object's queries may only see that
object's keys. The reference only ships a flash-attn kernel for this; here are three exact
equivalents (they differ by float rounding only):

* "sdpa":  segments padded into a batch, a key-padding mask, one
           `scaled_dot_product_attention` call. Works on any device and dtype.
* "eager": a loop over segments with an explicit float32 softmax (the slow, obvious one;
           the tests use it to check the other two).
* "flash_attention_2": flash-attn's varlen kernel, only when the package is installed, on
           CUDA, in fp16/bf16 (otherwise "sdpa" is used: flash-attn has no fp32 kernel).
"""

from __future__ import annotations

import importlib.util
import math

import torch
import torch.nn.functional as F


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half (non-interleaved) rotary on the first `2 * cos.shape[-1]` dims of each head.

    `x` is (N, heads, head_dim); `cos`/`sin` are (N, r) holding the *first half* of the
    vision tower's duplicated table (this is how the reference feeds flash-attn's
    `apply_rotary_emb`). Dims past 2r pass through unchanged. Computed in float32 and
    cast back, as the reference does.
    """
    r = cos.shape[-1]
    xf = x.float()
    c = cos.float()[:, None, :]
    s = sin.float()[:, None, :]
    x1 = xf[..., :r]
    x2 = xf[..., r : 2 * r]
    out = torch.cat((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1)
    if 2 * r < xf.shape[-1]:
        out = torch.cat((out, xf[..., 2 * r :]), dim=-1)
    return out.to(x.dtype)


def flash_available() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def _segment_index(cu: torch.Tensor, total: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each packed row: its segment and its position inside the segment; plus lengths."""
    lengths = (cu[1:] - cu[:-1]).to(torch.long)
    seg = torch.repeat_interleave(torch.arange(lengths.numel(), device=cu.device), lengths)
    pos = torch.arange(total, device=cu.device) - cu[:-1].to(torch.long)[seg]
    return seg, pos, lengths


def _pad(x: torch.Tensor, seg: torch.Tensor, pos: torch.Tensor, n: int, max_len: int) -> torch.Tensor:
    out = x.new_zeros((n, max_len) + tuple(x.shape[1:]))
    out[seg, pos] = x
    return out


def varlen_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_q: torch.Tensor,
    cu_k: torch.Tensor,
    impl: str = "sdpa",
) -> torch.Tensor:
    """q (Nq, h, d), k/v (Nk, h, d) packed; returns (Nq, h*d). Scale 1/sqrt(d), non-causal."""
    nq, h, d = q.shape
    scale = 1.0 / math.sqrt(d)
    if impl == "flash_attention_2" and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and flash_available():
        from flash_attn import flash_attn_varlen_func

        max_q = int((cu_q[1:] - cu_q[:-1]).max())
        max_k = int((cu_k[1:] - cu_k[:-1]).max())
        out = flash_attn_varlen_func(q, k, v, cu_q.to(torch.int32), cu_k.to(torch.int32), max_q, max_k)
        return out.reshape(nq, h * d)
    if impl == "eager":
        outs = []
        bq = cu_q.tolist()
        bk = cu_k.tolist()
        for i in range(len(bq) - 1):
            qs = q[bq[i] : bq[i + 1]].transpose(0, 1)  # h, lq, d
            ks = k[bk[i] : bk[i + 1]].transpose(0, 1)
            vs = v[bk[i] : bk[i + 1]].transpose(0, 1)
            w = torch.matmul(qs, ks.transpose(1, 2)) * scale
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            outs.append(torch.matmul(w, vs).transpose(0, 1))
        return torch.cat(outs, dim=0).reshape(nq, h * d)

    # sdpa: pad every segment to the longest one and mask padded keys. Padded query rows
    # are computed and thrown away; they never lack a valid key (every segment has one).
    seg_q, pos_q, len_q = _segment_index(cu_q, nq)
    seg_k, pos_k, len_k = _segment_index(cu_k, k.shape[0])
    n = len_q.numel()
    max_q, max_k = int(len_q.max()), int(len_k.max())
    qp = _pad(q, seg_q, pos_q, n, max_q).transpose(1, 2)  # n, h, Lq, d
    kp = _pad(k, seg_k, pos_k, n, max_k).transpose(1, 2)
    vp = _pad(v, seg_k, pos_k, n, max_k).transpose(1, 2)
    mask = None
    if bool((len_k != max_k).any()):
        mask = (torch.arange(max_k, device=q.device)[None, :] < len_k[:, None])[:, None, None, :]
    out = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=mask, scale=scale)
    return out.transpose(1, 2)[seg_q, pos_q].reshape(nq, h * d)
