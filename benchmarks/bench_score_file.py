"""End-to-end time of scoring a REC predictions file: `padt-eval rec -s SPLIT -p FILE`
as a user runs it (a fresh process: interpreter start, imports, index, score, write the
results folder), on a 5,000-line file over a 5,000-sample PaDT-layout split.

Two source trees are timed alternately in pairs, each in its own subprocess on the same
files: `--before` (e.g. an exported copy of main: `git archive main | tar -x -C DIR`) is
the anchor, `--after` the tree under test (default: this checkout). Reported: the median
and the spread (min-max) of each side and of the before/after ratio over the pairs.

    python benchmarks/bench_score_file.py --before /tmp/main_tree [--pairs 7] [--n 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_rec_res import write_files  # noqa: E402 - the same synthetic split and predictions


def _score_once(tree: Path, split: Path, preds: Path, out: Path) -> float:
    """Seconds of one `padt-eval rec` process run from `tree` (cwd and PYTHONPATH, so
    that tree's padt_eval is the one imported)."""
    cmd = [sys.executable, "-m", "padt_eval.cli", "rec", "-s", str(split), "-p", str(preds), "-o", str(out), "--no-report"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{tree}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return seconds


def _spread(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f}  (min {min(xs):.3f}, max {max(xs):.3f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, required=True, help="source tree of the anchor (a copy of main)")
    ap.add_argument("--after", type=Path, default=REPO, help="source tree under test (default: this checkout)")
    ap.add_argument("--n", type=int, default=5000, help="samples in the split and lines in the file")
    ap.add_argument("--pairs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        split, preds = write_files(args.n, root)
        _score_once(args.after, split, preds, root / "warm")  # page cache and .pyc files of both trees
        _score_once(args.before, split, preds, root / "warm_before")
        before, after = [], []
        for k in range(args.pairs):
            sides = [("before", args.before, before), ("after", args.after, after)]
            for name, tree, times in sides if k % 2 == 0 else sides[::-1]:  # alternate which side goes first
                times.append(_score_once(tree, split, preds, root / f"{name}{k}"))
        ratios = [b / a for b, a in zip(before, after)]
        print(f"REC, {args.n:,} lines, end to end (`padt-eval rec -p`, --no-report), {args.pairs} alternating pairs")
        print(f"  before {args.before}: {_spread(before)} s")
        print(f"  after  {args.after}: {_spread(after)} s")
        print(f"  before/after: {_spread(ratios)}")


if __name__ == "__main__":
    main()
