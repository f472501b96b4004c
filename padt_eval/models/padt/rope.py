"""3-axis M-RoPE position ids for Qwen2.5-VL prompts, with the reference's conventions.

transformers 5.x changed two conventions of `get_rope_index` that matter here: padded
positions used to be 1 (now 0), and `rope_deltas` used to be computed against the padded
row length (now against the unpadded one, compensated elsewhere). Our decoding loop
relies on the 4.50 convention (next position = cache length + delta), so we compute the
ids ourselves; the fixture records both tensors and the tests compare them.

Text tokens (VRTs included) advance all three axes together; an image's merged tokens
take (t, row, col) offsets from the position after the preceding text.
"""

from __future__ import annotations

import torch


def rope_index(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    image_grid_thw: torch.Tensor | None,
    *,
    image_token_id: int,
    merge_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return position ids (3, B, L) and rope deltas (B, 1).

    Images are consumed in order across the batch (row b's images follow row b-1's), each
    a run of t*h*w/m^2 image tokens. Padded positions get 1, deltas are
    `max position + 1 - padded length`, both as the reference computes them.
    """
    b, seq = input_ids.shape
    pos = torch.ones((3, b, seq), dtype=input_ids.dtype, device=input_ids.device)
    deltas = []
    grids = image_grid_thw.tolist() if image_grid_thw is not None else []
    image_i = 0
    for row in range(b):
        keep = attention_mask[row].bool()
        tokens = input_ids[row][keep].tolist()
        pieces: list[torch.Tensor] = []
        next_pos = 0
        start = 0
        while grids and image_i < len(grids) and image_token_id in tokens[start:]:
            at = tokens.index(image_token_id, start)
            t, h, w = (int(v) for v in grids[image_i])
            image_i += 1
            gh, gw = h // merge_size, w // merge_size
            text_len = at - start
            pieces.append(torch.arange(text_len).view(1, -1).expand(3, -1) + next_pos)
            base = next_pos + text_len
            t_idx = torch.zeros(t * gh * gw, dtype=torch.long)  # still images: no time offset
            h_idx = torch.arange(gh).view(1, -1, 1).expand(t, -1, gw).flatten()
            w_idx = torch.arange(gw).view(1, 1, -1).expand(t, gh, -1).flatten()
            block = torch.stack([t_idx, h_idx, w_idx]) + base
            pieces.append(block)
            next_pos = int(block.max()) + 1
            start = at + t * gh * gw
        if start < len(tokens):
            pieces.append(torch.arange(len(tokens) - start).view(1, -1).expand(3, -1) + next_pos)
        flat = torch.cat(pieces, dim=1) if pieces else torch.zeros((3, 0), dtype=torch.long)
        pos[:, row, keep] = flat.to(pos)
        deltas.append((int(flat.max()) + 1 if flat.numel() else 0) - seq)
    return pos, torch.tensor(deltas, dtype=input_ids.dtype, device=input_ids.device).unsqueeze(1)
