"""Paired bootstrap speed: 10,000 resamples (and 10,000 permutation draws) of 10,000 paired
samples for the four REC metrics and RES cIoU at once, as `padt-eval compare` runs them.

    python benchmarks/bench_compare.py [--n 10000] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from padt_eval.metrics.paired import RatioData, paired_compare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    ia = rng.random(args.n)
    ib = np.clip(ia + rng.normal(0.01, 0.1, args.n), 0, 1)
    union = rng.integers(100, 100_000, args.n).astype(float)

    def metrics(iou: np.ndarray) -> list[RatioData]:
        return [RatioData.mean_of(iou >= t) for t in (0.5, 0.75, 0.9)] + [
            RatioData.mean_of(iou),
            RatioData(np.floor(iou * union), union),
        ]

    t0 = time.perf_counter()
    paired_compare(metrics(ia), metrics(ib), n_resamples=args.resamples, seed=0)
    dt = time.perf_counter() - t0
    print(f"{args.resamples:,} resamples x {args.n:,} samples x 5 metrics: {dt:.2f} s")


if __name__ == "__main__":
    main()
