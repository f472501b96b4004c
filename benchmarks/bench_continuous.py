"""PaDT continuous batching against static batches, when answers differ in length.

Static batches (`PadtPipeline.run`, what `compat` and `continuous=false` run) decode a batch
until its longest answer ends; continuous batching (`PadtPipeline.run_stream`) gives a slot
freed by a short answer to the next sample. Same model, same samples, same slots.

Answer lengths: a random-weight PaDT rarely ends on its own, so each sample is given a
target length drawn from a long-tailed distribution, and its end-of-turn token is *forced*
at that step (its logits row becomes "eos or nothing" there; `ForcedEnd`). Before that
step the model decodes freely, so every step runs the real text model; both sides see the
same forcing and must give the same tokens (checked: `same_tokens`).

  --lengths lognormal   tiny: median 12 tokens, sigma 1, clipped to [2, max-new-tokens]
  --lengths ovd         OVD-like: objects per image ~ negative binomial with the mean of
                        COCO (7.7 instances and 3.5 categories per image, Lin et al. 2014,
                        "Microsoft COCO", section 5; shape 1.5 for the long tail), answer
                        tokens = 6 + 5 per category phrase + 8 per object (5 VRTs and the
                        separators, docs/padt_paper_protocol: "only five VRTs per target")

Reported:
* useful row-steps / total row-steps, static and continuous: measured from the runs
  (static: the loop's steps x rows of each batch; continuous: `ContinuousDecoder.stats`),
  and the same by `simulate_*` from the lengths alone (which must agree with the runs);
* samples/s in `--pairs` alternating pairs (static first, then continuous first, ...):
  per pair the ratio continuous / static, median [min-max] (never a best-of);
* `--simulate-ovd N`: the useful fractions for N OVD-like answers at the 3B run's shape
  (32 slots, 1024 new tokens, a check every 8 steps): they depend on the lengths, the slot
  count and the check interval only, not on the model's widths.

    python benchmarks/bench_continuous.py                                  # tiny PaDT, CPU
    python benchmarks/bench_continuous.py --simulate-ovd 5000 --pairs 0    # the 3B shape's fractions
    python benchmarks/bench_continuous.py --config real-3b --device cuda --dtype bfloat16 \\
        --slots 32 --samples 64 --max-new-tokens 256 --lengths ovd --json  # gpu.sh (a lent GPU)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_padt_generate import median, real_3b_model, tiny_model  # noqa: E402

from padt_eval.models.padt import continuous, generation  # noqa: E402
from padt_eval.models.padt.continuous import StreamItem  # noqa: E402
from padt_eval.models.padt.decode_step import DecodeStep  # noqa: E402
from padt_eval.models.padt.generation import FINISH_CHECK_EVERY, GenerationSettings  # noqa: E402
from padt_eval.models.padt.host_meta import host_meta  # noqa: E402
from padt_eval.models.padt.parsing import ParseResult  # noqa: E402
from padt_eval.models.padt.pipeline import PadtPipeline  # noqa: E402
from padt_eval.models.padt.processor import BatchInputs  # noqa: E402
from padt_eval.models.padt.slots import SlotStep  # noqa: E402

EOS = 3  # a plain text id of both configs, used as the forced end-of-turn


# -- answer lengths -------------------------------------------------------------------------
def lognormal_lengths(n: int, cap: int, rng) -> list[int]:
    return [int(v) for v in np.clip(np.round(rng.lognormal(math.log(12), 1.0, n)), 2, cap)]


def ovd_lengths(n: int, cap: int, rng) -> list[int]:
    """Objects ~ NB(mean 7.7, shape 1.5) (at least 1); categories ~ 1 + Poisson(2.5), at most
    the objects (mean 3.5 where objects allow); tokens = 6 + 5 x categories + 8 x objects."""
    shape, mean = 1.5, 7.7
    objects = np.maximum(1, rng.negative_binomial(shape, shape / (shape + mean), n))
    cats = np.minimum(objects, 1 + rng.poisson(2.5, n))
    return [int(v) for v in np.minimum(6 + 5 * cats + 8 * objects, cap)]


LENGTHS = {"lognormal": lognormal_lengths, "ovd": ovd_lengths}


# -- the useful fraction from the lengths alone -------------------------------------------------
def simulate_static(lengths: list[int], slots: int, cap: int, check: int = FINISH_CHECK_EVERY) -> tuple[int, int]:
    """(useful, total) row-steps of `generation.generate` over batches of `slots` in order: a
    batch runs until a check (every `check` steps) finds all rows done, at most cap - 1 steps."""
    useful = total = 0
    for i in range(0, len(lengths), slots):
        batch = lengths[i : i + slots]
        # the loop checks before step t (t % check == 0); every row is done once t >= longest
        steps = next((t - 1 for t in range(1, cap) if t % check == 0 and t >= max(batch)), cap - 1)
        total += steps * len(batch)
        useful += sum(n - 1 for n in batch)
    return useful, total


def simulate_continuous(lengths: list[int], slots: int, check: int = FINISH_CHECK_EVERY) -> tuple[int, int]:
    """(useful, total) row-steps of `continuous.ContinuousDecoder.run`: admit into free slots,
    free the slots whose sample ended, else `check` steps of every slot."""
    queue = list(lengths)
    held: list[int | None] = [None] * slots  # decode steps left
    useful = total = 0
    while True:
        for b in range(slots):
            if held[b] is None and queue:
                n = queue.pop(0)
                held[b] = n - 1
                useful += n - 1
        if all(h is None for h in held):
            return useful, total
        done = [b for b, h in enumerate(held) if h == 0]
        if done:
            for b in done:
                held[b] = None
            continue
        held = [None if h is None else max(0, h - check) for h in held]
        total += check * slots


# -- forced ends ------------------------------------------------------------------------------
def force_end(raw: torch.Tensor, steps: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Rows whose token index reached target - 1 can only choose EOS (an answer of `target` tokens)."""
    due = steps.expand_as(targets) >= targets - 1
    only_eos = torch.full_like(raw, float("-inf"))
    only_eos[:, EOS] = 0.0
    return torch.where(due[:, None], only_eos, raw)


class ForcedDecodeStep(DecodeStep):
    targets: torch.Tensor | None = None  # the running static batch's targets (set by `run_static`)

    def choose(self, raw_logits, hidden):
        super().choose(force_end(raw_logits, self.state.step, ForcedDecodeStep.targets), hidden)


class ForcedSlotStep(SlotStep):
    def choose(self, raw_logits, hidden, update):  # a slot's target rides in its (unused) greedy seed
        super().choose(force_end(raw_logits, self.state.step, self.state.seeds), hidden, update)


@contextmanager
def forced_ends():
    """The loops build their steps with the forcing subclasses inside the block."""
    before = generation.DecodeStep, continuous.SlotStep
    generation.DecodeStep, continuous.SlotStep = ForcedDecodeStep, ForcedSlotStep
    try:
        yield
    finally:
        generation.DecodeStep, continuous.SlotStep = before


# -- synthetic samples ------------------------------------------------------------------------
class SyntheticPipeline(PadtPipeline):
    """`prepare` builds a prompt around each image's tokens from its (width, height); `parse`
    reads no tokenizer and finds no objects (the decoder is not what is measured here)."""

    def __init__(self, model, settings, prompt_tokens: int):
        super().__init__(model, None, settings)
        self.prompt_tokens = prompt_tokens

    def prepare(self, images, prompts, completions=None):
        from padt_eval.models.padt.fake_run import left_padded, resized_grid

        cfg = self.cfg
        grids = [resized_grid(w, h) for w, h, *_ in images]
        rows = []
        keys = [s[3] for s in images]  # a sample's prompt and pixels follow from its index alone
        span = min(400, cfg.vision_start_token_id - 51, cfg.image_token_id - 51)  # plain text ids, below the special ones
        for k, (t, h, w) in zip(keys, grids):
            text = [50 + (7 * k + 3 * i) % span for i in range(self.prompt_tokens + k % 4)]
            image = [cfg.vision_start_token_id] + [cfg.image_token_id] * (t * h * w // 4) + [cfg.vision_start_token_id + 1]
            rows.append(text[:10] + image + text[10:])
        ids, mask = left_padded(rows, 0)
        pixels = torch.cat(
            [
                torch.randn((t * h * w, 3 * 2 * 14 * 14), generator=torch.Generator().manual_seed(k))
                for k, (t, h, w) in zip(keys, grids)
            ]
        )
        meta = host_meta(self.model, grids, ids, mask)
        inputs = BatchInputs(ids, mask, pixels, torch.tensor([list(x) for x in grids]), [], [(w, h) for w, h, *_ in images], meta)
        ForcedDecodeStep.targets = torch.tensor([s[2] for s in images], device=self.model.device)
        return inputs.to(self.model.device)

    def parse(self, completion, grid, finished):
        rows = completion if isinstance(completion, list) else completion.tolist()
        return [[] for _ in rows], [ParseResult(objects=[]) for _ in rows]


def run_static(pipe, samples, slots):
    rows, useful, total = {}, 0, 0
    for i in range(0, len(samples), slots):
        chunk = samples[i : i + slots]
        run = pipe.run(chunk, [""] * len(chunk))
        for s, row in zip(chunk, run.completion_rows):
            n = next((j + 1 for j, t in enumerate(row) if t == EOS), len(row))
            rows[s[3]] = row[:n]
            useful += n - 1
        total += run.generation.steps_run * len(chunk)
    return rows, useful, total


def run_continuous(pipe, samples, slots):
    items = [StreamItem(s[3], s, "", seed=s[2]) for s in samples]
    rows = {key: run.completion_rows[0] for key, run in pipe.run_stream(items, slots)}
    stats = pipe.last_stream.stats
    return rows, stats.useful_row_steps, stats.row_steps


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=["tiny", "real-3b"], default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="default float32 (tiny), bfloat16 (real-3b)")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--slots", type=int, default=8, help="the batch: static batch size = continuous slots")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--lengths", choices=sorted(LENGTHS), default="lognormal")
    ap.add_argument("--image-size", default=None, help="WxH (default 112x84 tiny, 640x480 real-3b)")
    ap.add_argument("--prompt-tokens", type=int, default=24)
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--vision-layers", type=int, default=0)
    ap.add_argument("--pairs", type=int, default=5, help="alternating static/continuous pairs (0: fractions only)")
    ap.add_argument("--simulate-ovd", type=int, default=0, help="also simulate N OVD-like answers at 32 slots, 1024 tokens")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    out: dict = {"config": args.config, "device": args.device, "load_average": list(os.getloadavg())}
    if args.simulate_ovd:
        lengths = ovd_lengths(args.simulate_ovd, 1024, rng)
        s_useful, s_total = simulate_static(lengths, 32, 1024)
        c_useful, c_total = simulate_continuous(lengths, 32)
        out["ovd_simulation"] = {
            "answers": len(lengths), "slots": 32, "max_new_tokens": 1024, "check_every": FINISH_CHECK_EVERY,
            "length_mean": float(np.mean(lengths)), "length_median": float(np.median(lengths)),
            "length_p95": float(np.percentile(lengths, 95)), "length_max": max(lengths),
            "static_useful_fraction": s_useful / s_total, "continuous_useful_fraction": c_useful / c_total,
            "row_steps_static_over_continuous": s_total / c_total,
        }  # fmt: skip
    if args.pairs:
        out.update(measure(args, rng))
    if args.json:
        print(json.dumps(out))
    else:
        report(out)
    return out


def measure(args, rng) -> dict:
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.config == "real-3b" else "float32"))
    args.seed = args.seed or 0
    model = real_3b_model(args, device, dtype) if args.config == "real-3b" else tiny_model(args, device, dtype)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens, eos_token_ids=[EOS], pad_token_id=0, repetition_penalty=1.05
    )
    pipe = SyntheticPipeline(model, settings, args.prompt_tokens)
    w, h = (int(v) for v in (args.image_size or ("640x480" if args.config == "real-3b" else "112x84")).split("x"))
    lengths = LENGTHS[args.lengths](args.samples, args.max_new_tokens, rng)
    # images of a few sizes, so prompts and prototype counts differ between samples
    samples = [(w - 28 * (i % 3), h + 28 * (i % 2), n, i) for i, n in enumerate(lengths)]
    with torch.inference_mode(), forced_ends():
        run_static(pipe, samples[: args.slots], args.slots)  # warm-up of both sides
        run_continuous(pipe, samples[: args.slots], args.slots)
        times: dict[str, list[float]] = {"static": [], "continuous": []}
        results = {}
        for i in range(args.pairs):
            order = ["static", "continuous"] if i % 2 == 0 else ["continuous", "static"]
            for side in order:
                fn = run_static if side == "static" else run_continuous
                seconds, results[side] = timed(lambda fn=fn: fn(pipe, samples, args.slots), device)
                times[side].append(seconds)
    ratios = sorted(s / c for s, c in zip(times["static"], times["continuous"]))
    (s_rows, s_useful, s_total), (c_rows, c_useful, c_total) = results["static"], results["continuous"]
    ran = [len(s_rows[i]) for i in range(len(samples))]  # the lengths as run (a free eos may come first)
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "text_layers": model.cfg.text["num_hidden_layers"],
        "slots": args.slots, "samples": args.samples, "max_new_tokens": args.max_new_tokens, "lengths": args.lengths,
        "length_mean": float(np.mean(lengths)), "length_median": float(np.median(lengths)), "length_max": max(lengths),
        "same_tokens": s_rows == c_rows and all(len(c_rows[i]) == n for i, n in enumerate(lengths)),
        "static_useful_fraction": s_useful / s_total, "continuous_useful_fraction": c_useful / c_total,
        "simulated_match": (s_useful, s_total) == simulate_static(ran, args.slots, args.max_new_tokens)
        and (c_useful, c_total) == simulate_continuous(ran, args.slots),
        "pairs": args.pairs,
        "static_samples_per_s": args.samples / median(times["static"]),
        "continuous_samples_per_s": args.samples / median(times["continuous"]),
        "continuous_over_static_median": median(ratios),
        "continuous_over_static_min_max": [ratios[0], ratios[-1]],
        "load_average_after": list(os.getloadavg()),
    }  # fmt: skip


def report(out: dict) -> None:
    print(f"load average at start {out['load_average']}")
    sim = out.get("ovd_simulation")
    if sim:
        print(
            f"OVD-like, {sim['answers']} answers (mean {sim['length_mean']:.0f}, median {sim['length_median']:.0f}, "
            f"p95 {sim['length_p95']:.0f}, max {sim['length_max']} tokens), {sim['slots']} slots, {sim['max_new_tokens']} new tokens:"
        )
        print(
            f"  useful row-steps / total: static {sim['static_useful_fraction']:.3f}, "
            f"continuous {sim['continuous_useful_fraction']:.3f} ({sim['row_steps_static_over_continuous']:.2f}x fewer row-steps)"
        )
    if "pairs" in out:
        lo, hi = out["continuous_over_static_min_max"]
        print(
            f"{out['config']} ({out['text_layers']} text layers, {out['dtype']}) on {out['device']}: {out['samples']} samples, "
            f"{out['slots']} slots, {out['lengths']} lengths (mean {out['length_mean']:.1f}, median {out['length_median']:.0f}, "
            f"max {out['length_max']}), {out['max_new_tokens']} new tokens"
        )
        print(
            f"  useful row-steps / total: static {out['static_useful_fraction']:.3f}, continuous "
            f"{out['continuous_useful_fraction']:.3f} (simulation agrees: {out['simulated_match']}); same tokens: {out['same_tokens']}"
        )
        print(
            f"  samples/s: static {out['static_samples_per_s']:.2f}, continuous {out['continuous_samples_per_s']:.2f}; "
            f"continuous / static over {out['pairs']} alternating pairs: median {out['continuous_over_static_median']:.2f}x "
            f"[{lo:.2f}x - {hi:.2f}x]"
        )
        print(f"load average after {out['load_average_after']}")


if __name__ == "__main__":
    main()
