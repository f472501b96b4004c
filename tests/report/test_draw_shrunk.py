"""The report's pictures are shrunk before masks are blended in (`draw.render_sample`);
a missing image's grey canvas is made at the shrunk size. Both are checked against the
full-size way: a full canvas shrunk by `fit`."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from padt_eval.core import rle
from padt_eval.report.draw import GT_RGB, _overlay, base_canvas, fit, shrunk_grey_canvas


def test_the_shrunk_grey_canvas_is_the_full_one_shrunk() -> None:
    rng = random.Random(5)
    for w, h in [(0, 0), (1, 5000), (640, 480), (361, 2)] + [(rng.randrange(4000), rng.randrange(4000)) for _ in range(60)]:
        full = base_canvas(None, w, h)
        shrunk, scale = fit(Image.fromarray(full), 360)
        canvas, got_scale, hw = shrunk_grey_canvas(w, h, 360)
        assert np.array_equal(np.asarray(shrunk), canvas), (w, h)
        assert got_scale == scale and hw == full.shape[:2]


def test_a_mask_blended_into_the_shrunk_picture_covers_the_shrunk_mask() -> None:
    """The blend lands where the mask, shrunk by nearest neighbour, lies, and nowhere else."""
    m = np.zeros((480, 640), dtype=np.uint8)
    m[100:300, 200:500] = 1
    canvas = np.full((270, 360, 3), 128, dtype=np.uint8)
    _overlay(canvas, rle.encode(m), GT_RGB, 0.35, image_hw=(480, 640))
    small = np.asarray(Image.fromarray(m).resize((360, 270), Image.NEAREST)).astype(bool)
    changed = (canvas != 128).any(axis=2)
    assert np.array_equal(changed, small)
    # a mask of another size than the image's is not drawn
    other = np.full((270, 360, 3), 128, dtype=np.uint8)
    _overlay(other, rle.encode(m[:400]), GT_RGB, 0.35, image_hw=(480, 640))
    assert (other == 128).all()
