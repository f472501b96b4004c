"""Length-aware order against the order by image size: padding cut and samples/s.

The anchor is the runner's order before length-aware scheduling (`--no-length-order`:
image pixels, then id); the other side sorts by estimated prompt tokens first
(runner/length_order.py). Same model, same samples, same batch size, one CPU rank, run
through `api.run_model` as a user's run is.

Data: the demo's synthetic images (sizes 160..320 x 128..240) with referring expressions
whose word counts follow the RefCOCO family: half RefCOCO/RefCOCO+-like (1 + Poisson(2.6)
words, mean 3.6: Yu et al. 2016, "Modeling Context in Referring Expressions", table 1,
3.61 and 3.53 words), half RefCOCOg-like (log-normal, median 7.7, sigma 0.42: mean 8.4,
Mao et al. 2016, "Generation and Comprehension of Unambiguous Object Descriptions", 8.43
words), two expressions per object.

Reported per model (the tiny random Qwen2.5-VL baseline and the tiny random PaDT):
* padded token share = padding / (rows x longest prompt), summed over the run's batches,
  from the prompt tokens each adapter recorded (`meta.prompt_tokens`) grouped as the plan
  batched them: size order, then length order (deterministic: the same in every pair);
* samples/s of the rank's batch loop (metrics.json `cost.throughput`), in `--pairs`
  alternating pairs (size first, then length first, ...): per pair the ratio length /
  size, median [min-max] (never a best-of).

PaDT runs continuous batching by default: the runner's batches are what its stream
admits, in that order, so the padded share is that of each admitted group.

    python benchmarks/bench_length_order.py                 # both tiny models, 5 pairs
    python benchmarks/bench_length_order.py --json --pairs 7 --images 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

FILLER = (
    "on the left next to the small one near the top behind that other big shape in front of "
    "the corner closest to right side with a bright edge below it and above middle"
).split()


def expression(colour: str, shape: str, words: int, rng: np.random.Generator) -> str:
    """A referring expression of `words` words naming the object's colour and shape."""
    head = [colour, shape] if words < 3 else ["the", colour, shape]
    extra = max(0, words - len(head))
    start = int(rng.integers(0, len(FILLER)))
    return " ".join(head + [FILLER[(start + k) % len(FILLER)] for k in range(extra)])


def word_counts(n: int, rng: np.random.Generator) -> list[int]:
    """RefCOCO-family word counts (module doc): half short, half RefCOCOg-like."""
    short = 1 + rng.poisson(2.6, n)
    long = np.maximum(2, np.rint(rng.lognormal(np.log(7.7), 0.42, n))).astype(int)
    return [int(s if rng.random() < 0.5 else g) for s, g in zip(short, long)]


def make_split(root: Path, n_images: int, seed: int) -> tuple[Path, Path]:
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl

    rng = np.random.default_rng(seed)
    world = make_world(n_images, seed=seed)
    for img in world:
        for o in img.objects:
            o.expressions = [expression(o.colour, o.shape, w, rng) for w in word_counts(2, rng)]
    images = root / "coco" / "train2014"
    write_images(world, images)
    split = root / "split.json"
    write_padt_jsonl(world, split)
    return split, images


def padded_share(prompt_tokens: dict[str, int], order: list[str], batch: int) -> float:
    """Padding / (rows x longest prompt) over the batches of `order` (chunks of `batch`)."""
    padded = total = 0
    for i in range(0, len(order), batch):
        lengths = [prompt_tokens[s] for s in order[i : i + batch]]
        padded += sum(max(lengths) - n for n in lengths)
        total += max(lengths) * len(lengths)
    return padded / total if total else 0.0


def run_once(model: Path, family: str, split: Path, images: Path, out: Path, length_order: bool, batch: int, max_new: int):
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
    from padt_eval.results.run_folder import RunFolder

    result = api.run_model(
        Task.REC,
        str(split),
        ModelOptions(str(model), family, {"max_new_tokens": max_new, "dtype": "float32"}),
        data=DataOptions(image_root=images),
        run=RunOptions(1, "cpu", batch_size=batch, loader_workers=0, length_order=length_order),
        output=OutputOptions(out, report=False),
    )
    folder = RunFolder(out)
    order = folder.plan_ids(result.manifest.runner.attempt, 0).read_text().split()
    prompt = {
        json.loads(line)["sample_id"]: json.loads(line)["meta"]["prompt_tokens"]
        for line in folder.predictions.read_text().splitlines()
    }
    rate = result.record.cost["throughput"]["samples_per_s"]
    return padded_share(prompt, order, batch), rate, len(order)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--models", default="qwen2_5_vl,padt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from padt_eval.demo.tiny_padt import build_tiny_padt
    from padt_eval.models.hf.tiny import build_tiny

    torch.set_num_threads(1)  # tiny models: per-op overhead dominates; one thread is steadier
    report: dict = {"pairs": args.pairs, "batch": args.batch, "max_new_tokens": args.max_new_tokens, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        split, images = make_split(root / "data", args.images, args.seed)
        for family in args.models.split(","):
            model = build_tiny_padt(root / "padt", seed=0) if family == "padt" else build_tiny(family, root / family)
            shares: dict[bool, float] = {}
            rates: dict[bool, list[float]] = {False: [], True: []}
            n = 0
            for pair in range(args.pairs):
                sides = [False, True] if pair % 2 == 0 else [True, False]
                for side in sides:
                    out = root / "runs" / f"{family}-{pair}-{int(side)}"
                    share, rate, n = run_once(model, family, split, images, out, side, args.batch, args.max_new_tokens)
                    shares[side] = share
                    rates[side].append(rate)
            ratios = [a / b for a, b in zip(rates[True], rates[False])]
            report["models"][family] = {
                "samples": n,
                "padded_share_size_order": round(shares[False], 4),
                "padded_share_length_order": round(shares[True], 4),
                "samples_per_s_size_order": [round(r, 3) for r in rates[False]],
                "samples_per_s_length_order": [round(r, 3) for r in rates[True]],
                "ratio_median": round(statistics.median(ratios), 3),
                "ratio_min": round(min(ratios), 3),
                "ratio_max": round(max(ratios), 3),
            }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for family, r in report["models"].items():
            print(
                f"{family}: {r['samples']} samples, batch {args.batch}: padded tokens {r['padded_share_size_order']:.1%} "
                f"(size order) -> {r['padded_share_length_order']:.1%} (length order); samples/s length/size "
                f"{r['ratio_median']:.3f} [{r['ratio_min']:.3f}-{r['ratio_max']:.3f}] over {args.pairs} pairs"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
