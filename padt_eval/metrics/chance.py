"""Chance level: is a REC/RES score significantly above a trivial answer on the same samples?

A model that learned nothing still scores something: a box over the whole image hits
every target that fills half of it, the box of the image's largest object hits every
target that *is* that object. LISA users scored random weights at gIoU 0.06 and took it
for a result. So every REC/RES run is tested, sample by sample, against three answers a
model needs no skill for:

* `whole_image`: the box (RES: the mask) covering the whole image;
* `largest_instance`: the box (RES: the mask) of the image's largest annotated instance,
  from the split's instances file; samples whose image has no instances are left out of
  this test (and the test says how many were left);
* `random_box`: a uniform random box per sample (two sorted uniform x's in [0, W], two
  sorted uniform y's in [0, H]), seeded, so a rerun draws the same boxes; RES scores it
  as a box-shaped mask.

The test is paired (same samples, same order): REC's Acc@0.5 with McNemar's exact test on
the discordant pairs (`paired.mcnemar_exact`); RES's mIoU with the normal 95 % interval
of the mean per-sample difference (`paired.paired_mean_interval`). The run is "above" a
trivial answer when it is ahead and the difference is significant at 5 % (McNemar
p < 0.05; the interval's lower end > 0). Everything here is numpy over arrays of the
split's boxes: no per-sample Python. RES tests at most SUBSET_SAMPLES samples (a seeded
random subset of a larger split), since its trivial masks are exact pixel counts; so does
REC's largest-instance test, which looks up each image's instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from padt_eval.metrics.paired import mcnemar_exact, paired_mean_interval

TRIVIAL_ANSWERS = ("whole_image", "largest_instance", "random_box")
ALPHA = 0.05
#: Fewer paired samples than this: no test (an alarm needs evidence, not noise).
MIN_SAMPLES = 20
RANDOM_SEED = 0
#: RES's trivial masks cost a pycocotools merge a sample, REC's largest instance a lookup an
#: image: a split larger than this is tested on a seeded random subset of this many
#: samples (the run's IoUs or hits on the same subset), so the test costs the same at any
#: size (~0.1 s). At 2,000 samples the 95 % interval of a mean IoU difference is about
#: ±0.015 wide (a per-sample difference's spread ~0.35), finer than any distance from
#: chance that would make a result worth reading.
SUBSET_SAMPLES = 2_000


def subset(n: int, seed: int = RANDOM_SEED) -> np.ndarray:
    """The samples RES's chance test (and REC's largest-instance test) uses: all of them
    up to SUBSET_SAMPLES, else a seeded random subset of that size, in split order."""
    if n <= SUBSET_SAMPLES:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, SUBSET_SAMPLES, replace=False))


def row_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of a[i] with b[i] for (n, 4) xyxy arrays, by `core.boxes.box_iou`'s rule:
    continuous, a reversed box is empty, an empty union scores 0."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih

    def area(x: np.ndarray) -> np.ndarray:
        return np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)

    union = area(a) + area(b) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def whole_image_boxes(wh: np.ndarray) -> np.ndarray:
    """[0, 0, W, H] per row of an (n, 2) array of image sizes."""
    out = np.zeros((len(wh), 4), dtype=np.float64)
    out[:, 2:] = wh
    return out


def random_boxes(wh: np.ndarray, seed: int = RANDOM_SEED) -> np.ndarray:
    """A uniform random box inside each image: sorted pairs of uniform x's and y's."""
    rng = np.random.default_rng(seed)
    u = rng.random((len(wh), 4))
    xs = np.sort(u[:, :2], axis=1) * wh[:, :1]
    ys = np.sort(u[:, 2:], axis=1) * wh[:, 1:2]
    return np.column_stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]])


@dataclass
class ChanceTest:
    """One run against one trivial answer on `n` paired samples."""

    answer: str
    metric: str
    run: float
    trivial: float
    n: int
    above: bool  # ahead and significant at ALPHA
    test: str
    p: float | None = None
    ci95: tuple[float, float] | None = None
    left_out: int = 0  # samples without this trivial answer (largest_instance: no instances)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "answer": self.answer,
            "metric": self.metric,
            "run": self.run,
            "trivial": self.trivial,
            "n": self.n,
            "above": self.above,
            "test": self.test,
        }
        if self.p is not None:
            out["p"] = self.p
        if self.ci95 is not None:
            out["ci95_of_difference"] = list(self.ci95)
        if self.left_out:
            out["left_out"] = self.left_out
        if self.note:
            out["note"] = self.note
        return out


def against_hits(answer: str, run_hits: np.ndarray, trivial_hits: np.ndarray, left_out: int = 0) -> ChanceTest | None:
    """REC: Acc@0.5 of the run against the trivial answer's, McNemar's exact test."""
    n = len(run_hits)
    if n < MIN_SAMPLES:
        return None
    p, trivial_only, run_only = mcnemar_exact(trivial_hits, run_hits)
    above = run_only > trivial_only and p < ALPHA
    return ChanceTest(
        answer,
        "acc@0.5",
        float(np.mean(run_hits)),
        float(np.mean(trivial_hits)),
        n,
        above,
        "McNemar exact (two-sided), run ahead and p < 0.05",
        p=p,
        left_out=left_out,
    )


def against_ious(answer: str, run_iou: np.ndarray, trivial_iou: np.ndarray, left_out: int = 0) -> ChanceTest | None:
    """RES: mIoU of the run against the trivial answer's, paired normal 95 % interval."""
    n = len(run_iou)
    if n < MIN_SAMPLES:
        return None
    diff, ci = paired_mean_interval(trivial_iou, run_iou)
    return ChanceTest(
        answer,
        "miou",
        float(np.mean(run_iou)),
        float(np.mean(trivial_iou)),
        n,
        bool(ci[0] > 0),
        "95 % normal interval of the mean per-sample IoU difference; its lower end > 0",
        ci95=ci,
        left_out=left_out,
    )


def rec_tests(
    run_hits: np.ndarray,
    gt: np.ndarray,
    wh: np.ndarray,
    largest: np.ndarray,
    seed: int = RANDOM_SEED,
    largest_rows: np.ndarray | None = None,
) -> list[ChanceTest]:
    """REC against the three trivial boxes. `largest`: the largest instance's box of the
    samples `largest_rows` (default: all), NaN rows where the image's instances are
    unknown (those samples sit out that test only)."""
    rows = np.arange(len(run_hits)) if largest_rows is None else np.asarray(largest_rows)
    known = ~np.isnan(largest).any(axis=1)
    sel = rows[known]
    tests = [
        against_hits("whole_image", run_hits, row_box_iou(whole_image_boxes(wh), gt) >= 0.5),
        against_hits("largest_instance", run_hits[sel], row_box_iou(largest[known], gt[sel]) >= 0.5, int((~known).sum())),
        against_hits("random_box", run_hits, row_box_iou(random_boxes(wh, seed), gt) >= 0.5),
    ]
    return [t for t in tests if t is not None]


def res_tests(run_iou: np.ndarray, trivial_ious: dict[str, np.ndarray]) -> list[ChanceTest]:
    """RES against the trivial masks' per-sample IoUs (computed on RLE by the caller:
    scoring/alarm_watch.py); NaN where a trivial answer is unknown for a sample."""
    tests = []
    for answer in TRIVIAL_ANSWERS:
        if answer not in trivial_ious:
            continue
        triv = trivial_ious[answer]
        known = ~np.isnan(triv)
        tests.append(against_ious(answer, run_iou[known], triv[known], int((~known).sum())))
    return [t for t in tests if t is not None]
