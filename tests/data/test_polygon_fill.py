"""polygon_fill reproduces OpenCV's polylines + fillPoly on int32 vertices (ReasonSeg's GT),
under the fill rules of the OpenCV LISA pins (4.8) and of OpenCV 4.11 and later."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval.data.readers.polygon_fill import (
    LISA_OPENCV,
    MODERN_OPENCV,
    OPENCV_RULES,
    draw_line,
    fill_polygon,
    int_vertices,
    rules_of,
)


@pytest.mark.parametrize("rules", OPENCV_RULES)
def test_square_fills_its_closed_pixel_range(rules):
    # a 2..5 x 1..4 square: both end pixels are painted (the outline is drawn, then filled)
    m = fill_polygon([[2, 1], [5, 1], [5, 4], [2, 4]], 7, 8, rules)
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


@pytest.mark.parametrize("rules", OPENCV_RULES)
def test_triangle_rows_end_on_the_hypotenuse(rules):
    # the hypotenuse crosses row y at x = 4 - y exactly: each row spans 0 .. 4 - y
    m = fill_polygon([[0, 0], [4, 0], [0, 4]], 5, 5, rules)
    assert m.sum(axis=1).tolist() == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("rules", OPENCV_RULES)
def test_out_of_image_vertices_are_clipped_not_wrapped(rules):
    m = fill_polygon([[-5, -5], [3, -5], [3, 3], [-5, 3]], 6, 6, rules)
    expected = np.zeros((6, 6), bool)
    expected[0:4, 0:4] = True
    assert (m == expected).all()


def test_the_two_rule_sets_differ_where_opencv_26130_says():
    # the quad of opencv issue 26130 ("fillPoly draws outside boundaries"), 50 x 50: OpenCV
    # 4.8.0 paints 506 pixels with polylines + fillPoly, 5.1.0 paints 504 (both measured
    # with opencv-python-headless); the two extra pixels lie past the outline
    quad = [[44, 27], [7, 37], [7, 19], [38, 19]]
    old, new = fill_polygon(quad, 50, 50, LISA_OPENCV), fill_polygon(quad, 50, 50, MODERN_OPENCV)
    assert (int(old.sum()), int(new.sum())) == (506, 504)
    assert not (new & ~old).any() and np.argwhere(old & ~new).tolist() == [[21, 40], [25, 43]]


def test_rules_follow_the_version():
    assert rules_of("4.8.0") == LISA_OPENCV and rules_of("4.10.0") == LISA_OPENCV
    assert rules_of("4.11.0") == MODERN_OPENCV and rules_of("5.1.0") == MODERN_OPENCV
    with pytest.raises(ValueError, match="rules"):
        fill_polygon([[0, 0], [1, 1], [0, 1]], 3, 3, "opencv-3")


def test_matches_the_installed_opencv_on_random_polygons():
    cv2 = pytest.importorskip("cv2")
    rules = rules_of(cv2.__version__)
    rng = np.random.default_rng(0)
    for k in range(400):
        h, w = (int(v) for v in rng.integers(5, 60, 2))
        n = int(rng.integers(3, 9))
        # half the polygons stay inside the image, half reach outside it (float vertices)
        pts = rng.integers(0, min(h, w), (n, 2)) if k % 2 else rng.uniform(-15, max(h, w) + 15, (n, 2))
        ref = np.zeros((h, w), np.uint8)
        arr = np.array([pts], np.int32)
        cv2.polylines(ref, arr, True, 1, 1)
        cv2.fillPoly(ref, arr, 1)
        assert (fill_polygon(pts.tolist(), h, w, rules) == ref.astype(bool)).all(), (cv2.__version__, pts.tolist())
