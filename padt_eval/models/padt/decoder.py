"""The PaDT decoder: VRT hidden states + image memory -> box, score, mask logits.

Module and parameter names equal the checkpoint's `vl_decoder.*` keys, so the weights load
without renaming. The computation follows the reference step by step, including its
layout quirks that the released weights were trained with and that are therefore *not*
optional here (spec section 12 item 1):

* the low-res memory is the image's prototypes in raster order, but its rotary table is
  the first patch of every group of 4 rows of the *window-ordered* table;
* the high-res memory adds those raster-ordered low-res rows (each repeated m^2 times) to
  the *window-ordered* pre-merge vision states;
* mask patches are laid out as if the window-ordered sequence were raster order over the
  patch grid.

Attention runs over packed per-object segments (`attention.varlen_attention`), so no
flash-attn is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .attention import Packing, apply_rotary, varlen_attention
from .config import DecoderConfig


class RMSNorm(nn.Module):
    """Qwen2 RMSNorm: normalise in float32, cast back, then scale (same op order)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        xf = x.to(torch.float32)
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(dtype)


class DecoderAttention(nn.Module):
    """Attention whose positional input is either added before projection or rotary."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim, bias=True)
        self.k_proj = nn.Linear(dim, dim, bias=True)
        self.v_proj = nn.Linear(dim, dim, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.impl = "sdpa"

    def forward(self, query, key, cu_q, cu_k, q_pos, k_pos, rotary: tuple[bool, bool]):
        # additive positions enter before the projection; values never get positions
        q = self.q_proj(query) if rotary[0] else self.q_proj(query + q_pos)
        k = self.k_proj(key) if rotary[1] else self.k_proj(key + k_pos)
        v = self.v_proj(key)
        q = q.reshape(query.shape[0], self.num_heads, -1)
        k = k.reshape(key.shape[0], self.num_heads, -1)
        v = v.reshape(key.shape[0], self.num_heads, -1)
        if rotary[0]:
            q = apply_rotary(q, *_first_half(q_pos))
        if rotary[1]:
            k = apply_rotary(k, *_first_half(k_pos))
        return self.proj(varlen_attention(q, k, v, cu_q, cu_k, self.impl))


def _first_half(pe: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    # the stored tables are an angle vector concatenated with itself; the rotary formula
    # wants one copy
    cos, sin = pe
    return cos.chunk(2, dim=-1)[0], sin.chunk(2, dim=-1)[0]


class DecoderBlock(nn.Module):
    """Two-way block: query self-attn, query->memory, MLP, then memory->query update."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        h = cfg.hidden_size
        for i in range(1, 7):
            setattr(self, f"norm{i}", RMSNorm(h, eps=1e-6))
        self.self_attn = DecoderAttention(h, cfg.num_heads)
        self.cross_attn_query_to_image = DecoderAttention(h, cfg.num_heads)
        self.cross_attn_image_to_query = DecoderAttention(h, cfg.num_heads)
        self.mlp = nn.Sequential(nn.Linear(h, cfg.intermediate_size), nn.GELU(), nn.Linear(cfg.intermediate_size, h))

    def forward(self, x, y, cu_x, cu_y, x_pos, y_pe):
        xn = self.norm1(x)
        x = x + self.self_attn(xn, xn, cu_x, cu_x, x_pos, x_pos, (False, False))
        x = x + self.cross_attn_query_to_image(self.norm2(x), self.norm3(y), cu_x, cu_y, x_pos, y_pe, (False, True))
        x = x + self.mlp(self.norm4(x))
        # the memory update reads the already-updated queries
        y = y + self.cross_attn_image_to_query(self.norm6(y), self.norm5(x), cu_y, cu_x, y_pe, x_pos, (True, False))
        return x, y


@dataclass
class DecoderOutput:
    boxes: torch.Tensor  # (N, 4) cx, cy, w, h in [0, 1]
    score_logits: torch.Tensor  # (N, 1)
    mask_logits: torch.Tensor | None  # (N, 4*Hmax, 4*Wmax)
    valid_hw: torch.Tensor  # (N, 2) patch grid (h, w) per object; valid mask region [:4h, :4w]
    sample_idx: list[int]
    valid_hw_host: list[tuple[int, int]] | None = None  # the same as Python ints, when known


class PadtDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h, d = cfg.hidden_size, cfg.llm_hidden_state
        self.vp_embedding = nn.Embedding(1, h)
        self.bbox_score_mask_tokens = nn.Embedding(3, h)
        self.input_projection = nn.Sequential(RMSNorm(d), nn.Linear(d, h), nn.GELU(), nn.Linear(h, h))
        self.low_res_transformer = DecoderBlock(cfg)
        self.high_res_transformer1 = DecoderBlock(cfg)
        self.high_res_transformer2 = DecoderBlock(cfg)
        self.high_res_norm = RMSNorm(h)
        self.bbox_prediction = nn.Sequential(
            nn.Linear(h, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, 4), nn.Sigmoid()
        )
        self.score_prediction = nn.Linear(h, 1)
        self.mask_output_upscaling1 = nn.Sequential(nn.Linear(h, h // 4 * 4), RMSNorm(h // 4 * 4), nn.GELU())
        self.mask_output_upscaling2 = nn.Sequential(nn.Linear(h // 4, h // 16 * 4), nn.GELU())
        self.mask_output_mlp = nn.Sequential(nn.Linear(h, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, h // 16))

    def set_attention(self, impl: str) -> None:
        for m in self.modules():
            if isinstance(m, DecoderAttention):
                m.impl = impl

    def forward(
        self,
        object_feats: list[torch.Tensor],
        object_image: list[int],
        low_res: list[torch.Tensor],
        high_res: list[torch.Tensor],
        pe: list[tuple[torch.Tensor, torch.Tensor]],
        grids: list[tuple[int, int, int]],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Decode N objects.

        object_feats[j]: (n_j, D) VRT features of object j; object_image[j]: index of its
        image in the per-image lists; low_res[i]: (M_i, D) prototypes, raster order;
        high_res[i]: (P_i, Dv) pre-merge vision states, window order; pe[i]: (cos, sin),
        (P_i, hd_v), window order; grids[i] = (t, h, w).
        """
        dev = object_feats[0].device
        unit = self.cfg.spatial_merge_size**2
        n_vrt = [int(f.shape[0]) for f in object_feats]

        # queries: [box, score, mask tokens] + projected VRT features (+ a learned offset)
        proj = self.input_projection(torch.cat(object_feats, dim=0))
        parts, start = [], 0
        for n in n_vrt:
            parts.append(self.bbox_score_mask_tokens.weight)
            parts.append(proj[start : start + n] + self.vp_embedding.weight)
            start += n
        q0 = torch.cat(parts, dim=0)
        # segment lengths are Python ints: the packings are built on the host (no sync)
        cu_q = Packing([3 + n for n in n_vrt], dev)

        # every object gets its own copy of its image memory (the memory is updated per object)
        low_proj = {i: self.input_projection(low_res[i]) for i in sorted(set(object_image))}
        low = torch.cat([low_proj[i] for i in object_image], dim=0)
        high = torch.cat([high_res[i] for i in object_image], dim=0)
        cos = torch.cat([pe[i][0] for i in object_image], dim=0)
        sin = torch.cat([pe[i][1] for i in object_image], dim=0)
        patches = [int(high_res[i].shape[0]) for i in object_image]
        cu_high = Packing(patches, dev)
        cu_low = Packing([p // unit for p in patches], dev)
        # low-res rotary table: the first patch of each group of m^2 window-ordered rows
        low_pe = (cos.reshape(-1, unit, cos.shape[-1])[:, 0], sin.reshape(-1, unit, sin.shape[-1])[:, 0])

        x, low = self.low_res_transformer(q0, low, cu_q, cu_low, q0, low_pe)
        high = self.high_res_norm(low.repeat_interleave(unit, dim=0) + high)
        x, high = self.high_res_transformer1(x, high, cu_q, cu_high, q0, (cos, sin))
        x, high = self.high_res_transformer2(x, high, cu_q, cu_high, q0, (cos, sin))

        first = cu_q.cu[:-1].to(torch.long)
        boxes = self.bbox_prediction(x[first])
        scores = self.score_prediction(x[first + 1])
        hw_host = [[grids[i][1], grids[i][2]] for i in object_image]
        hw = torch.tensor(hw_host, device=dev, dtype=torch.long)
        if not self.cfg.use_mask_loss:
            return boxes, scores, None, hw
        m = self.mask_output_mlp(x[first + 2])
        masks = self._masks(high, m, patches, hw, max(r[0] for r in hw_host), max(r[1] for r in hw_host))
        return boxes, scores, masks, hw

    def _masks(self, high, m, patches, hw, h_max: int, w_max: int) -> torch.Tensor:
        n_rows, h = high.shape
        # each memory row becomes a 4x4 block of (H/16)-vectors: the first upscaling splits
        # it 2x2 (a, b), the second splits each part 2x2 again (c, d); sub-row 2a+c,
        # sub-col 2b+d
        u = self.mask_output_upscaling1(high).reshape(n_rows, 2, 2, h // 4).permute(1, 2, 0, 3)
        u = self.mask_output_upscaling2(u).reshape(2, 2, n_rows, 2, 2, h // 16)
        u = u.permute(0, 3, 1, 4, 2, 5).flatten(0, 1).flatten(1, 2)  # 4, 4, N, H/16
        per_patch = u.permute(2, 0, 1, 3).contiguous()  # N, 4, 4, H/16

        dev = high.device
        counts = torch.tensor(patches, device=dev, dtype=torch.long)
        owner = torch.repeat_interleave(torch.arange(len(patches), device=dev), counts, output_size=n_rows)
        offsets = torch.cumsum(counts, 0) - counts
        k = torch.arange(n_rows, device=dev) - offsets[owner]
        w_per_row = hw[:, 1][owner]
        row, col = k // w_per_row, k % w_per_row  # window-ordered rows placed as raster order
        logits = (per_patch * m.index_select(0, owner)[:, None, None, :]).sum(dim=-1)  # N, 4, 4
        canvas = torch.zeros((len(patches), 4, 4, h_max, w_max), device=dev, dtype=logits.dtype)
        canvas[owner, :, :, row, col] = logits
        return canvas.permute(0, 3, 1, 4, 2).reshape(len(patches), h_max * 4, w_max * 4)
