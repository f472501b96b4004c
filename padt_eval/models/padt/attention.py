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

import copy
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


class PackedSegments:
    """How packed rows (N, ...) of variable-length segments map to a padded (n, max_len, ...)
    batch and back; computed once from the cumulative lengths `cu`, reused by every
    attention call over the same segments (the vision tower's blocks share two layouts).
    Building it reads `cu` (its total and longest segment): from a CPU `cu` that is free,
    from a device one it is a host sync, so callers build it on the host and `to()` it."""

    def __init__(self, cu: torch.Tensor):
        cu = cu.to(torch.long)
        lengths = cu[1:] - cu[:-1]
        self.total = int(cu[-1])
        self.n = lengths.numel()
        self.max_len = int(lengths.max()) if self.n else 0
        self.seg = torch.repeat_interleave(torch.arange(self.n, device=cu.device), lengths, output_size=self.total)
        self.pos = torch.arange(self.total, device=cu.device) - cu[:-1][self.seg]
        # (n, 1, 1, max_len) key mask, None when every segment has the same length
        ragged = bool((lengths != self.max_len).any())
        self.key_mask = (
            (torch.arange(self.max_len, device=cu.device)[None, :] < lengths[:, None])[:, None, None, :] if ragged else None
        )

    def to(self, device) -> PackedSegments:
        """The same tables on `device` (built on the host, they are moved once per batch)."""
        out = copy.copy(self)
        out.seg, out.pos = self.seg.to(device), self.pos.to(device)
        out.key_mask = self.key_mask.to(device) if self.key_mask is not None else None
        return out

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros((self.n, self.max_len) + tuple(x.shape[1:]))
        out[self.seg, self.pos] = x
        return out

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.seg, self.pos]


def padded_sdpa(q, k, v, q_segments: PackedSegments, k_segments: PackedSegments, scale: float) -> torch.Tensor:
    """Non-causal attention of packed q (Nq, h, d) over packed k/v (Nk, h, d), segment i of q
    seeing only segment i of k: one `scaled_dot_product_attention` call over the segments
    padded into a batch, padded keys masked. Padded query rows are computed and thrown away;
    they never lack a valid key (every segment has one). Returns (Nq, h*d)."""
    qp = q_segments.pad(q).transpose(1, 2)  # n, h, Lq, d
    kp = k_segments.pad(k).transpose(1, 2)
    vp = k_segments.pad(v).transpose(1, 2)
    out = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=k_segments.key_mask, scale=scale)
    return q_segments.unpad(out.transpose(1, 2)).reshape(q.shape[0], -1)


class Packing:
    """Segments whose lengths the host knows (the decoder's objects and image copies): the
    device `cu` (int32) and the padded-attention tables are built once from the Python
    lengths, so attention over them never reads a device value."""

    def __init__(self, lengths: list[int], device):
        host = torch.zeros(len(lengths) + 1, dtype=torch.int32)
        if lengths:
            host[1:] = torch.cumsum(torch.tensor(lengths, dtype=torch.int64), 0).to(torch.int32)
        self.lengths = list(lengths)
        self.bounds = host.tolist()  # a CPU tensor: no sync
        self.max_len = max(lengths, default=0)
        self.cu = host.to(device)
        self.padded = PackedSegments(host).to(device)


def varlen_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_q: torch.Tensor | Packing,
    cu_k: torch.Tensor | Packing,
    impl: str = "sdpa",
) -> torch.Tensor:
    """q (Nq, h, d), k/v (Nk, h, d) packed; returns (Nq, h*d). Scale 1/sqrt(d), non-causal.
    `cu_q`/`cu_k`: cumulative lengths as a tensor (read back here), or a `Packing`."""
    nq, h, d = q.shape
    scale = 1.0 / math.sqrt(d)
    pq = cu_q if isinstance(cu_q, Packing) else None
    pk = cu_k if isinstance(cu_k, Packing) else None
    if impl == "flash_attention_2" and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and flash_available():
        from flash_attn import flash_attn_varlen_func

        cq, ck = (pq.cu if pq else cu_q), (pk.cu if pk else cu_k)
        max_q = pq.max_len if pq else int((cu_q[1:] - cu_q[:-1]).max())
        max_k = pk.max_len if pk else int((cu_k[1:] - cu_k[:-1]).max())
        out = flash_attn_varlen_func(q, k, v, cq.to(torch.int32), ck.to(torch.int32), max_q, max_k)
        return out.reshape(nq, h * d)
    if impl == "eager":
        outs = []
        bq = pq.bounds if pq else cu_q.tolist()
        bk = pk.bounds if pk else cu_k.tolist()
        for i in range(len(bq) - 1):
            qs = q[bq[i] : bq[i + 1]].transpose(0, 1)  # h, lq, d
            ks = k[bk[i] : bk[i + 1]].transpose(0, 1)
            vs = v[bk[i] : bk[i + 1]].transpose(0, 1)
            w = torch.matmul(qs, ks.transpose(1, 2)) * scale
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            outs.append(torch.matmul(w, vs).transpose(0, 1))
        return torch.cat(outs, dim=0).reshape(nq, h * d)

    # sdpa: every segment padded to the longest one, one call
    segs_q = pq.padded if pq else PackedSegments(cu_q)
    segs_k = pk.padded if pk else PackedSegments(cu_k)
    return padded_sdpa(q, k, v, segs_q, segs_k, scale)
