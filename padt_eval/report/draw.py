"""Pictures for HTML reports, drawn with Pillow and inline SVG (no matplotlib), returned
as text that embeds in a page: data URIs and SVG markup.

Colours: ground truth green, the scored prediction red, other predicted objects orange.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence

import numpy as np

from padt_eval.core import rle as rlemod

GT_RGB = (0, 200, 0)
PRED_RGB = (230, 30, 30)
OTHER_RGB = (255, 150, 0)
MISSING_BG = (200, 200, 200)


def _overlay(
    canvas: np.ndarray,
    mask_rle: dict | None,
    rgb: tuple[int, int, int],
    alpha: float,
    image_hw: tuple[int, int] | None = None,
) -> None:
    """Blend the mask into the canvas. `image_hw` is the size of the image the canvas
    shows when the canvas is a shrunk copy (`render_sample`): the mask must have the
    image's size, and is shrunk to the canvas's by nearest neighbour."""
    if mask_rle is None:
        return
    h, w = canvas.shape[:2]
    if [int(v) for v in mask_rle.get("size", [])] != list(image_hw or (h, w)):
        return
    if rlemod.problem(mask_rle) is not None:  # a REC split's masks are read unchecked (REC never uses them)
        return
    m = rlemod.decode(mask_rle)
    if m.shape[:2] != (h, w):
        from PIL import Image

        m = np.asarray(Image.fromarray(np.ascontiguousarray(m)).resize((w, h), Image.NEAREST))
    m = m.astype(bool)
    canvas[m] = (canvas[m] * (1 - alpha) + np.array(rgb) * alpha).astype(np.uint8)


def clip_to_canvas(b: Sequence[float], width: int, height: int, margin: int) -> list[float] | None:
    """The box [x1, y1, x2, y2] (in either order) limited to the canvas plus `margin`, so
    that a side beyond the canvas is drawn just outside it, where it cannot be seen, exactly
    as the whole box would look. Pillow's drawing time grows with the box's size, and a
    box of [0, 0, 1e10, 1e10] took seconds; None for a box that is not finite or lies
    wholly outside the canvas."""
    x1, y1, x2, y2 = b
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return None
    left, right, top, bottom = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    if right < -margin or bottom < -margin or left > width + margin or top > height + margin:
        return None

    def limit(v: float, hi: int) -> float:
        return min(max(v, -margin), hi + margin)

    return [limit(left, width), limit(top, height), limit(right, width), limit(bottom, height)]


def base_canvas(image, width: int, height: int) -> np.ndarray:
    """The image as a writable RGB array, or a grey canvas of its size when there is none."""
    if image is not None:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    canvas = np.empty((max(height, 1), max(width, 1), 3), dtype=np.uint8)
    canvas[:] = MISSING_BG
    return canvas


def shrunk_grey_canvas(width: int, height: int, max_side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """(the grey canvas of a missing image, shrunk as `fit` shrinks it; the scale; the
    full canvas's (height, width)), made at the shrunk size: a flat colour shrinks to
    itself, and a 4000-pixel canvas is never allocated."""
    image_hw = (max(height, 1), max(width, 1))
    scale = min(1.0, max_side / max(image_hw))
    return base_canvas(None, max(1, round(image_hw[1] * scale)), max(1, round(image_hw[0] * scale))), scale, image_hw


def shrunk_canvas(image, width: int, height: int, max_side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """(the picture shrunk by `fit` as a writable RGB array, the scale, the full picture's
    (height, width)): the image, or a grey canvas of its size when there is none. Masks
    are blended into the shrunk picture (`_overlay` with `image_hw`): blending at full
    size and shrinking after costs four times the pixels for the same picture to the eye."""
    if image is None:
        return shrunk_grey_canvas(width, height, max_side)
    full = image.convert("RGB")
    small, scale = fit(full, max_side)
    return np.asarray(small, dtype=np.uint8).copy(), scale, (full.height, full.width)


def fit(img, max_side: int):
    """(the picture shrunk to at most `max_side` a side, the scale applied)."""
    from PIL import Image

    scale = min(1.0, max_side / max(img.width, img.height))
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return img, scale


def box_pen(draw, img, scale: float):
    """A function drawing a box given in original pixels onto the scaled picture, clipped."""

    def box(b: Sequence[float] | None, rgb: tuple[int, int, int], w: int) -> None:
        if b is None:
            return
        clipped = clip_to_canvas([float(v) * scale for v in b], img.width, img.height, margin=w + 1)
        if clipped is not None:
            draw.rectangle(clipped, outline=rgb, width=w)

    return box


def render_sample(
    image,  # PIL.Image.Image | None
    width: int,
    height: int,
    gt: Sequence[tuple[Sequence[float] | None, dict | None]],
    preds: Sequence[tuple[Sequence[float] | None, dict | None]],
    selected: int | None = 0,
    max_side: int = 360,
    all_scored: bool = False,
) -> str:
    """A JPEG data URI of the image (or a grey canvas when there is none) with ground-truth
    and predicted masks blended in and boxes drawn on top. `gt`/`preds` are (box, mask)
    pairs in original-image pixels; `selected` indexes the prediction that was scored, or
    with `all_scored` (detection, grounded captions) every prediction counts and is red."""
    from PIL import Image, ImageDraw

    canvas, scale, image_hw = shrunk_canvas(image, width, height, max_side)
    for _, mask in gt:
        _overlay(canvas, mask, GT_RGB, 0.35, image_hw)
    for i, (_, mask) in enumerate(preds):
        _overlay(canvas, mask, PRED_RGB if all_scored or i == selected else OTHER_RGB, 0.35, image_hw)
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    box = box_pen(draw, img, scale)

    for b, _ in gt:
        box(b, GT_RGB, 3)
    for i, (b, _) in enumerate(preds):
        if all_scored:
            box(b, PRED_RGB, 2)
        elif i != selected:
            box(b, OTHER_RGB, 1)
    if not all_scored and selected is not None and 0 <= selected < len(preds):
        box(preds[selected][0], PRED_RGB, 2)
    if image is None:
        draw.text((4, 4), "image not available", fill=(60, 60, 60))
    return jpeg_uri(img, 85)


def jpeg_uri(img, quality: int) -> str:
    """A JPEG data URI of a PIL image."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def histogram_svg(values: Sequence[float], bins: int = 20, width: int = 560, height: int = 180, label: str = "IoU") -> str:
    """An inline SVG bar chart of values in [0, 1]; exact zeros (misses) get their own red bar."""
    v = np.asarray(values, dtype=np.float64)
    zeros = int(np.sum(v == 0))
    rest = v[v > 0]
    counts, edges = np.histogram(np.clip(rest, 0, 1), bins=bins, range=(0.0, 1.0))
    all_counts = [zeros, *counts.tolist()]
    top = max(all_counts) or 1
    pad_l, pad_b, pad_t = 40, 28, 10
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    bar_w = plot_w / (bins + 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hist" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)} histogram">',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 10}" y2="{pad_t + plot_h}" stroke="#444"/>',
        f'<text x="4" y="{pad_t + 8}" font-size="10">{top}</text>',
        f'<text x="4" y="{pad_t + plot_h}" font-size="10">0</text>',
    ]
    for i, c in enumerate(all_counts):
        h = plot_h * c / top
        x = pad_l + i * bar_w
        colour = "#d33" if i == 0 else "#4a7bd0"
        title = f"{label} = 0: {c}" if i == 0 else f"{label} {edges[i - 1]:.2f}–{edges[i]:.2f}: {c}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{colour}">'
            f"<title>{html.escape(title)}</title></rect>"
        )
    for i in range(5, bins + 1, 5):
        x = pad_l + (i + 1) * bar_w
        anchor = "end" if i == bins else "middle"
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="10" text-anchor="{anchor}">{i / bins:.2f}</text>')
    parts.append(f'<text x="{pad_l + bar_w / 2:.1f}" y="{height - 10}" font-size="10" fill="#d33" text-anchor="middle">0</text>')
    parts.append("</svg>")
    return "".join(parts)
