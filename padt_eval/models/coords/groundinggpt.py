"""GroundingGPT: Shikra's box text (`[x1, y1, x2, y2]`, 0-1 of the expand2square padded
square), read with GroundingGPT's own rounding.

GroundingGPT converts an answer box back to the original image in
`lego/mm_utils.py` (`postprocess_output` with `postprocess_box`, lzw-lzw/GroundingGPT):
each value is scaled to the padded square of side S = max(W, H) and rounded to a whole
pixel (`round(v * S)`, Python's round: halves to even), the pad offset (S − W) // 2 or
(S − H) // 2 is subtracted, and the result is normalised by the original side and
rounded to 3 decimals (`round(x / W, 3)`), then clipped to [0, 1]. So
`x_px = round((round(x · S) − padx) / W, 3) · W`. Read as Shikra (`x · S − padx`, no
rounding) the same text lands up to 1.33 px away.
"""

from __future__ import annotations

from padt_eval.models.coords.common import Frame, ParseResult
from padt_eval.models.coords.shikra import padded_square, parse_square_boxes

_NAN = float("nan")


def groundinggpt_pixels(raw: tuple[float, ...], frame: Frame) -> tuple[float, float, float, float]:
    """GroundingGPT's conversion of one box, in its order of operations (module doc)."""
    w, h = frame.width, frame.height
    s, padx, pady = padded_square(frame)
    try:
        x1, y1, x2, y2 = (round(v * s) for v in raw)
    except (OverflowError, ValueError):  # a finite number too large for a whole pixel
        return _NAN, _NAN, _NAN, _NAN
    norm = (round((x1 - padx) / w, 3), round((y1 - pady) / h, 3), round((x2 - padx) / w, 3), round((y2 - pady) / h, 3))
    x1n, y1n, x2n, y2n = (min(max(v, 0.0), 1.0) for v in norm)
    return x1n * w, y1n * h, x2n * w, y2n * h


def parse(text: str, frame: Frame) -> ParseResult:
    return parse_square_boxes(text, frame, groundinggpt_pixels)
