"""polygon_fill reproduces OpenCV's polylines + fillPoly on int32 vertices (ReasonSeg's GT)."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.data.readers.polygon_fill import draw_line, fill_polygon, int_vertices


def test_square_fills_its_closed_pixel_range():
    # a 2..5 x 1..4 square: both end pixels are painted (the outline is drawn, then filled)
    m = fill_polygon([[2, 1], [5, 1], [5, 4], [2, 4]], 7, 8)
    expected = np.zeros((7, 8), bool)
    expected[1:5, 2:6] = True
    assert (m == expected).all()


def test_vertices_truncate_toward_zero_like_int32_cast():
    assert int_vertices([[2.9, -0.7], [-1.2, 3.99]]) == [(2, 0), (-1, 3)]


def test_line_steps_as_opencv_bresenham():
    # from (0, 0) to (4, 1): OpenCV's err = dx - 2dy rule steps down after the 3rd pixel
    # (err: 2, 0, -2 -> step); cv2.line(m, (0, 0), (4, 1), 1, 1, cv2.LINE_8) paints the same
    m = np.zeros((3, 6), bool)
    draw_line(m, (0, 0), (4, 1))
    assert np.argwhere(m).tolist() == [[0, 0], [0, 1], [0, 2], [1, 3], [1, 4]]


def test_triangle_interior_rounds_inward():
    # the hypotenuse crosses row y at x = 4 - y exactly: each row spans 0 .. 4 - y
    m = fill_polygon([[0, 0], [4, 0], [0, 4]], 5, 5)
    assert m.sum(axis=1).tolist() == [5, 4, 3, 2, 1]


def test_out_of_image_vertices_are_clipped_not_wrapped():
    m = fill_polygon([[-5, -5], [3, -5], [3, 3], [-5, 3]], 6, 6)
    expected = np.zeros((6, 6), bool)
    expected[0:4, 0:4] = True
    assert (m == expected).all()


def test_matches_opencv_on_random_polygons_inside_the_image():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(5, 60, 2))
        pts = rng.integers(0, min(h, w), (int(rng.integers(3, 9)), 2))
        ref = np.zeros((h, w), np.uint8)
        arr = np.array([pts], np.int32)
        cv2.polylines(ref, arr, True, 1, 1)
        cv2.fillPoly(ref, arr, 1)
        assert (fill_polygon(pts.tolist(), h, w) == ref.astype(bool)).all(), pts.tolist()
