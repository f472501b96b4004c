"""Everything PaDT derives from image grids and prompt ids, computed on the host.

The vision tower, the prompt's M-RoPE positions, the VRT tables and the decoder all need
index tensors that follow from the image grids (t, h, w) and the prompt ids: the vision
rotary positions, the window permutation and its inverse, the cumulative window / image
lengths (and the padded-attention tables built from them), each image's patch and
merged-token counts, the prompt's 3-axis positions and rope deltas, and where the image
placeholders sit in the flattened prompt. Computing them inside the forward from a device
`grid_thw` reads that tensor back (`tolist`, `int`, `nonzero`): a host sync on a GPU,
and an error under fake CUDA.

Here they are computed once per batch from Python ints and CPU tensors, with the same
transformers helpers (`transformers.vision_utils`) and the same `rope_index` the forward
used, so the numbers are bit-identical, and moved to the device in one `to()`. The
pipeline builds them while assembling the batch (`PadtPipeline.prepare`), before any
device code runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .attention import PackedSegments
from .rope import rope_index

Grid = tuple[int, int, int]


def host_grids(grid_thw) -> list[Grid]:
    """(t, h, w) ints per image from a tensor or a list. Reading a device tensor syncs: the
    callers that have a `HostMeta` never get here with one."""
    rows = grid_thw.tolist() if isinstance(grid_thw, torch.Tensor) else grid_thw
    return [(int(t), int(h), int(w)) for t, h, w in rows]


@dataclass
class VisionLayout:
    """The vision tower's index tensors for one batch of images (all images concatenated)."""

    position_ids: torch.Tensor  # (P, 2) long: (row, col) of each patch, merge-block order
    window_index: torch.Tensor  # (P / m^2,) long: merged-token order the blocks run in
    reverse_index: torch.Tensor  # argsort(window_index): back to raster order
    cu_seqlens: torch.Tensor  # (images + 1,) int32: whole-image segments
    cu_window_seqlens: torch.Tensor  # (windows + 1,) int32: window segments
    max_seqlen: int
    max_window_seqlen: int
    images: PackedSegments  # padded-attention tables of the full-attention blocks
    windows: PackedSegments  # ... and of the window-attention blocks

    def to(self, device) -> VisionLayout:
        return replace(
            self,
            position_ids=self.position_ids.to(device),
            window_index=self.window_index.to(device),
            reverse_index=self.reverse_index.to(device),
            cu_seqlens=self.cu_seqlens.to(device),
            cu_window_seqlens=self.cu_window_seqlens.to(device),
            images=self.images.to(device),
            windows=self.windows.to(device),
        )


def vision_layout(grids: list[Grid], visual) -> VisionLayout:
    """The layout for `grids` under the geometry of `visual` (a stock Qwen2.5-VL vision
    tower: only its Python attributes are read, so a fake or meta module does)."""
    from transformers.vision_utils import get_vision_cu_seqlens, get_vision_position_ids, get_vision_window_index

    grid = torch.tensor([list(g) for g in grids], dtype=torch.long)  # CPU
    merge = int(visual.spatial_merge_size)
    position_ids = get_vision_position_ids(grid, merge)
    cu_seqlens = get_vision_cu_seqlens(grid)
    window_index, cu_window = get_vision_window_index(
        grid, spatial_merge_size=merge, window_size=int(visual.window_size), patch_size=int(visual.patch_size)
    )
    return VisionLayout(
        position_ids=position_ids,
        window_index=window_index,
        reverse_index=torch.argsort(window_index),
        cu_seqlens=cu_seqlens,
        cu_window_seqlens=cu_window,
        max_seqlen=_max_length(cu_seqlens),
        max_window_seqlen=_max_length(cu_window),
        images=PackedSegments(cu_seqlens),
        windows=PackedSegments(cu_window),
    )


def _max_length(cu: torch.Tensor) -> int:
    return int((cu[1:] - cu[:-1]).max()) if cu.numel() > 1 else 0


@dataclass
class PromptLayout:
    """The text model's inputs that follow from the prompt ids and the grids."""

    positions: torch.Tensor  # (3, B, L) M-RoPE position ids (`rope.rope_index`)
    deltas: torch.Tensor  # (B, 1) rope deltas of the decode positions
    image_slots: torch.Tensor  # (N,) long: flat indices (b * L + i) of the image placeholders, row-major
    row_tokens: list[int]  # unpadded tokens per row

    def to(self, device) -> PromptLayout:
        return PromptLayout(self.positions.to(device), self.deltas.to(device), self.image_slots.to(device), self.row_tokens)


def prompt_layout(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    grids: list[Grid],
    *,
    image_token_id: int,
    merge_size: int,
    vocab_size: int,
) -> PromptLayout:
    """From CPU LOCAL ids (VRT ids never equal the image token, so positions do not depend
    on local vs global) and CPU mask. Checks on the host what the device code then trusts:
    row b holds exactly image b's merged tokens (PaDT's VRT offsets and logit mask assume
    it), and every id, made global, lies inside the extended vocabulary of E + K entries."""
    is_image = input_ids == image_token_id
    per_row = is_image.sum(dim=1).tolist()
    expected = [t * h * w // merge_size**2 for t, h, w in grids]
    offsets = torch.tensor([sum(expected[:b]) for b in range(len(expected))], dtype=input_ids.dtype)[:, None]
    top = int(torch.where(input_ids >= vocab_size, input_ids + offsets, input_ids).max()) if input_ids.numel() else 0
    if top >= vocab_size + sum(expected):
        raise ValueError(f"token id {top} is outside the extended vocabulary of {vocab_size + sum(expected)} entries")
    if per_row != expected:
        raise ValueError(
            f"PaDT needs exactly one image per batch row: image tokens per row {per_row}, merged tokens per image {expected}"
        )
    positions, deltas = rope_index(
        input_ids, attention_mask, torch.tensor([list(g) for g in grids], dtype=torch.long),
        image_token_id=image_token_id, merge_size=merge_size,
    )  # fmt: skip
    return PromptLayout(positions, deltas, is_image.flatten().nonzero().squeeze(1), attention_mask.sum(dim=1).tolist())


@dataclass
class HostMeta:
    """A batch's host metadata: Python ints for what the host itself loops over, tensors
    (CPU until `to`) for what device code indexes with."""

    grids: list[Grid]
    merge_size: int
    vision: VisionLayout
    prompt: PromptLayout | None = None

    @property
    def patches(self) -> list[int]:
        """t*h*w per image (= per batch row)."""
        return [t * h * w for t, h, w in self.grids]

    @property
    def merged_counts(self) -> list[int]:
        """M_b: merged tokens (= VRTs) per image."""
        return [p // self.merge_size**2 for p in self.patches]

    @property
    def patch_starts(self) -> list[int]:
        """Offset of each image's first patch in the concatenated patches."""
        out, at = [], 0
        for p in self.patches:
            out.append(at)
            at += p
        return out

    def to(self, device) -> HostMeta:
        return HostMeta(self.grids, self.merge_size, self.vision.to(device), self.prompt.to(device) if self.prompt else None)


def host_meta(model, grids: list[Grid], input_ids=None, attention_mask=None) -> HostMeta:
    """The metadata of one batch for `model` (a `PadtModel`; only its config and the vision
    tower's Python attributes are read). With CPU prompt ids and mask, the prompt layout too."""
    cfg = model.cfg
    prompt = None
    if input_ids is not None:
        prompt = prompt_layout(
            input_ids, attention_mask, grids,
            image_token_id=cfg.image_token_id, merge_size=cfg.merge_size, vocab_size=cfg.vocab_size,
        )  # fmt: skip
    return HostMeta(list(grids), cfg.merge_size, vision_layout(grids, model.visual), prompt)
