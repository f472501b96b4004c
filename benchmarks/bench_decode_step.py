"""Milliseconds per decode step against the weights-bandwidth floor, samples/s and peak
memory, for PaDT (ours, eager and `torch.compile`d step) and a Qwen2.5-VL baseline
(transformers `generate` with the chosen-token log-prob recorder; vLLM when installed).

Random weights in the real shapes (`--shape 3b`: Qwen2.5-VL-3B / PaDT-3B) or the tiny ones
(`--shape tiny`, what `benchmarks/gpu.sh --dry-run` runs on a CPU). No download.

* ms per decode step: the mean over `--steps` steps after `--warmup` steps (CUDA
  synchronised; compile time excluded and reported apart). For transformers' generate it
  is (time at 2S steps - time at S steps) / S, which removes the prefill.
* bandwidth floor: the bytes a step must read, the text model's weights (and the output
  matrix; with tied embeddings that is the embedding table), divided by the device's
  measured copy bandwidth ((bytes read + written) / time of a large device-to-device copy).
  A second floor adds the KV cache a step reads at the end of generation.
* peak memory: `torch.cuda.max_memory_allocated` over one full generate (CUDA), process
  peak RSS on a CPU.

Prints one JSON object per measurement (the lines `gpu.sh` collects).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_padt_generate import REAL_3B, PeakMemory, real_3b_model, synthetic_batch, tiny_model  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def copy_bandwidth(device: torch.device, mib: int) -> float:
    """Bytes per second of a device-to-device copy, counting bytes read plus written."""
    n = mib * 2**20 // 4
    src = torch.empty(n, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync(device)
    reps = 10
    t0 = time.perf_counter()
    for _ in range(reps):
        dst.copy_(src)
    sync(device)
    return 2 * src.numel() * 4 * reps / (time.perf_counter() - t0)


def param_bytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def time_steps(step, steps: int, warmup: int, device) -> tuple[float, float]:
    """(seconds of the warm-up, mean ms per step after it)."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync(device)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return warm_s, (time.perf_counter() - t0) * 1000 / steps


def bench_padt(args, device, dtype, bandwidth: float):
    """Yields one row per mode (eager, compiled), so a stage cut short keeps what it measured."""
    from padt_eval.models.padt import generation
    from padt_eval.models.padt.generation import GenerationSettings, generate, start_decoding

    args.attn = "sdpa"
    model = real_3b_model(args, device, dtype) if args.shape == "3b" else tiny_model(args, device, dtype)
    ids, mask, pixels, grid, m = synthetic_batch(model, args, device)
    with torch.inference_mode():
        vis, protos = model.encode_images(pixels, grid)
        vocab = model.extended_vocab(protos, grid)
    total = args.warmup + args.steps + 1
    settings = GenerationSettings(max_new_tokens=total, eos_token_ids=[], pad_token_id=0, repetition_penalty=1.05)
    batch = (model, vocab, vis.merged, ids, mask, grid, settings)
    weights = param_bytes(model.language_model) + (param_bytes(model.lm_head) if model.lm_head is not None else 0)
    generation.COMPILE_BACKEND = args.compile_backend
    for compiled in (False, True):
        with torch.inference_mode():
            dec = start_decoding(*batch)
            step = generation.compiled(dec.step) if compiled else dec.step
            warm_s, ms = time_steps(step, args.steps, args.warmup, device)
            kv = dec.step.state.cache.nbytes() * (ids.shape[1] + total) / dec.step.state.cache.max_len
            del dec, step
            with PeakMemory(device) as pm:
                sync(device)
                t0 = time.perf_counter()
                generate(*batch, compile_step=compiled)
                sync(device)
                seconds = time.perf_counter() - t0
        yield {
            "model": f"padt-{args.shape}",
            "mode": f"compile ({args.compile_backend})" if compiled else "eager",
            "batch": args.batch_size,
            "prompt_tokens": int(ids.shape[1]),
            "vrt_per_image": m,
            "ms_per_step": ms,
            "warmup_s": warm_s,
            "floor_ms_weights": weights / bandwidth * 1000,
            "floor_ms_weights_kv": (weights + kv) / bandwidth * 1000,
            "samples_per_s": args.batch_size / seconds,
            "generate_tokens": total,
            "peak_mib": pm.peak / 2**20,
            "memory_method": pm.method,
        }


def qwen_model(args, device, dtype):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if args.shape == "tiny":
        from padt_eval.models.hf.tiny import build_tiny

        folder = build_tiny("qwen2_5_vl", Path(tempfile.mkdtemp()) / "qwen")
        return Qwen2_5_VLForConditionalGeneration.from_pretrained(str(folder), dtype=dtype).to(device).eval(), folder
    raw = {k: v for k, v in REAL_3B.items() if k not in ("vl_decoder", "use_visual_prototype_projection", "architectures")}
    raw["architectures"] = ["Qwen2_5_VLForConditionalGeneration"]
    raw["vision_config"] = dict(raw["vision_config"])
    if args.layers:
        raw["num_hidden_layers"] = args.layers
    if args.vision_layers:
        raw["vision_config"]["depth"] = args.vision_layers
        raw["vision_config"]["fullatt_block_indexes"] = [args.vision_layers - 1]
    cfg = Qwen2_5_VLConfig.from_dict(raw)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(cfg)
    finally:
        torch.set_default_dtype(previous)
    return model.eval(), None


def bench_qwen(args, device, dtype, bandwidth: float):
    from transformers import LogitsProcessorList

    from padt_eval.models.hf.generation import ChosenTokenLogprobs

    model, _ = qwen_model(args, device, dtype)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    g = torch.Generator().manual_seed(0)
    prompt = args.prompt_tokens + args.image_tokens  # text-only prompts as long as text + image tokens
    ids = torch.randint(50, 1000, (args.batch_size, prompt), generator=g).to(device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def run(steps: int) -> tuple[float, int]:
        recorder = ChosenTokenLogprobs()
        with PeakMemory(device) as pm, torch.inference_mode():
            sync(device)
            t0 = time.perf_counter()
            out = model.generate(
                **inputs,
                max_new_tokens=steps,
                do_sample=False,
                num_beams=1,
                logits_processor=LogitsProcessorList([recorder]),
                return_dict_in_generate=True,
            )
            recorder.finish(out.sequences)
            sync(device)
            seconds = time.perf_counter() - t0
        return seconds, pm.peak

    run(2)  # warm-up
    s = args.steps
    t1, _ = run(s)
    t2, peak = run(2 * s)
    text = model.model.language_model
    tied = model.lm_head.weight.data_ptr() == text.embed_tokens.weight.data_ptr()
    weights = param_bytes(text) + (0 if tied else param_bytes(model.lm_head))
    yield {
        "model": f"qwen2.5-vl-{args.shape}",
        "mode": "transformers generate (eager)",
        "batch": args.batch_size,
        "prompt_tokens": prompt,
        "ms_per_step": (t2 - t1) * 1000 / s,
        "floor_ms_weights": weights / bandwidth * 1000,
        "samples_per_s": args.batch_size / t2,
        "generate_tokens": 2 * s,
        "peak_mib": peak / 2**20,
    }


def bench_vllm(args, device, dtype, bandwidth: float):
    """The Qwen2.5-VL random checkpoint saved to disk and served by vLLM: the whole batch in
    one `generate` call (vLLM schedules it), the same prompts and steps as `bench_qwen`."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        yield {"model": "vllm", "skipped": "vllm is not installed"}
        return
    if args.device != "cuda":
        yield {"model": "vllm", "skipped": "vllm needs a GPU"}
        return
    try:
        from vllm import LLM, SamplingParams

        model, folder = qwen_model(args, device, dtype)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(50, 1000, (args.batch_size, args.prompt_tokens + args.image_tokens), generator=g)
        steps = 2 * args.steps

        out_dir = Path(tempfile.mkdtemp()) / "qwen-random"
        model.save_pretrained(out_dir)
        from padt_eval.models.hf.tiny import build_tiny

        tok_src = folder or build_tiny("qwen2_5_vl", Path(tempfile.mkdtemp()) / "tok")
        for name in (
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "chat_template.json",
            "preprocessor_config.json",
            "vocab.json",
            "merges.txt",
        ):
            if (Path(tok_src) / name).is_file():
                (out_dir / name).write_bytes((Path(tok_src) / name).read_bytes())
        del model
        torch.cuda.empty_cache()
        llm = LLM(
            model=str(out_dir),
            dtype="bfloat16",
            seed=0,
            gpu_memory_utilization=0.5,
            enforce_eager=False,
            limit_mm_per_prompt={"image": 0},
            max_model_len=4096,
        )
        params = SamplingParams(temperature=0.0, max_tokens=steps, ignore_eos=True, logprobs=0)
        prompts = [{"prompt_token_ids": row} for row in ids.tolist()]
        llm.generate(prompts[:2], SamplingParams(temperature=0.0, max_tokens=4), use_tqdm=False)
        t0 = time.perf_counter()
        llm.generate(prompts, params, use_tqdm=False)  # one call for the whole batch: vLLM schedules
        seconds = time.perf_counter() - t0
        yield {
            "model": f"vllm qwen2.5-vl-{args.shape}",
            "mode": "one generate call",
            "batch": len(prompts),
            "samples_per_s": len(prompts) / seconds,
            "ms_per_step_incl_prefill": seconds * 1000 / steps,
            "generate_tokens": steps,
        }
    except Exception as exc:  # a GPU script must report, not die, on an optional engine
        yield {"model": "vllm", "error": f"{type(exc).__name__}: {exc}"[:500]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["padt", "qwen", "vllm"], required=True)
    ap.add_argument("--shape", choices=["3b", "tiny"], default="3b")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, help="default bfloat16 (3b) / float32 (tiny)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--image-size", default=None, help="WxH (default 640x480 for 3b, 112x84 tiny)")
    ap.add_argument("--prompt-tokens", type=int, default=40)
    ap.add_argument("--layers", type=int, default=0, help="3b: override the 36 text layers (a CPU smoke test of the path)")
    ap.add_argument("--vision-layers", type=int, default=0, help="3b: override the 32 vision blocks")
    ap.add_argument(
        "--image-tokens",
        type=int,
        default=None,
        help="qwen: prompt length stand-in for the image (default 391 = 640x480 merged tokens; tiny 12)",
    )
    ap.add_argument("--compile-backend", default="inductor")
    ap.add_argument("--copy-mib", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(1)  # less noise on a shared machine
    args.image_size = args.image_size or ("640x480" if args.shape == "3b" else "112x84")
    if args.image_tokens is None:
        args.image_tokens = 391 if args.shape == "3b" else 12
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.shape == "3b" else "float32"))
    torch.manual_seed(args.seed)
    bandwidth = copy_bandwidth(device, args.copy_mib)
    head = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": str(dtype).replace("torch.", ""),
        "copy_gb_per_s": bandwidth / 1e9,
    }
    bench = {"padt": bench_padt, "qwen": bench_qwen, "vllm": bench_vllm}[args.model]
    for row in bench(args, device, dtype, bandwidth):
        print(json.dumps({**head, **row}), flush=True)


if __name__ == "__main__":
    main()
