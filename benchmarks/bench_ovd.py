"""OVD scoring speed: padt-eval's DetectionMetric against plain pycocotools COCOeval.

A COCO-like synthetic set (default 5,000 images, ~36,000 GT boxes with 3 % crowd, 100
detections an image, 80 categories) is scored twice in the same process:

* anchor: pycocotools `COCO` + `loadRes` + `COCOeval(bbox)` evaluate/accumulate/summarize,
  as PaDT's `eval_coco.py` does;
* ours: `DetectionMetric.update` for every (Sample, Prediction) pair, then `compute()`
  (box statistics on numpy columns, `metrics/coco_boxes.py`).

Both timings include building their inputs from in-memory data, not file reading. The 12
statistics must be identical. Usage: python benchmarks/bench_ovd.py [--small]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from padt_eval.metrics.detection import STAT_KEYS, DetectionMetric  # noqa: E402
from tests.coco_synth import random_coco  # noqa: E402
from tests.metrics.test_detection import to_pairs  # noqa: E402


def anchor(gt: dict, dets: list[dict]) -> tuple[list[float], float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats.tolist(), time.perf_counter() - t


def ours(pairs, categories) -> tuple[dict, float]:
    t = time.perf_counter()
    m = DetectionMetric(categories)
    for s, p in pairs:
        m.update(s, p)
    out = m.compute()
    return out, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="500 images instead of 5,000")
    ap.add_argument("--images", type=int, default=None)
    args = ap.parse_args()
    n = args.images or (500 if args.small else 5000)
    t = time.perf_counter()
    gt, dets = random_coco(n, seed=0, n_categories=80, gt_per_image=7.2, dets_per_image=100, crowd_p=0.03)
    pairs = to_pairs(gt, dets)
    cats = [(c["id"], c["name"]) for c in gt["categories"]]
    print(
        f"data: {n} images, {len(gt['annotations'])} GT boxes ({sum(a['iscrowd'] for a in gt['annotations'])} crowd), "
        f"{len(dets)} detections, {len(cats)} categories (built in {time.perf_counter() - t:.1f} s)"
    )
    got, t_ours = ours(pairs, cats)
    want, t_anchor = anchor(gt, dets)
    diff = max(abs((got[k] if got[k] is not None else -1.0) - v) for k, v in zip(STAT_KEYS, want))
    print(f"pycocotools COCOeval : {t_anchor:8.2f} s")
    print(f"padt-eval OVD metric : {t_ours:8.2f} s")
    print(f"speed-up             : {t_anchor / t_ours:8.2f}x (target >= 5x)")
    print(f"max |diff| over the 12 statistics: {diff:.3g} ({'identical' if diff == 0 else 'DIFFERENT'})")
    print("stats: " + ", ".join(f"{k}={v:.4f}" for k, v in zip(STAT_KEYS, want)))
    return 0 if diff <= 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
