"""Line numbers of unknown and duplicate ids in a predictions file: recorded in the one
indexing pass (now) against re-reading the file up to each problem line (before, the
anchor, re-created here as a subclass). Alternating pairs in one run; median and spread
of the before/now ratio.

    python benchmarks/bench_unknown_ids.py [--sizes 1000 8000] [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from padt_eval.scoring.predictions_file import PredictionsFile


class RereadingPredictionsFile(PredictionsFile):
    """The old lookup: count newlines from the start of the file for every problem."""

    def _line_of(self, offset: int) -> int:
        with open(self.path, "rb") as f:
            return f.read(offset).count(b"\n") + 1


def _write(path: Path, n_unknown: int) -> None:
    obj = {"objects": [{"bbox": [1.0, 2.0, 30.5, 40.25], "score": 0.9, "label": "a cat on the left"}]}
    with open(path, "w") as f:
        for i in range(n_unknown):
            f.write(json.dumps({"sample_id": f"ghost-{i}", **obj}) + "\n")


def _time(cls, path: Path) -> float:
    t0 = time.perf_counter()
    pf = cls(path)
    pf.check_ids(set())  # every id is unknown: one line number looked up per line
    assert pf.problem_counts["unknown_id"] > 0
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 8000])
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"unknown_{n}.jsonl"
            _write(path, n)
            ratios, before, now = [], [], []
            for _ in range(args.pairs):
                b = _time(RereadingPredictionsFile, path)
                a = _time(PredictionsFile, path)
                before.append(b)
                now.append(a)
                ratios.append(b / a)
            print(
                f"{n:>6,} unknown lines: before {statistics.median(before):.3f} s, now {statistics.median(now):.4f} s; "
                f"before/now median {statistics.median(ratios):.1f}x (min {min(ratios):.1f}, max {max(ratios):.1f}, {args.pairs} pairs)"
            )


if __name__ == "__main__":
    main()
