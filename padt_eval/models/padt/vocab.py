"""Visual prototypes and the per-batch extended vocabulary.

Every merged visual token of every image in the batch gets a vocabulary entry, its
Visual Reference Token (VRT). The entry's vector, the *prototype*, serves both as the
token's input embedding and as its output (classifier) row, so the vocabulary is
E text rows + K prototype rows, K = sum of merged tokens over the batch's images.

Ids:
* local id  E + i        i = raster index of a merged token of the sample's own image;
                         what the tokenizer and all text use;
* global id E + O_b + i  O_b = merged tokens of the images of earlier samples in the batch;
                         what the model consumes and emits.

A per-sample logit mask allows all E text columns (the `<|empty_token_k|>` padding rows
included, as in the reference) and only the columns of the sample's own image.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import PROTOTYPE_RANK


def prototype_layers(dim: int, rank: int = PROTOTYPE_RANK) -> tuple[nn.LayerNorm, nn.Sequential]:
    """The `vis_norm` LayerNorm and the low-rank `vis_proj` pair (no biases, no activation)."""
    return nn.LayerNorm(dim, eps=1e-5), nn.Sequential(nn.Linear(dim, rank, bias=False), nn.Linear(rank, dim, bias=False))


def project_prototypes(vis_norm: nn.Module | None, vis_proj: nn.Module | None, merged: torch.Tensor) -> torch.Tensor:
    """prototypes = q + B(A(q)), q = LayerNorm(merged); a copy of `merged` without projection."""
    if vis_norm is None:
        return merged.clone()
    q = vis_norm(merged)
    return q + vis_proj(q)


def merged_counts(grid_thw: torch.Tensor, merge_size: int) -> torch.Tensor:
    """M_b = t*h*w // m^2 for each image (one image per sample)."""
    return grid_thw.prod(-1) // (merge_size**2)


def vrt_offsets(grid_thw: torch.Tensor, merge_size: int) -> torch.Tensor:
    """O_b: the global offset of sample b's VRT block (exclusive cumulative sum of M_b)."""
    counts = merged_counts(grid_thw, merge_size)
    return torch.cumsum(counts, 0) - counts


def to_global(ids: torch.Tensor, grid_thw: torch.Tensor, merge_size: int, vocab_size: int) -> torch.Tensor:
    """Local -> global VRT ids (a new tensor; text ids unchanged). Row b owns image b."""
    off = vrt_offsets(grid_thw, merge_size).to(ids.device)[:, None]
    return torch.where(ids >= vocab_size, ids + off, ids)


def to_local(ids: torch.Tensor, grid_thw: torch.Tensor, merge_size: int, vocab_size: int) -> torch.Tensor:
    off = vrt_offsets(grid_thw, merge_size).to(ids.device)[:, None]
    return torch.where(ids >= vocab_size, ids - off, ids)


def logit_mask(grid_thw: torch.Tensor, merge_size: int, vocab_size: int, device=None) -> torch.Tensor:
    """(B, E + K) bool, True = allowed: every text column and the sample's own VRT block."""
    return logit_mask_for_counts(merged_counts(grid_thw, merge_size).tolist(), vocab_size, device=device)


def logit_mask_for_counts(counts: list[int], vocab_size: int, device=None) -> torch.Tensor:
    """`logit_mask` from the merged-token counts M_b as Python ints (no tensor read)."""
    total = vocab_size + sum(counts)
    mask = torch.zeros((len(counts), total), dtype=torch.bool, device=device)
    mask[:, :vocab_size] = True
    start = vocab_size
    for b, c in enumerate(counts):
        mask[b, start : start + c] = True
        start += c
    return mask


# K (prototypes in a batch) is rounded up to a multiple of this for the decode steps, so the
# logits width is the same for all batches whose K falls in one bucket.
VRT_BUCKET = 512


class ExtendedVocab:
    """The input table and output matrix of one batch: text rows + this batch's prototypes.

    Text logits and prototype logits are computed as two products and concatenated rather
    than by materialising [W_text; prototypes] (E x D) at every decoding step; the values
    are the same dot products.
    """

    def __init__(
        self,
        embed: torch.Tensor,
        out_text: torch.Tensor,
        prototypes: torch.Tensor,
        mask: torch.Tensor,
        image_patches: list[int] | None = None,
    ):
        self.image_patches = image_patches or []  # t*h*w per image (= per batch row)
        self.embed = embed  # (E, D) input rows (embed_tokens.weight)
        self.out_text = out_text  # (E, D) output rows (lm_head.weight, or embed when tied)
        self.prototypes = prototypes  # (K, D)
        self.mask = mask  # (B, E + K)
        self.vocab_size = embed.shape[0]

    @property
    def size(self) -> int:
        return self.vocab_size + self.prototypes.shape[0]

    def embed_ids(self, ids: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        """Embed global ids: text ids through the table, VRT ids as their prototypes.

        A gather from each table and a `torch.where`: the same values as overwriting the VRT
        rows by boolean indexing, without reading the ids back. `check` verifies that every
        id is inside the extended vocabulary, which reads `ids.max()` (a host sync); callers
        that checked the ids on the host pass False."""
        if check and int(ids.max()) >= self.size:
            raise ValueError(f"token id {int(ids.max())} is outside the extended vocabulary of {self.size} entries")
        text = torch.nn.functional.embedding(ids.clamp(max=self.vocab_size - 1), self.embed)
        if self.prototypes.shape[0] == 0:
            return text
        rows = (ids - self.vocab_size).clamp(0, self.prototypes.shape[0] - 1)
        vrt = torch.nn.functional.embedding(rows, self.prototypes).to(text.dtype)
        return torch.where((ids >= self.vocab_size)[..., None], vrt, text)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Masked logits over E + K for hidden states (B, ..., D), one mask row per sample."""
        text = hidden @ self.out_text.T
        vrt = hidden @ self.prototypes.to(hidden.dtype).T
        out = torch.cat((text, vrt), dim=-1)
        del text, vrt
        shape = (out.shape[0],) + (1,) * (out.dim() - 2) + (out.shape[-1],)
        return out.masked_fill_(~self.mask.view(shape), float("-inf"))  # `out` is ours: in place

    def padded(self, bucket: int = VRT_BUCKET) -> PaddedVocab:
        return PaddedVocab.from_vocab(self, bucket)


class PaddedVocab:
    """The decode steps' fixed-shape view of an `ExtendedVocab`: the prototype table padded
    with zero rows to `k_padded` and the logit mask with False columns, so a step's shapes
    depend on the bucket only. Lookups are a gather plus `torch.where` (no data-dependent
    branch, no boolean indexing); padding columns are masked to -inf and never chosen."""

    def __init__(self, embed, out_text, prototypes, mask, vocab_size: int, k: int):
        self.embed = embed  # (E, D)
        self.out_text = out_text  # (E, D)
        self.prototypes = prototypes  # (K_padded, D), rows >= k are zero
        self.mask = mask  # (B, E + K_padded) bool
        self.vocab_size = vocab_size
        self.k = k  # real prototypes; E + k is the ExtendedVocab's width

    @classmethod
    def from_vocab(cls, vocab: ExtendedVocab, bucket: int) -> PaddedVocab:
        k = vocab.prototypes.shape[0]
        k_padded = max(bucket, -(-k // bucket) * bucket)
        protos = vocab.prototypes.new_zeros((k_padded, vocab.prototypes.shape[1]))
        protos[:k] = vocab.prototypes
        mask = vocab.mask.new_zeros((vocab.mask.shape[0], vocab.vocab_size + k_padded))
        mask[:, : vocab.size] = vocab.mask
        return cls(vocab.embed, vocab.out_text, protos, mask, vocab.vocab_size, k)

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Same values as `ExtendedVocab.embed_ids` for in-range ids (the caller's are argmax
        results over masked logits, so always in range)."""
        text = torch.nn.functional.embedding(ids.clamp(max=self.vocab_size - 1), self.embed)
        rows = (ids - self.vocab_size).clamp(0, self.prototypes.shape[0] - 1)
        vrt = torch.nn.functional.embedding(rows, self.prototypes).to(text.dtype)
        return torch.where((ids >= self.vocab_size)[..., None], vrt, text)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Masked logits (B, E + K_padded) for last-position states (B, D)."""
        text = hidden @ self.out_text.T
        vrt = hidden @ self.prototypes.to(hidden.dtype).T
        return torch.cat((text, vrt), dim=-1).masked_fill_(~self.mask, float("-inf"))
