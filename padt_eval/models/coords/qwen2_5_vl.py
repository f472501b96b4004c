"""Qwen2.5-VL and VLM-R1: JSON `bbox_2d` in pixels of the resized model input.

Qwen2.5-VL sees the image after `smart_resize` (sides multiples of 28, pixel count within
[min_pixels, max_pixels]) and answers in pixels of that resized image, not in 0-1000 and
not in original pixels (docs/reference/baselines.md §2.1). So `x_px = x · W / w'` and `y_px = y · H / h'`.

The resized size comes from the processor's actual grid when our adapter generated the text
(`image_grid_thw · patch_size`), and from `smart_resize` on the original size with the run's
min/max pixels when a predictions file is scored (`--min-pixels/--max-pixels`, recorded in
the manifest). VLM-R1 writes the same JSON inside `<answer>` tags after a `<think>` block;
its reference scorer needs the answer tag, and so does the `vlm_r1` format.
"""

from __future__ import annotations

import math

from padt_eval.models.coords.common import Frame, ParseResult, failed
from padt_eval.models.coords.jsonish import scan_json_boxes

FACTOR = 28  # patch 14 x spatial merge 2
DEFAULT_MIN_PIXELS = 3136  # 4 * 28 * 28, the checkpoints' preprocessor_config.json
DEFAULT_MAX_PIXELS = 12845056  # 16384 * 28 * 28
MAX_RATIO = 200


def smart_resize(
    height: int, width: int, factor: int = FACTOR, min_pixels: int = DEFAULT_MIN_PIXELS, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[int, int]:
    """The processor's resize rule: (h', w') for an image of (height, width).

    Same arithmetic as `transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize`
    (Python's banker's `round`); qwen-vl-utils differs only for aspect ratios so extreme
    that a side would round to 0 (it takes max(factor, ·) first). ValueError for aspect
    ratios above 200, as both do.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def input_frame(width: int, height: int, min_pixels: int = DEFAULT_MIN_PIXELS, max_pixels: int = DEFAULT_MAX_PIXELS) -> Frame:
    """The frame of an image as the processor would resize it (for predictions files)."""
    h, w = smart_resize(height, width, FACTOR, min_pixels, max_pixels)
    return Frame(width, height, w, h)


def _scale(frame: Frame):
    sx = frame.width / frame.input_width  # type: ignore[operator]
    sy = frame.height / frame.input_height  # type: ignore[operator]
    return lambda v, f: (v[0] * sx, v[1] * sy, v[2] * sx, v[3] * sy)


def parse(text: str, frame: Frame) -> ParseResult:
    """Qwen2.5-VL: every `bbox_2d` box (answer tags optional), input pixels -> original pixels."""
    if not frame.input_width or not frame.input_height:
        return failed("the Qwen2.5-VL frame needs the model-input size (processor grid or smart_resize)")
    return scan_json_boxes(text, frame, _scale(frame))


def parse_vlm_r1(text: str, frame: Frame) -> ParseResult:
    """VLM-R1: as Qwen2.5-VL, but the answer must be inside `<answer>…</answer>`."""
    if not frame.input_width or not frame.input_height:
        return failed("the VLM-R1 frame needs the model-input size (processor grid or smart_resize)")
    return scan_json_boxes(text, frame, _scale(frame), require_answer=True)
