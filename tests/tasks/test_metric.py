"""tasks/metric.py: which metric scores each (task, protocol), and which answer it scores.

The expected metric of every pair is written out from docs/protocols.md's rules: standard
for every task; padt-release for REC, RES and OVD only (the release has no RIC scorer, and
gRefCOCO was not in it); official for GREC and GRES. A split of a benchmark with its own scorer
(`SplitSpec.scorer`: Ref-L4's REC, ReasonSeg's RES) is scored by that scorer under standard and
official and refuses padt-release (tests/data/test_ref_l4.py, tests/data/test_reasonseg.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from padt_eval.core import rle
from padt_eval.core.errors import UsageError
from padt_eval.core.types import ObjectPred, Task
from padt_eval.data.split import SplitInfo
from padt_eval.metrics.detection import DetectionMetric
from padt_eval.metrics.grec import GrecMetric
from padt_eval.metrics.gres import GresMetric
from padt_eval.metrics.reasonseg import ReasonSegMetric
from padt_eval.metrics.rec import RecMetric
from padt_eval.metrics.release_protocol import ReleaseDetectionMetric, ReleaseMetric
from padt_eval.metrics.res import ResMetric
from padt_eval.metrics.ric import RicMetric
from padt_eval.tasks.metric import build_metric
from padt_eval.tasks.registry import PROTOCOLS, release_gt
from tests.helpers import prediction, sample

BUILT = {
    (Task.REC, "standard"): RecMetric,
    (Task.RES, "standard"): ResMetric,
    (Task.OVD, "standard"): DetectionMetric,
    (Task.RIC, "standard"): RicMetric,
    (Task.GREC, "standard"): GrecMetric,
    (Task.GRES, "standard"): GresMetric,
    (Task.REC, "padt-release"): ReleaseMetric,
    (Task.RES, "padt-release"): ReleaseMetric,
    (Task.OVD, "padt-release"): ReleaseDetectionMetric,
    (Task.GREC, "official"): GrecMetric,
    (Task.GRES, "official"): GresMetric,
}
REFUSED = {
    (Task.RIC, "padt-release"): r"padt-release is not available for ric \(the PaDT release has no RIC scorer\)",
    (Task.GREC, "padt-release"): r"padt-release is not available for grec; choose standard or official",
    (Task.GRES, "padt-release"): r"padt-release is not available for gres; choose standard or official",
    **{
        (
            t,
            "official",
        ): rf"official is for grec, gres and the splits of a benchmark with its own scorer \(ref_l4_\*, reasonseg_\*\); {t.value} on this split has none"
        for t in (Task.REC, Task.RES, Task.OVD, Task.RIC)
    },
}


@pytest.mark.parametrize("task", list(Task), ids=lambda t: t.value)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_task_and_protocol_gets_its_metric_or_a_reason(task, protocol):
    assert set(BUILT) | set(REFUSED) == {(t, p) for t in Task for p in PROTOCOLS}  # every pair decided once
    if (task, protocol) in REFUSED:
        with pytest.raises(UsageError, match=REFUSED[task, protocol]):
            build_metric(task, protocol)
        return
    metric = build_metric(task, protocol)
    assert type(metric) is BUILT[task, protocol]
    if task in (Task.GREC, Task.GRES):
        assert metric.protocol_name == protocol
    if type(metric) is ReleaseMetric:
        assert metric.task == task


@pytest.mark.parametrize(
    ("split", "protocol", "built"),
    [
        ("reasonseg_val", "standard", ReasonSegMetric),
        ("reasonseg_test_long", "official", ReasonSegMetric),
        ("refcoco_val", "standard", ResMetric),
    ],
)
def test_a_benchmark_split_is_scored_by_its_own_scorer_before_it_is_open(split, protocol, built):
    # the split table's `scorer` decides, by the split's name: the command refuses a protocol
    # before any model time is spent (api.run_model, scoring/score.py)
    metric = build_metric(Task.RES, protocol, split_name=split)
    assert type(metric) is built
    if built is ReasonSegMetric:
        assert metric.official == (protocol == "official")


def test_res_official_on_a_split_without_a_benchmark_scorer_names_the_splits_that_have_one():
    with pytest.raises(UsageError, match=r"benchmark with its own scorer \(ref_l4_\*, reasonseg_\*\); res on this split"):
        build_metric(Task.RES, "official", split_name="refcoco_val")
    with pytest.raises(UsageError, match=r"padt-release is not available on a reasonseg split; choose one of official, standard"):
        build_metric(Task.RES, "padt-release", split_name="reasonseg_val")


def test_an_unknown_protocol_suggests_the_near_one():
    with pytest.raises(UsageError, match=r"unknown protocol 'standrad' \(did you mean 'standard'\?\); choose one of standard"):
        build_metric(Task.REC, "standrad")


def test_ovd_scores_against_the_splits_category_table():
    cats = [(3, "car"), (18, "dog")]
    info = SplitInfo("mine", "coco", [], "/images", Task.OVD, categories=cats)
    for protocol in ("standard", "padt-release"):
        assert build_metric(Task.OVD, protocol, SimpleNamespace(info=info)).categories == cats
    assert len(build_metric(Task.OVD).categories) == 80  # no split: COCO's 80


def test_only_ovd_under_the_release_protocol_swaps_the_ground_truth():
    assert release_gt(Task.OVD, "padt-release", "official") == "padt-filtered"
    assert release_gt(Task.OVD, "standard", "official") == "official"
    assert release_gt(Task.REC, "padt-release", "official") == "official"


def test_every_call_builds_a_fresh_metric():
    gt = sample("0", 100, 100, [10, 10, 50, 50], None)
    first, second = build_metric(Task.REC), build_metric(Task.REC)
    first.update(gt, prediction("0", [ObjectPred(bbox=[10, 10, 50, 50])]))
    second.update(gt, prediction("0", [ObjectPred(bbox=[60, 60, 90, 90])]))
    assert first.compute()["acc@0.5"] == 1.0 and second.compute()["acc@0.5"] == 0.0


def _disk(cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[0:40, 0:40]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_the_answer_each_task_and_protocol_scores():
    """REC/RES standard: the one answer rule (the highest score when every object is scored,
    else the first); padt-release: the best of every object. IoUs are worked out here."""
    target, near, far = _disk(12, 12, 8), _disk(14, 13, 8), _disk(30, 30, 6)
    box_gt, box_wrong = [4.0, 4.0, 21.0, 21.0], [24.0, 24.0, 37.0, 37.0]  # disjoint: IoU 0
    rec_gt = sample("0", 40, 40, box_gt, None)
    res_gt = sample("0", 40, 40, box_gt, target, task=Task.RES)
    wrong_first = [ObjectPred(bbox=box_wrong, mask=rle.encode(far)), ObjectPred(bbox=box_gt, mask=rle.encode(near))]
    scored = [ObjectPred(bbox=o.bbox, mask=o.mask, score=s) for o, s in zip(wrong_first, (0.2, 0.7))]
    assert _iou(far, target) == 0.0 and 0.5 < _iou(near, target) < 1.0

    def iou(task, protocol, objects):
        metric = build_metric(task, protocol)
        metric.update(rec_gt if task == Task.REC else res_gt, prediction("0", objects))
        values = metric.compute()
        return values["mean_iou"] if task == Task.REC else values["ciou"]

    assert iou(Task.REC, "standard", wrong_first) == 0.0  # unscored: the first
    assert iou(Task.REC, "standard", scored) == 1.0  # all scored: the highest
    assert iou(Task.RES, "standard", wrong_first) == 0.0
    assert iou(Task.RES, "standard", scored) == pytest.approx(_iou(near, target))
    assert iou(Task.REC, "padt-release", wrong_first) == 1.0  # best of N
    assert iou(Task.RES, "padt-release", wrong_first) == pytest.approx(_iou(near, target))
