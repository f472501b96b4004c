"""Each reason is named from the two records alone; boxes built by hand with known offsets."""

from __future__ import annotations

from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.imports.agreement import name_reason
from padt_eval.imports.rows import NORMALISED, PIXELS, ToolkitView

GT = [100.0, 50.0, 160.0, 110.0]
S = Sample("0", Task.REC, ImageRef("x.png", 400, 200), expression="x", objects=[GroundTruthObject(GT)])


def _view(box, gt=GT, units=PIXELS, hit=False):
    return ToolkitView(hit=hit, box=box, gt_box=gt, units=units, frame="its frame")


def test_ground_truth_comes_first():
    moved = [GT[0] + 30, GT[1], GT[2] + 30, GT[3]]
    assert name_reason(S, _view(GT, gt=moved), GT, [GT])[0] == "ground_truth"
    # half a pixel is not another ground truth
    assert name_reason(S, _view(GT, gt=[v + 0.5 for v in GT]), GT, [GT])[0] == "rounding"


def test_ground_truth_in_normalised_units_is_compared_in_pixels():
    norm = [GT[0] / 400, GT[1] / 200, GT[2] / 400, GT[3] / 200]
    assert name_reason(S, _view(norm, gt=norm, units=NORMALISED), [GT[0] + 0.4, *GT[1:]], [GT])[0] == "rounding"


def test_best_of_n():
    assert name_reason(S, _view(GT, hit=True), None, None, best_of_n=True)[0] == "best_of_n"


def test_parse_missed_either_way():
    assert name_reason(S, _view(None), GT, [GT])[0] == "toolkit_parse_missed"
    assert name_reason(S, _view(GT, hit=True), None, [])[0] == "padt_eval_parse_missed"


def test_best_box():
    other = [300.0, 150.0, 320.0, 170.0]
    reason, detail = name_reason(S, _view(GT, hit=True), other, [other, GT])
    assert reason == "best_box" and "320.0" in detail


def test_coordinate_frame_names_the_scale():
    ours = [v / 1000 * 400 if i % 2 == 0 else v / 1000 * 200 for i, v in enumerate([250, 250, 400, 550])]
    theirs = [ours[0] * 2.5, ours[1] * 0.8, ours[2] * 2.5, ours[3] * 0.8]
    reason, detail = name_reason(S, _view(theirs), ours, [ours])
    assert reason == "coordinate_frame" and "×2.5 in x" in detail and "×0.8 in y" in detail


def test_a_shift_is_not_a_frame():
    ours = [120.0, 60.0, 150.0, 100.0]
    theirs = [v + 40 for v in ours]
    assert name_reason(S, _view(theirs), ours, [ours])[0] == "unexplained"
