"""Parser speed on long hostile text (the case tests/models/coords/test_fuzz.py only checks
for correctness): each box parser against an anchor in the same run.

The anchor is one regular-expression pass that finds every number in the same text
(`re.findall`), the least any parser has to do. Runs alternate anchor/parser pairs; the
figure is the median ratio parser/anchor with its spread (min–max over the pairs).

    python benchmarks/bench_parsers.py [--pairs 7]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from padt_eval.models.coords import FORMATS, Frame

PIECES = [
    '{"bbox_2d": [1, 2',
    "<box>[[1,2,",
    "<object><patch_index_0001>",
    "<loc_1><loc_2>",
    "[0.1,0.2,",
    "{<1><2>",
    "[[1,2,3",
    "<|box_start|>(1,2),(",
    "<think>",
    "<p>x",
]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=300, help="copies of the hostile pieces (300 ≈ 10 k characters)")
    args = ap.parse_args()
    text = "".join(PIECES) * args.repeat
    frame = Frame(640, 427, 644, 420)
    print(
        f"{len(text)} characters; ratio = parser time / anchor (re.findall of every number); median [min–max] over {args.pairs} pairs"
    )
    for name in sorted(FORMATS):
        fmt = FORMATS[name]

        def parse(fmt=fmt):  # bound now: timed inside this iteration
            fmt.parse(text, frame)
            if fmt.parse_masks is not None:
                fmt.parse_masks(text, frame)

        ratios, secs = [], []
        for _ in range(args.pairs):
            anchor = _time(lambda: _NUMBER.findall(text))
            took = _time(parse)
            ratios.append(took / anchor)
            secs.append(took)
        print(
            f"{name:>14}: {statistics.median(ratios):8.1f}x  [{min(ratios):.1f}–{max(ratios):.1f}]  ({statistics.median(secs) * 1e3:.1f} ms median)"
        )


if __name__ == "__main__":
    main()
