"""PaDT generation: our decoding loop vs the reference's strategy, same model, same inputs.

The reference strategy (`padt_eval.testing.reference_strategy`, after transformers
4.50's generate as the reference runs it): a growing `DynamicCache`, a host check after every
step, the hidden states of *every layer at every step* kept (it needs only the last layer)
and logits for *every prompt position* over the extended vocabulary at prefill. Ours: a
static cache and fixed-shape decode steps without host syncs, the final layer's state per
step, the last position scored (optionally the step under torch.compile, `--compile`).
Both produce the same tokens; this script checks that.

Timing: `--pairs` alternating pairs (ours then reference, then reference then ours, ...),
the ratio reference / ours per pair, reported as the median with its min-max spread (never
a best-of). Peak memory: the largest of each side's runs.

    python benchmarks/bench_padt_generate.py                      # tiny random PaDT, 2 layers, CPU
    python benchmarks/bench_padt_generate.py --layers 36          # same narrow widths, 36 layers
    python benchmarks/bench_padt_generate.py --config real-3b --device cuda --dtype bfloat16 --batch-size 32
    python benchmarks/bench_padt_generate.py --config real-3b --layers 2 --vision-layers 2 --batch-size 2 \\
        --max-new-tokens 4 --image-size 224x224      # the same code path, shrunk to run on a CPU

Peak memory: on CUDA `torch.cuda.max_memory_allocated` (reset before each run); on CPU the
process's peak RSS (VmHWM, reset through /proc/self/clear_refs) above the RSS before the
run. Weights are random (`real-3b` uses the PaDT-3B / Qwen2.5-VL-3B shapes); no download.
Generation runs exactly --max-new-tokens steps (eos disabled) so both sides do equal work.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from padt_eval.models.padt.config import parse_config  # noqa: E402
from padt_eval.models.padt.generation import GenerationSettings, generate  # noqa: E402
from padt_eval.models.padt.model import PadtModel, restore_rotary_buffers  # noqa: E402
from padt_eval.testing.reference_strategy import generate_reference_strategy  # noqa: E402

# Qwen2.5-VL-3B-Instruct shapes with PaDT's extras (decoder as the trainer writes it).
REAL_3B = {
    "architectures": ["PaDTForConditionalGeneration"],
    "model_type": "qwen2_5_vl",
    "vocab_size": 151936,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 70,
    "attention_dropout": 0.0,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "tie_word_embeddings": True,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "use_visual_prototype_projection": True,
    "vision_config": {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "out_hidden_size": 2048,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "tokens_per_second": 2,
        "hidden_act": "silu",
        "in_channels": 3,
    },
    "vl_decoder": {
        "name": "PaDTDecoder",
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "llm_hidden_state": 2048,
        "spatial_merge_size": 2,
        "use_mask_loss": True,
        "attn_implementation": "flash_attention_2",
    },
}


def real_3b_model(args, device, dtype):
    raw = json.loads(json.dumps(REAL_3B))
    if args.layers:
        raw["num_hidden_layers"] = args.layers
    if args.vision_layers:
        vc = raw["vision_config"]
        vc["depth"] = args.vision_layers
        vc["fullatt_block_indexes"] = [i for i in vc["fullatt_block_indexes"] if i < args.vision_layers] or [
            args.vision_layers - 1
        ]
    cfg = parse_config(raw)
    with torch.device("meta"):
        model = PadtModel(cfg, attn=args.attn)
    model.to_empty(device=device).to(dtype)  # allocate directly in the target dtype
    gen = torch.Generator(device=device).manual_seed(args.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.fill_(1.0) if name.endswith("weight") else p.zero_()
            else:
                p.normal_(0.0, 0.02, generator=gen)
    restore_rotary_buffers(model, device)  # float32 frequency tables, as transformers builds them
    return model.eval().requires_grad_(False)


def tiny_model(args, device, dtype):
    from padt_eval.demo.tiny_padt import build_tiny_padt
    from padt_eval.models.padt.checkpoint import build_model, resolve

    sizes = {"num_hidden_layers": args.layers} if args.layers else {}
    folder = build_tiny_padt(Path(tempfile.mkdtemp()) / "tiny", seed=args.seed, **sizes)
    model, _ = build_model(resolve(str(folder)), dtype=str(dtype).replace("torch.", ""), device=str(device), attn=args.attn)
    return model


def synthetic_batch(model, args, device):
    """B prompts `<text> <|vision_start|> <image pads> <|vision_end|> <text>` over random images,
    left padded to different lengths, as the processor would emit them."""
    cfg = model.cfg
    w_px, h_px = (int(v) for v in args.image_size.lower().split("x"))
    unit = 28
    gh, gw = max(1, round(h_px / unit)) * 2, max(1, round(w_px / unit)) * 2
    m = gh * gw // 4
    g = torch.Generator().manual_seed(args.seed)
    rows = []
    for b in range(args.batch_size):
        n_text = args.prompt_tokens + (b % 4)  # a little ragged, so left padding is exercised
        text = torch.randint(50, min(cfg.vocab_size - 100, 1000), (n_text,), generator=g).tolist()  # plain text ids
        rows.append(
            text[:10] + [cfg.vision_start_token_id] + [cfg.image_token_id] * m + [cfg.vision_start_token_id + 1] + text[10:]
        )
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, r in enumerate(rows):
        ids[b, width - len(r) :] = torch.tensor(r)
        mask[b, width - len(r) :] = 1
    c = 3 * cfg.vision.get("temporal_patch_size", 2) * cfg.vision.get("patch_size", 14) ** 2
    pixels = torch.randn((args.batch_size * gh * gw, c), generator=g)
    grid = torch.tensor([[1, gh, gw]] * args.batch_size)
    return ids.to(device), mask.to(device), pixels.to(device), grid.to(device), m


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Peak bytes allocated during the block, above what was allocated before it."""

    def __init__(self, device):
        self.device = device
        self.peak = 0
        self.method = ""

    def __enter__(self):
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.before = torch.cuda.memory_allocated()
            self.method = "torch.cuda.max_memory_allocated"
        else:
            try:
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            except OSError:
                pass
            try:
                Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (peak RSS)
                self.method = "peak RSS (VmHWM reset via clear_refs)"
            except OSError:
                self.method = "peak RSS since process start (clear_refs not writable; upper bound)"
            self.before = _rss_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.before
        else:
            self.peak = _rss_kib("VmHWM") * 1024 - self.before
        return False


def run_once(fn, device) -> tuple[float, int, torch.Tensor, str]:
    gc.collect()
    with PeakMemory(device) as pm:
        t0 = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        seqs = result.sequences.cpu()
    del result
    return seconds, pm.peak, seqs, pm.method


def alternating_pairs(ours, reference, pairs: int, device) -> dict:
    """Run the two sides in alternating order; per pair the ratio reference / ours."""
    times = {"ours": [], "reference": []}
    peaks = {"ours": 0, "reference": 0}
    seqs, method = {}, ""
    for i in range(pairs):
        order = (("ours", ours), ("reference", reference))
        for name, fn in order if i % 2 == 0 else order[::-1]:
            seconds, peak, seqs[name], method = run_once(fn, device)
            times[name].append(seconds)
            peaks[name] = max(peaks[name], peak)
    ratios = sorted(r / o for o, r in zip(times["ours"], times["reference"]))
    return {"times": times, "peaks": peaks, "ratios": ratios, "seqs": seqs, "method": method}


def median(values: list[float]) -> float:
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=["tiny", "real-3b"], default="tiny")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, help="float32 | bfloat16 | float16 (default: fp32 tiny, bf16 real-3b)")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager", "flash_attention_2"])
    ap.add_argument("--batch-size", type=int, default=None, help="default 8 (tiny) / 32 (real-3b)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--image-size", default=None, help="WxH in pixels (default 112x84 tiny, 640x480 real-3b)")
    ap.add_argument("--prompt-tokens", type=int, default=40, help="text tokens around the image")
    ap.add_argument("--layers", type=int, default=0, help="override the text layers (tiny: 2, real-3b: 36)")
    ap.add_argument("--vision-layers", type=int, default=0, help="real-3b: override the 32 vision blocks")
    ap.add_argument("--pairs", type=int, default=5, help="alternating ours/reference pairs (>= 5 for a figure)")
    ap.add_argument("--compile", action="store_true", help="ours: the decode step under torch.compile")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="CPU: torch threads (1: less noise on a shared machine)")
    ap.add_argument("--json", action="store_true", help="print one JSON line only")
    args = ap.parse_args(argv)
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    args.batch_size = args.batch_size or (32 if args.config == "real-3b" else 8)
    args.image_size = args.image_size or ("640x480" if args.config == "real-3b" else "112x84")
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.config == "real-3b" else "float32"))
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    t0 = time.perf_counter()
    model = real_3b_model(args, device, dtype) if args.config == "real-3b" else tiny_model(args, device, dtype)
    build_s = time.perf_counter() - t0
    ids, mask, pixels, grid, m = synthetic_batch(model, args, device)
    with torch.inference_mode():
        vis, protos = model.encode_images(pixels, grid)
        vocab = model.extended_vocab(protos, grid)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, eos_token_ids=[], pad_token_id=0, repetition_penalty=1.05)
    # warm-up (kernels, allocator) on a single step
    warm = GenerationSettings(max_new_tokens=2, eos_token_ids=[], pad_token_id=0)
    generate(model, vocab, vis.merged, ids, mask, grid, warm)

    batch = (model, vocab, vis.merged, ids, mask, grid, settings)
    if args.compile:  # compile outside the timed runs
        generate(*batch, compile_step=True)
    res = alternating_pairs(
        lambda: generate(*batch, compile_step=args.compile), lambda: generate_reference_strategy(*batch), args.pairs, device
    )
    ours_t, ref_t = median(res["times"]["ours"]), median(res["times"]["reference"])
    ours_mem, ref_mem, method = res["peaks"]["ours"], res["peaks"]["reference"], res["method"]
    n_params = sum(p.numel() for p in model.parameters())
    out = {
        "config": args.config,
        "device": str(device),
        "dtype": str(dtype).replace("torch.", ""),
        "attn": args.attn,
        "params": n_params,
        "text_layers": model.cfg.text["num_hidden_layers"],
        "vision_layers": model.cfg.vision["depth"],
        "batch_size": args.batch_size,
        "prompt_length": int(ids.shape[1]),
        "vrt_per_image": m,
        "new_tokens": args.max_new_tokens,
        "same_tokens": bool(torch.equal(res["seqs"]["ours"], res["seqs"]["reference"])),
        "build_seconds": round(build_s, 2),
        "pairs": args.pairs,
        "compile": args.compile,
        "memory_method": method,
        "ours": {"seconds": ours_t, "samples_per_s": args.batch_size / ours_t, "peak_mib": ours_mem / 2**20},
        "reference_strategy": {"seconds": ref_t, "samples_per_s": args.batch_size / ref_t, "peak_mib": ref_mem / 2**20},
    }
    out["speedup_median"] = median(res["ratios"])
    out["speedup_min_max"] = [res["ratios"][0], res["ratios"][-1]]
    out["memory_ratio_reference_over_ours"] = (ref_mem / ours_mem) if ours_mem > 0 else math.inf
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"PaDT generate benchmark: {args.config} ({n_params / 1e6:.1f}M params, {out['text_layers']} text layers, "
            f"{out['vision_layers']} vision blocks), {device} {out['dtype']}, attn={args.attn}"
        )
        print(
            f"batch {args.batch_size} x prompt {out['prompt_length']} tokens ({m} VRTs/image), "
            f"{args.max_new_tokens} new tokens, {args.pairs} alternating pairs (median time); memory: {method}"
        )
        print(f"{'':22}{'samples/s':>12}{'peak MiB':>12}")
        for key, name in (("ours", "ours"), ("reference_strategy", "reference strategy")):
            r = out[key]
            print(f"{name:22}{r['samples_per_s']:12.2f}{r['peak_mib']:12.1f}")
        lo, hi = out["speedup_min_max"]
        print(
            f"speed-up (reference time / ours, per pair): median {out['speedup_median']:.2f}x "
            f"(min {lo:.2f}x, max {hi:.2f}x); peak memory reference / ours: "
            f"{out['memory_ratio_reference_over_ours']:.2f}x; identical tokens: {out['same_tokens']}"
        )
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
