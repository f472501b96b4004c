"""Runner throughput: padt-eval's sharded runner against the reference evaluation loop.

The anchor is the loop of PaDT's released `inference_refcoco.py` as far as it matters for
speed: one process per device, batches of 32 in split order, images opened inside the
loop (no prefetch), and generation keeping every layer's hidden state at every step.
It runs through our own PaDT implementation (`pipeline.alternative_generate = generate_reference_strategy`), so both
sides compute the same tokens and the ratio isolates the runner and the memory strategy.

padt-eval: `api.run_model` with DataLoader workers preparing images ahead of the model,
batches of similar prompt length, last-layer-only generation, at 1 and 2 ranks (CPU) or on
N GPUs. Throughput is reported two ways: steady state (samples / the slowest rank's
inference loop, the figure comparable to the anchor's loop) and end to end (including
process start, model loading, merging and scoring).

    python benchmarks/bench_runner.py                      # tiny random PaDT, CPU, 1 and 2 ranks
    python benchmarks/bench_runner.py --config real-3b --gpus 1 --n-images 256
                                                           # random weights, PaDT-3B shapes, bf16, GPU
    python benchmarks/bench_runner.py --config real-3b --layers 2 --vision-layers 2 --n-images 16
                                                           # the real-3b code path, shrunk to run on a CPU
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REAL_3B_SIZES = dict(
    hidden_size=2048,
    intermediate_size=11008,
    num_hidden_layers=36,
    num_attention_heads=16,
    num_key_value_heads=2,
    mrope_section=(16, 24, 24),
    vision_depth=32,
    vision_hidden_size=1280,
    vision_intermediate_size=3420,
    vision_num_heads=16,
    window_size=112,
    fullatt_block_indexes=(7, 15, 23, 31),
    decoder_hidden_size=1280,
    decoder_intermediate_size=3420,
    decoder_num_heads=16,
)


def build_data(root: Path, n_images: int) -> str:
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl

    world = make_world(n_images, seed=11)
    write_images(world, root / "coco" / "train2014")
    write_padt_jsonl(world, root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json")
    return "refcoco_val"


def build_checkpoint(folder: Path, args) -> str:
    from padt_eval.demo.tiny_padt import build_tiny_padt

    sizes = {}
    if args.config == "real-3b":
        sizes = dict(REAL_3B_SIZES)
        if args.layers:
            sizes["num_hidden_layers"] = args.layers
        if args.vision_layers:
            sizes["vision_depth"] = args.vision_layers
            sizes["fullatt_block_indexes"] = tuple(
                i for i in REAL_3B_SIZES["fullatt_block_indexes"] if i < args.vision_layers
            ) or (args.vision_layers - 1,)
    return str(build_tiny_padt(folder, seed=0, tie_word_embeddings=args.config == "real-3b", **sizes))


def reference_loop(checkpoint: str, data_root: Path, split: str, args, device: str) -> float:
    """The anchor: returns samples/s of the inference loop (model loading excluded)."""
    from padt_eval.core.types import Task
    from padt_eval.data.registry import open_split
    from padt_eval.models.padt.adapter import load_padt
    from padt_eval.runner.prepare import predict_requests
    from padt_eval.tasks.registry import get_task
    from padt_eval.testing.reference_strategy import generate_reference_strategy

    spec = get_task(Task.REC)
    reader = open_split(split, Task.REC, data_root=data_root)
    adapter = load_padt(
        checkpoint, device=device, dtype=args.dtype, max_new_tokens=args.max_new_tokens, batch_size=args.ref_batch_size
    )
    adapter.pipeline.alternative_generate = generate_reference_strategy
    n = 0
    t0 = time.perf_counter()
    samples = list(reader)
    for i in range(0, len(samples), args.ref_batch_size):  # split order; images prepared in this process
        batch = samples[i : i + args.ref_batch_size]
        n += len(predict_requests(adapter, [s.request(prompt=spec.prompt(adapter.prompt_key, s)) for s in batch]))
    seconds = time.perf_counter() - t0
    adapter.close()
    return n / seconds


def ours(checkpoint: str, data_root: Path, split: str, args, nproc: int, device: str, out: Path) -> tuple[float, float]:
    """(steady-state samples/s, end-to-end samples/s) of padt-eval's runner."""
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    t0 = time.perf_counter()
    result = api.run_model(
        Task.REC,
        split,
        ModelOptions(checkpoint, "padt", {"dtype": args.dtype, "max_new_tokens": args.max_new_tokens}),
        data=DataOptions(data_root=data_root),
        run=RunOptions(nproc, device, args.batch_size, args.loader_workers),
        output=OutputOptions(out),
    )
    end_to_end = time.perf_counter() - t0
    info = json.loads((result.out_dir / "manifest.json").read_text())["runner"]
    n = info["samples_this_attempt"]
    slowest_loop = max(r["loop_seconds"] for r in info["per_rank"])
    return n / slowest_loop, n / end_to_end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=["tiny", "real-3b"], default="tiny")
    ap.add_argument("--layers", type=int, default=0, help="real-3b: fewer text layers (to run on a CPU)")
    ap.add_argument("--vision-layers", type=int, default=0, help="real-3b: fewer vision blocks")
    ap.add_argument("--n-images", type=int, default=48)
    ap.add_argument("--gpus", type=int, default=0, help="run ours on N GPUs (default: CPU at 1 and 2 ranks)")
    ap.add_argument("--ranks", default="1,2", help="CPU ranks to measure")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--ref-batch-size", type=int, default=32)
    ap.add_argument("--loader-workers", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--dtype", default=None, help="default float32 (tiny), bfloat16 (real-3b)")
    args = ap.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.config == "real-3b" else "float32")
    device = "cuda" if args.gpus else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        split = build_data(root / "data", args.n_images)
        t = time.perf_counter()
        ckpt = build_checkpoint(root / "ckpt", args)
        print(f"built a {args.config} random-weight PaDT checkpoint in {time.perf_counter() - t:.1f} s; {args.n_images} images")
        ref = reference_loop(ckpt, root / "data", split, args, device if not args.gpus else "cuda:0")
        print(f"reference loop (batch {args.ref_batch_size}, all hidden states, images in the loop): {ref:8.2f} samples/s")
        runs = [(args.gpus, f"{args.gpus} GPU")] if args.gpus else [(int(r), f"{r} CPU rank(s)") for r in args.ranks.split(",")]
        for nproc, label in runs:
            steady, e2e = ours(ckpt, root / "data", split, args, nproc, device, root / f"run{nproc}")
            print(
                f"padt-eval runner, {label:>12}: {steady:8.2f} samples/s steady ({steady / ref:.2f}x), "
                f"{e2e:8.2f} end to end incl. start-up ({e2e / ref:.2f}x)"
            )


if __name__ == "__main__":
    main()
