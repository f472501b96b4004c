"""Qwen3-VL: the same JSON `bbox_2d` syntax as Qwen2.5-VL, but relative 0-1000 coordinates.

Qwen3-VL's README says it uses relative coordinates, and its cookbook and ODinW evaluation
divide by 1000 (docs/reference/baselines.md §2.3): `x_px = x / 1000 · W`. The resized input size plays no
part, unlike Qwen2.5-VL.
"""

from __future__ import annotations

from padt_eval.models.coords.common import Frame, ParseResult
from padt_eval.models.coords.jsonish import scan_json_boxes


def per_mille(v: tuple[float, ...], f: Frame) -> tuple[float, float, float, float]:
    """0-1000 relative coordinates -> pixels of the original image."""
    return (v[0] / 1000 * f.width, v[1] / 1000 * f.height, v[2] / 1000 * f.width, v[3] / 1000 * f.height)


def parse(text: str, frame: Frame) -> ParseResult:
    return scan_json_boxes(text, frame, per_mille)
