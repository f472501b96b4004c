"""scoring/alarm_watch.py's pieces: the random box as a mask, the hit-max flag, the answer key."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as cocomask

from padt_eval.core.types import ObjectPred, Prediction
from padt_eval.metrics.chance import random_boxes
from padt_eval.scoring.alarm_watch import _box_rles, answer_key, hit_max


def test_a_box_mask_is_the_pixels_whose_centres_are_inside_the_box():
    wh = np.array([[37, 23]] * 150 + [[5, 40]] * 50, dtype=float)
    boxes = random_boxes(wh, seed=1)
    boxes[0], boxes[1], boxes[2] = [0, 0, 37, 23], [3, 3, 3.2, 9], [-5, -5, 100, 100]
    for rle, box, (w, h) in zip(_box_rles(boxes, wh), boxes, wh.astype(int)):
        yy, xx = np.mgrid[0:h, 0:w]
        want = (xx + 0.5 >= box[0]) & (xx + 0.5 < box[2]) & (yy + 0.5 >= box[1]) & (yy + 0.5 < box[3])
        assert np.array_equal(cocomask.decode(rle).astype(bool), want)


def test_hit_max_reads_cost_then_stopped_then_finished():
    assert hit_max({"hit_max_new_tokens": True, "stopped": True}) == (True, "hit_max_new_tokens")
    assert hit_max({"hit_max_new_tokens": False, "stopped": False}) == (False, "hit_max_new_tokens")
    assert hit_max({"stopped": False}) == (True, "stopped")
    assert hit_max({"finished": True}) == (False, "finished")
    assert hit_max({"seconds": 1.0}) == (None, None)


def test_one_box_in_fractions_is_the_same_answer_on_images_of_other_sizes():
    a = answer_key(Prediction("1", text="the red object", objects=[ObjectPred(bbox=[10, 20, 30, 40])]), 100, 200)
    b = answer_key(Prediction("2", text="the red object", objects=[ObjectPred(bbox=[20, 40, 60, 80])]), 200, 400)
    c = answer_key(Prediction("3", text="the red object", objects=[ObjectPred(bbox=[50, 20, 70, 40])]), 100, 200)
    assert a == b != c  # the text is the same in all three: the objects decide
    assert answer_key(Prediction("4", text="  none "), 10, 10) == "none"
    assert answer_key(Prediction("5"), 10, 10) is None


def test_rectangle_counts_decode_to_the_rectangle_and_merge_as_pycocotools_own():
    from padt_eval.scoring.alarm_watch import _rect_counts

    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    for x0, x1, y0, y1 in [(0, 64, 0, 48), (0, 1, 0, 48), (63, 64, 47, 48), (5, 6, 3, 9), (3, 40, 0, 48), (0, 64, 47, 48)]:
        rle = {"size": [h, w], "counts": _rect_counts(x0, x1, y0, y1, w, h)}
        want = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        assert np.array_equal(cocomask.decode(rle).astype(bool), want)
        own = cocomask.encode(np.asfortranarray(want.astype(np.uint8)))
        assert int(cocomask.area(cocomask.merge([rle, own], intersect=True))) == int(want.sum())
