"""Decoder outputs -> the canonical frame: pixel boxes, probabilities, COCO RLE masks.

Boxes come out of the decoder as (cx, cy, w, h) normalised to the processor-resized image,
which has the original image's geometry, so they scale by the ORIGINAL width and height.

* default: (cx +- w/2, cy +- h/2) * (W, H), clipped to the image; floats.
* compat: the reference evaluation's integers: x = max(cx - w/2, 0), y = max(cy - h/2, 0),
  w' = min(w, 1), h' = min(h, 1), times W or H, each rounded with Python's `round`
  (half to even); the right/bottom edge is not clamped. Converted to [x, y, x+w', y+h']
  for our types; the raw [x, y, w', h'] is kept for the parity check.

Masks (both modes): logits[:4h, :4w] (the object's valid patch region), bilinear resize
(align_corners=False) to the original (H, W), sigmoid, > 0.5, COCO RLE with str counts.
Scores: sigmoid of the score logit; no threshold, no NMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from padt_eval.core import rle


def box_default(box: Sequence[float], width: int, height: int) -> list[float]:
    """`box`: (cx, cy, w, h) as Python floats (the decoder's values, copied to the host once)."""
    cx, cy, w, h = (float(v) for v in box)
    x1 = min(max((cx - w / 2) * width, 0.0), float(width))
    y1 = min(max((cy - h / 2) * height, 0.0), float(height))
    x2 = min(max((cx + w / 2) * width, 0.0), float(width))
    y2 = min(max((cy + h / 2) * height, 0.0), float(height))
    return [x1, y1, x2, y2]


def box_compat(box: Sequence[float], width: int, height: int) -> tuple[list[int], list[float]]:
    """The reference's integer [x, y, w, h] and the same box as xyxy floats. `box` holds the
    decoder's values exactly (Python floats of its own dtype), as the reference's `.item()`."""
    cx, cy, w, h = (float(v) for v in box)
    x, y, ww, hh = max(cx - w / 2, 0), max(cy - h / 2, 0), min(w, 1), min(h, 1)
    xywh = [round(x * width), round(y * height), round(ww * width), round(hh * height)]
    return xywh, [float(xywh[0]), float(xywh[1]), float(xywh[0] + xywh[2]), float(xywh[1] + xywh[3])]


def mask_probability(
    mask_logits: torch.Tensor, valid_hw: tuple[int, int], width: int, height: int, *, keep_dtype: bool = False
) -> torch.Tensor:
    """(H, W) probabilities. `keep_dtype` resizes in the logits' dtype as the reference does
    (it matters for bf16 only); otherwise in float32."""
    h, w = valid_hw
    crop = mask_logits[None, None, : h * 4, : w * 4]
    if not keep_dtype:
        crop = crop.float()
    return F.interpolate(crop, size=(height, width), mode="bilinear", align_corners=False)[0, 0].sigmoid()


def mask_rle(prob: torch.Tensor) -> dict:
    return rle.encode((prob > 0.5).cpu().numpy())


def masks_rle(probs: Sequence[torch.Tensor]) -> list[dict]:
    """`mask_rle` of each (H, W) probability map, thresholded where they are (the device)
    and brought to the host in one copy of the booleans."""
    if not probs:
        return []
    return rle_from_bits(mask_bits(probs), probs)


def mask_bits(probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Every map's `> 0.5` booleans, flattened and concatenated, where the maps are."""
    return torch.cat([(p > 0.5).flatten() for p in probs])


def rle_from_bits(bits: torch.Tensor, probs: Sequence[torch.Tensor]) -> list[dict]:
    """The one host copy of `mask_bits(probs)`, cut back into (H, W) masks, as COCO RLE."""
    flat = bits.cpu().numpy()
    out, start = [], 0
    for p in probs:
        h, w = p.shape
        out.append(rle.encode(flat[start : start + h * w].reshape(h, w)))
        start += h * w
    return out
