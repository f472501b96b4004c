"""Parser speed on long hostile text (the case tests/models/coords/test_fuzz.py only checks
for correctness).

Default: each box parser against an anchor in the same run. The anchor is one
regular-expression pass that finds every number in the same text (`re.findall`), the
least any parser has to do. Runs alternate anchor/parser pairs; the figure is the median
ratio parser/anchor with its spread (min–max over the pairs).

`--doubling`: is every parser linear in the answer length? For each parser (every
`--format`, the RIC caption cleaner, PaDT's token parser in both modes) and each hostile
input (a tag repeated and never closed, deep nesting, long whitespace ...), the input at
n characters (PaDT: tokens) and at 2n is parsed in alternating pairs; the figure is the
median ratio of CPU time 2n/n with its spread (CPU time of this process, so that other
jobs on a shared machine do not decide it). Linear is about 2, quadratic about 4. The
hostile input with the highest median ratio is reported per parser (`--all`: every one).

    python benchmarks/bench_parsers.py [--pairs 7]
    python benchmarks/bench_parsers.py --doubling [--chars 50000] [--pairs 5] [--all]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable

from padt_eval.core.caption_text import clean_caption
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


# Hostile answers for --doubling, each a function of its length in characters.
_REPEATED = [
    "<|object_ref_start|>", "<|box_start|>", "(1,2),(", "<p>", "<p>x</p>{<1><2><3><4>}", "{<1>", "[", "[[", "[1,2,3,",
    "{", "<ref>", "<box>", "<box>[[1,2,3,4]]", "<object>", "<phrase>", "<patch_index_0001>", "<loc_1>", "<sep>",
    "<answer>", "<think>", "</think>", '"bbox_2d": [', '{"bbox_2d": [1,2,3,4]', '"label": "', "```", "<delim>",
    "[0.1,0.2,0.3,0.4]", "[1,2,3,4] a ", "x[[1,2,3,4]]", "<loc_1><loc_2><loc_3><loc_4>a", "{<1><2><3><4>}", " ", "the ",
]  # fmt: skip


def _hostile_texts() -> dict[str, Callable[[int], str]]:
    def repeat(piece: str) -> Callable[[int], str]:
        return lambda n: piece * max(1, n // len(piece))

    out = {repr(p): repeat(p) for p in _REPEATED}
    out["'[' * k + ']' * k"] = lambda n: "[" * (n // 2) + "]" * (n // 2)
    out["'[1,2,3,4' * k + ']' * k"] = lambda n: "[1,2,3,4" * (n // 9) + "]" * (n // 9)
    out["'{' + '\"bbox_2d\": [1,2,3,4], ' * k + '}'"] = lambda n: "{" + '"bbox_2d": [1,2,3,4], ' * (n // 23) + "}"
    out["'[' + ' ' * n + 'x'"] = lambda n: "[" + " " * n + "x"
    out["'{' + ' ' * n + 'x'"] = lambda n: "{" + " " * n + "x"
    return out


def _padt_tokens() -> dict[str, Callable[[int], tuple[list[int], list[str]]]]:
    """Token streams for PaDT's parser: (ids, strings); ids >= 1000 are VRTs."""

    def stream(pattern: list[tuple[int, str]]) -> Callable[[int], tuple[list[int], list[str]]]:
        def make(n: int) -> tuple[list[int], list[str]]:
            toks = (pattern * (n // len(pattern) + 1))[:n]
            return [t for t, _ in toks], [s for _, s in toks]

        return make

    return {
        "quote tokens": stream([(5, '"')]),
        "one VRT run": stream([(1001, "<|VRT_1|>")]),
        "an open label": stream([(5, '"'), *[(6, "word ")] * 9]),
        "'<' tokens": stream([(7, "<")]),
        "label, run": stream([(5, '"a"'), (1001, "<|VRT_1|>"), (8, ",")]),
    }


def _parsers() -> dict[str, Callable[[str], object]]:
    frame = Frame(640, 427, 644, 420)
    out: dict[str, Callable[[str], object]] = {}
    for name, fmt in sorted(FORMATS.items()):
        if fmt.parse_masks is None:
            out[name] = lambda t, f=fmt: f.parse(t, frame)
        else:
            out[name] = lambda t, f=fmt: (f.parse(t, frame), f.parse_masks(t, frame))
    out["ric caption (clean_caption)"] = clean_caption
    return out


def _cpu_time(fn) -> float:
    """CPU seconds of this process: on a machine shared with other jobs, wall time measures
    their bursts, not the parser (parsing is single-threaded and CPU-bound)."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _doubling_ratio(parse: Callable, make: Callable[[int], object], n: int, pairs: int) -> tuple[list[float], float]:
    small, large = make(n), make(2 * n)
    # A parse that takes microseconds is timed over enough repetitions to last ~50 ms, the
    # same count at both sizes, so that timer and cache noise do not decide the ratio.
    reps = max(1, min(1000, int(0.05 / max(_cpu_time(lambda: parse(small)), 1e-7))))

    def timed(text) -> float:
        return _cpu_time(lambda: [parse(text) for _ in range(reps)]) / reps

    ratios, secs = [], []
    for _ in range(pairs):
        t_small = timed(small)
        t_large = timed(large)
        ratios.append(t_large / max(t_small, 1e-9))
        secs.append(t_large)
    return ratios, statistics.median(secs)


def doubling(chars: int, pairs: int, show_all: bool, only: set[str] | None = None) -> None:
    from padt_eval.models.padt.parsing import parse_completion

    print(f"CPU time(2n) / CPU time(n), n = {chars} characters (PaDT: {chars // 4} tokens); median [min–max] over {pairs} pairs")
    print(
        "linear ≈ 2, quadratic ≈ 4; per parser the hostile input with the highest median ratio"
        + (" (and all)" if show_all else "")
    )
    jobs: list[tuple[str, Callable, dict[str, Callable], int]] = [
        (name, parse, _hostile_texts(), chars) for name, parse in _parsers().items()
    ]
    for compat in (False, True):

        def padt(tokens, compat=compat):
            ids, strings = tokens
            return parse_completion(
                ids, strings, vocab_size=1000, num_vrts=10**9, eos_ids=[0], eos_token="<|im_end|>", finished=False, compat=compat
            )

        jobs.append((f"padt ({'compat' if compat else 'default'})", padt, _padt_tokens(), chars // 4))
    for name, parse, inputs, n in jobs:
        if only and name not in only:
            continue
        rows = []
        for label, make in inputs.items():
            ratios, secs = _doubling_ratio(parse, make, n, pairs)
            rows.append((statistics.median(ratios), min(ratios), max(ratios), secs, label))
        rows.sort(reverse=True)
        for med, lo, hi, secs, label in rows if show_all else rows[:1]:
            print(f"{name:>28}: {med:5.2f} [{lo:.2f}–{hi:.2f}]  {secs * 1e3:8.1f} ms at 2n  worst input: {label}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=300, help="copies of the hostile pieces (300 ≈ 10 k characters)")
    ap.add_argument("--doubling", action="store_true", help="time ratio per doubling of hostile inputs, every parser")
    ap.add_argument("--chars", type=int, default=50_000, help="--doubling: n, the smaller input's length")
    ap.add_argument("--all", action="store_true", help="--doubling: every hostile input, not only each parser's worst")
    ap.add_argument("--only", default="", help="--doubling: these parsers only (comma-separated names as printed)")
    args = ap.parse_args()
    if args.doubling:
        doubling(args.chars, args.pairs, args.all, {o.strip() for o in args.only.split(",") if o.strip()} or None)
        return
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
