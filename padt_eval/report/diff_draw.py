"""One picture of one sample with the ground truth and every run's answer in its own colour.

The ground truth is green (filled mask, thick box), as in the single-run report. Each run
draws its answer's box and the outline of its mask in its colour; earlier runs draw wider
lines underneath, so where two runs gave the same box both colours stay visible. The image
patches a PaDT answer's VRTs point at (prediction meta `vrt_patches`, cells of the
`vrt_grid_hw` grid laid over the whole image) are filled translucent in the run's colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from padt_eval.core import rle as rlemod
from padt_eval.report.draw import GT_RGB, _overlay, box_pen, jpeg_uri, shrunk_canvas

#: Run colours, in run order (A, B, C …); none is close to the ground truth's green.
RUN_COLOURS = ("#1f5fd6", "#e0142d", "#ff8c00", "#9b3fc9", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def run_colour(i: int) -> str:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


@dataclass
class RunAnswer:
    """What one run answered on one sample, in original-image pixels."""

    colour: str
    boxes: list[Sequence[float]] = field(default_factory=list)
    masks: list[dict] = field(default_factory=list)
    vrt_cells: list[tuple[float, float, float, float]] = field(default_factory=list)


def vrt_cells(patches: Sequence[int], grid_hw: Sequence[int], width: int, height: int) -> list[tuple[float, float, float, float]]:
    """The image rectangles of merged-patch indices (row-major in a rows x cols grid over
    the whole image); an index outside the grid (a VRT the image has no patch for) is skipped."""
    rows, cols = int(grid_hw[0]), int(grid_hw[1])
    if rows <= 0 or cols <= 0:
        return []
    cw, ch = width / cols, height / rows
    out = []
    for i in sorted(set(int(p) for p in patches)):
        r, c = divmod(i, cols)
        if 0 <= r < rows:
            out.append((c * cw, r * ch, (c + 1) * cw, (r + 1) * ch))
    return out


def _outline(mask_rle: dict, size: tuple[int, int], width_px: int) -> np.ndarray | None:
    """The boundary of a mask, resized to `size` (w, h), `width_px` thick; None if unusable."""
    from PIL import Image

    if rlemod.problem(mask_rle) is not None:
        return None
    m = rlemod.decode(mask_rle).astype(bool)
    m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize(size, Image.NEAREST)) > 0
    inner = m.copy()
    for _ in range(width_px):  # erode by one pixel in the four directions
        e = inner.copy()
        e[1:, :] &= inner[:-1, :]
        e[:-1, :] &= inner[1:, :]
        e[:, 1:] &= inner[:, :-1]
        e[:, :-1] &= inner[:, 1:]
        inner = e
    return m & ~inner


def render_diff(
    image,  # PIL.Image.Image | None
    width: int,
    height: int,
    gt: Sequence[tuple[Sequence[float] | None, dict | None]],
    answers: Sequence[RunAnswer],
    max_side: int = 320,
) -> str:
    """A JPEG data URI: the image (grey canvas when None) with the ground truth and each
    run's answer drawn over it."""
    from PIL import Image, ImageDraw

    canvas, scale, image_hw = shrunk_canvas(image, width, height, max_side)
    for _, mask in gt:
        _overlay(canvas, mask, GT_RGB, 0.35, image_hw)
    img = Image.fromarray(canvas)
    # VRT patches under everything else, translucent
    cells = Image.new("RGBA", img.size, (0, 0, 0, 0))
    cdraw = ImageDraw.Draw(cells)
    for a in answers:
        for x1, y1, x2, y2 in a.vrt_cells:
            cdraw.rectangle(
                [x1 * scale, y1 * scale, x2 * scale, y2 * scale], fill=(*_rgb(a.colour), 90), outline=(*_rgb(a.colour), 200)
            )
    img = Image.alpha_composite(img.convert("RGBA"), cells).convert("RGB")
    px = np.asarray(img).copy()
    n = len(answers)
    for k, a in enumerate(answers):
        for mask in a.masks:
            if [int(v) for v in mask.get("size", [])] != list(image_hw):
                continue
            edge = _outline(mask, img.size, 1 + (n - 1 - k))
            if edge is not None:
                px[edge] = _rgb(a.colour)
    img = Image.fromarray(px)
    draw = ImageDraw.Draw(img)
    box = box_pen(draw, img, scale)
    for b, _ in gt:
        box(b, GT_RGB, 3)
    for k, a in enumerate(answers):  # the first run widest, so a later identical box leaves its rim visible
        for b in a.boxes:
            box(b, _rgb(a.colour), 2 + (n - 1 - k))
    if image is None:
        draw.text((4, 4), "image not available", fill=(60, 60, 60))
    return jpeg_uri(img, 80)
