"""What the REC/RES error breakdown's instance lookups cost in scoring time.

Anchor: scoring the PaDT JSONL split when no instances file is found (the categories are
still assigned, from the target IoU alone). Measured: the same scoring with COCO's
instances file present, so every miss is also compared with each other object of its
image (box IoU for REC, exact RLE mask IoU for RES). Same files, same process, the two
runs alternate; the ratio is reported as median and spread over the pairs. The first run
with instances also builds the instances cache, timed separately.

The predictions are the demo's designed misses (`demo/errors.py`): about 70 % of the
samples are misses, so nearly every sample pays for the lookups (a worst case; a good
model's misses are fewer).

OVD: the anchor is DetectionMetric's update + compute (the 12 COCO statistics); measured,
the same with the TIDE breakdown switched on (per-image error types in `update`, the six
dAPs in `errors()`), on bench_ovd.py's COCO-like data (100 detections an image, 3 % crowd).
It also prints how far the breakdown's unfixed AP50 is from COCOeval's AP50 there.

    python benchmarks/bench_errors.py            # 600 images (~2,600 samples), 5 pairs; OVD 1,000 images, 3 pairs
    python benchmarks/bench_errors.py --small    # 100 images, 3 pairs; OVD 200 images
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bench_ovd(n_images: int, pairs: int) -> None:
    from padt_eval.metrics.detection import DetectionMetric
    from padt_eval.metrics.errors import ErrorThresholds
    from tests.coco_synth import random_coco
    from tests.metrics.test_detection import to_pairs

    gt, dets = random_coco(n_images, seed=0, n_categories=80, gt_per_image=7.2, dets_per_image=100, crowd_p=0.03)
    data = to_pairs(gt, dets)
    cats = [(c["id"], c["name"]) for c in gt["categories"]]

    def run(tide: bool):
        t = time.perf_counter()
        m = DetectionMetric(cats, tide_thresholds=ErrorThresholds() if tide else None)
        for s, p in data:
            m.update(s, p)
        out = m.compute()
        errors = m.errors()
        return time.perf_counter() - t, out, errors

    ratios, anchors, measured = [], [], []
    errors = out = None
    for _ in range(pairs):
        a, _, _ = run(False)
        b, out, errors = run(True)
        anchors.append(a)
        measured.append(b)
        ratios.append(b / a)
    assert errors is not None and out is not None
    print(
        f"OVD ({n_images} images, {len(dets):,} detections): with TIDE / without = {statistics.median(ratios):.2f}x "
        f"(spread {min(ratios):.2f}-{max(ratios):.2f}); medians {statistics.median(measured):.2f} s vs {statistics.median(anchors):.2f} s"
    )
    print(
        f"  unfixed AP50 {errors['ap50']:.12f} vs COCOeval AP50 {out['ap50']:.12f} (|diff| {abs(errors['ap50'] - out['ap50']):.2g})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    n_images, pairs = (100, 3) if args.small else (600, 5)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PADT_EVAL_CACHE"] = str(Path(tmp) / "cache")
        from padt_eval import api
        from padt_eval.core.types import Task
        from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
        from padt_eval.demo.errors import make_error_predictions
        from padt_eval.demo.synthetic import make_world, write_coco_instances, write_images, write_padt_jsonl
        from padt_eval.options import OutputOptions, PredictionsOptions

        root = Path(tmp)
        world = make_world(n_images, seed=0)
        images = root / "coco" / "train2014"
        write_images(world, images)
        split = root / "split.json"
        n = write_padt_jsonl(world, split)
        instances = root / "coco" / "annotations" / "instances_train2014.json"
        write_coco_instances(world, instances)
        preds = root / "preds.jsonl"
        make_error_predictions(world, preds, seed=0)

        def score(task: Task, with_instances: bool, k: int) -> float:
            where = instances if with_instances else root / "absent.json"
            reader = PadtRefcocoJsonlReader(split, images, task, instances_path=where)
            t = time.perf_counter()
            api.score(
                task, "bench", PredictionsOptions(preds), reader=reader, output=OutputOptions(root / f"out{k}", report=False)
            )
            return time.perf_counter() - t

        print(f"{n:,} samples on {n_images} synthetic images, designed misses; {pairs} alternating pairs")
        for task in (Task.REC, Task.RES):
            first = score(task, True, 0)  # builds the instances cache (REC) or reuses it (RES)
            ratios, anchors, measured = [], [], []
            for _ in range(pairs):
                a = score(task, False, 1)
                b = score(task, True, 2)
                anchors.append(a)
                measured.append(b)
                ratios.append(b / a)
            print(
                f"{task.value.upper()}: with instances / without = {statistics.median(ratios):.2f}x "
                f"(spread {min(ratios):.2f}-{max(ratios):.2f}); medians {statistics.median(measured):.2f} s vs "
                f"{statistics.median(anchors):.2f} s; first run with instances {first:.2f} s"
            )
    bench_ovd(200 if args.small else 1000, 3)


if __name__ == "__main__":
    main()
