"""scoring/alarm_watch.py's pieces: the random box as a mask, the hit-max flag, the answer key."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as cocomask

from padt_eval.core.types import ObjectPred, Prediction, Task
from padt_eval.metrics.chance import random_boxes
from padt_eval.scoring.alarm_watch import AlarmWatch, _box_rles, answer_key, hit_max


def test_a_box_mask_is_the_pixels_whose_centres_are_inside_the_box():
    wh = np.array([[37, 23]] * 150 + [[5, 40]] * 50, dtype=float)
    boxes = random_boxes(wh, seed=1)
    boxes[0], boxes[1], boxes[2] = [0, 0, 37, 23], [3, 3, 3.2, 9], [-5, -5, 100, 100]
    boxes[3], boxes[4], boxes[5] = [3, 3, 4, 9], [3, 3, 5, 3.4], [36, 22, 37, 23]  # one column; empty; the last pixel
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


def _codes(keys: list, wh: list[tuple[int, int]]) -> list[int]:
    """The watch's answer codes of these raw keys (one a sample) on images of these sizes."""
    watch = AlarmWatch(Task.REC, "standard", metric=None)  # type: ignore[arg-type]
    watch.n = len(keys)
    for row, key in enumerate(keys):
        if type(key) is list:
            watch.box_rows.append(row)
            watch.boxes.extend(key)
        elif key is not None:
            watch.other[row] = key
    codes, _ = watch._answer_codes(np.asarray(wh, dtype=float))
    return codes.tolist()


def test_one_box_in_hundredths_is_the_same_answer_on_images_of_other_sizes():
    keys = [
        answer_key(Prediction("1", text="the red object", objects=[ObjectPred(bbox=[10, 20, 30, 40])])),
        answer_key(Prediction("2", text="the red object", objects=[ObjectPred(bbox=[20, 40, 60, 80])])),
        answer_key(Prediction("3", text="the red object", objects=[ObjectPred(bbox=[50, 20, 70, 40])])),
        answer_key(Prediction("4", text="  none ")),
        answer_key(Prediction("5")),
        # the same two boxes in two-object answers: the same answer too
        answer_key(Prediction("6", objects=[ObjectPred(bbox=[10, 20, 30, 40]), ObjectPred(bbox=[0, 0, 1, 1])])),
        answer_key(Prediction("7", objects=[ObjectPred(bbox=[20, 40, 60, 80]), ObjectPred(bbox=[0, 0, 2, 2])])),
        # hundredths rounded half up; a box just past the edge (-0.3 -> 0, as int() does)
        answer_key(Prediction("8", objects=[ObjectPred(bbox=[-0.3, 20.2, 30.4, 40.9])])),
        answer_key(Prediction("9", objects=[ObjectPred(bbox=[0.4, 19.9, 29.6, 40])])),
    ]
    assert keys[3] == "none" and keys[4] is None
    wh = [(100, 200), (200, 400), (100, 200), (10, 10), (10, 10), (100, 200), (200, 400), (100, 200), (100, 200)]
    codes = _codes(keys, wh)
    assert codes[0] == codes[1] != codes[2]  # the text is the same in all three: the objects decide
    assert codes[4] == -1 and codes[3] not in codes[:3]
    assert codes[5] == codes[6] not in codes[:5]
    # against an independent computation: int(v * 100 / size + 0.5) per coordinate
    own = [
        tuple(int(v * 100 / s + 0.5) for v, s in zip(keys[i], (w, h, w, h))) for i, (w, h) in [(0, wh[0]), (7, wh[7]), (8, wh[8])]
    ]
    assert own[1] == own[2] != own[0]
    assert codes[7] == codes[8] != codes[0]


def test_many_values_encode_as_one_at_a_time():
    from padt_eval.scoring.alarm_watch import _encode, _encode_many

    values = [0, 1, 15, 16, 31, 32, -1, -16, -17, 1023, -1024, 2**31, -(2**40), 2**62, -(2**63)]
    values += np.random.default_rng(3).integers(-(10**7), 10**7, 300).tolist()
    assert _encode_many(np.asarray(values, dtype=np.int64)) == [_encode(v) for v in values]


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


def test_first_max_of_each_group_is_the_one_max_picks():
    from padt_eval.scoring.alarm_watch import _first_max

    rng = np.random.default_rng(4)
    counts = rng.integers(0, 5, 300)
    values = rng.integers(-3, 4, int(counts.sum())).astype(float)  # many ties, negatives, empty groups
    which, first = _first_max(values, counts)
    want, pos = {}, 0
    for k, c in enumerate(counts.tolist()):
        if c:
            want[k] = max(range(pos, pos + c), key=lambda i: values[i])
        pos += c
    assert dict(zip(which.tolist(), first.tolist())) == want
