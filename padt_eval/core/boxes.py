"""Box geometry on `[x1, y1, x2, y2]` pixel boxes.

Boxes are scored as given: no clipping to the image at scoring time (adapters clip where
their format calls for it), so a prediction that spills outside the image pays for it in
the union. A box with x2 < x1 or y2 < y1 has zero area (it covers nothing); adapters swap
reversed corners when a model's format means them as a box, the metric does not guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def box_area(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Continuous IoU (no +1 pixel convention); 0.0 when the union is empty."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, iw) * max(0.0, ih)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


_NUMBER_TYPES = (int, float)


def is_finite_box(b: object) -> bool:
    """Four finite numbers (bools excluded). Written flat: it runs for every box read."""
    if type(b) not in (list, tuple) or len(b) != 4:  # type: ignore[arg-type]
        return False
    for v in b:  # type: ignore[union-attr]
        if type(v) not in _NUMBER_TYPES or not math.isfinite(v):
            return False
    return True


def xywh_to_xyxy(b: Sequence[float]) -> list[float]:
    return [float(b[0]), float(b[1]), float(b[0] + b[2]), float(b[1] + b[3])]


#: Sample meta key under which a reader keeps the split's normalised GT box (PaDT's
#: layouts): the release protocol rounds the ground truth from it (`release_gt_xywh`).
NORMALISED_BOX_META = "bbox_normalised"


def release_gt_xywh(norm_xyxy: Sequence[float], width: int, height: int) -> list[int]:
    """The release's ground-truth box from a normalised `[x1, y1, x2, y2]`: the width comes
    from the normalised difference, `round((x2n - x1n) * W)`, not from pixel corners
    (`round(x2n*W - x1n*W)`): on a half pixel the two can differ by 1 px."""
    x1n, y1n, x2n, y2n = norm_xyxy
    return [round(x1n * width), round(y1n * height), round((x2n - x1n) * width), round((y2n - y1n) * height)]
