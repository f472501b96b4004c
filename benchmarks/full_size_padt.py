"""A PaDT checkpoint at its released size, random weights, through the real CLI on the CPU.

Everything else in the suite runs on toy checkpoints; this script is where the real
shapes meet the loading code, the processor and the CLI. It writes a checkpoint folder the
way the reference trainer saves one (PaDT-3B: Qwen2.5-VL-3B text and vision sizes plus the
PaDT decoder, tied embeddings; PaDT-7B: the untied Qwen2.5-VL-7B layout), in bfloat16
shards under the reference's (transformers 4.50) parameter names, with the real Qwen2.5
tokenizer, chat template, image-processor and generation configs. Then it runs
`padt-eval rec --model <folder>` (no --family: detection must find PaDT) on a few synthetic
samples and reports load time, seconds per sample and the CLI's peak RSS.

    python benchmarks/full_size_padt.py --size 3b            # ~7.5 GB on disk, ~16 GB RAM in fp32
    python benchmarks/full_size_padt.py --size 7b --dtype bfloat16   # ~16.6 GB on disk and RAM

Not part of `make test`: minutes of CPU and many GB. Random weights never emit an end of
turn, so every sample runs exactly --max-new-tokens steps (equal work per sample).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from padt_eval.demo.tiny_padt import CHAT_TEMPLATE, legacy_key  # noqa: E402
from padt_eval.models.padt.config import parse_config  # noqa: E402
from padt_eval.models.padt.model import PadtModel  # noqa: E402
from padt_eval.models.released_files import preprocessor_config, write_qwen_tokenizer  # noqa: E402

# Qwen2.5-VL-{3B,7B}-Instruct's config.json values, as the PaDT trainer re-saves them with
# its two extra entries (`vl_decoder` from padt_sft_trainer.py, the prototype projection).
_TEXT = {
    "3b": {
        "hidden_size": 2048,
        "intermediate_size": 11008,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "max_window_layers": 70,
        "tie_word_embeddings": True,
    },
    "7b": {
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_window_layers": 28,
        "tie_word_embeddings": False,
    },
}
MAX_SHARD_BYTES = 5 * 1024**3  # transformers' default max_shard_size ("5GB") at save time


def released_config(size: str) -> dict:
    text = _TEXT[size]
    return {
        "architectures": ["PaDTForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "hidden_act": "silu",
        "image_token_id": 151655,
        "initializer_range": 0.02,
        "max_position_embeddings": 128000,
        "model_type": "qwen2_5_vl",
        "rms_norm_eps": 1e-06,
        "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.50.0.dev0",
        "use_cache": True,
        "use_sliding_window": False,
        "use_visual_prototype_projection": True,
        "video_token_id": 151656,
        "vision_config": {
            "depth": 32,
            "fullatt_block_indexes": [7, 15, 23, 31],
            "hidden_act": "silu",
            "hidden_size": 1280,
            "in_channels": 3,
            "in_chans": 3,
            "initializer_range": 0.02,
            "intermediate_size": 3420,
            "model_type": "qwen2_5_vl",
            "num_heads": 16,
            "out_hidden_size": text["hidden_size"],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "spatial_patch_size": 14,
            "temporal_patch_size": 2,
            "tokens_per_second": 2,
            "torch_dtype": "bfloat16",
            "window_size": 112,
        },
        "vision_end_token_id": 151653,
        "vision_start_token_id": 151652,
        "vision_token_id": 151654,
        "vl_decoder": {
            "attn_implementation": "flash_attention_2",
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "llm_hidden_state": text["hidden_size"],
            "name": "PaDTDecoder",
            "num_heads": 16,
            "spatial_merge_size": 2,
            "use_mask_loss": True,
        },
        "vocab_size": 151936,
        **text,
    }


def _random_tensor(name: str, shape: tuple[int, ...], gen):
    """Weights on the scale a trained model has, so activations stay finite in bf16:
    tables ~ N(0, 0.02), matrices ~ N(0, 1/fan_in), biases 0, norms 1."""
    import torch

    if name.endswith(("embed_tokens.weight", "lm_head.weight", "vp_embedding.weight", "bbox_score_mask_tokens.weight")):
        t = 0.02 * torch.randn(shape, generator=gen)
    elif name.endswith(".bias"):
        t = torch.zeros(shape)
    elif len(shape) == 1:
        t = torch.ones(shape)
    else:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        t = torch.randn(shape, generator=gen) / fan_in**0.5
    return t.to(torch.bfloat16).contiguous()


def write_weights(folder: Path, config: dict, seed: int = 0) -> int:
    """bf16 safetensors shards of at most 5 GB plus the index, key by key so that only one
    shard is in memory at a time. Returns the number of parameters."""
    import torch
    from safetensors.torch import save_file

    with torch.device("meta"):
        skeleton = PadtModel(parse_config(config), attn="sdpa")
    shapes = {legacy_key(k): tuple(v.shape) for k, v in skeleton.state_dict().items()}
    del skeleton
    gen = torch.Generator().manual_seed(seed)
    shards: list[list[str]] = [[]]
    size = 0
    for key in sorted(shapes):
        nbytes = 2 * _numel(shapes[key])
        if shards[-1] and size + nbytes > MAX_SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += nbytes
    weight_map, total = {}, 0
    for i, keys in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        tensors = {k: _random_tensor(k, shapes[k], gen) for k in keys}
        save_file(tensors, str(folder / name), metadata={"format": "pt"})
        total += sum(_numel(shapes[k]) for k in keys)
        weight_map.update({k: name for k in keys})
        del tensors
    _write_json(folder / "model.safetensors.index.json", {"metadata": {"total_size": 2 * total}, "weight_map": weight_map})
    return total


def write_checkpoint(folder: Path, size: str, seed: int = 0, layers: int | None = None) -> int:
    """`layers` (a smoke test of this script only) cuts the text and vision depth."""
    folder.mkdir(parents=True, exist_ok=True)
    config = released_config(size)
    if layers:
        config["num_hidden_layers"] = layers
        config["vision_config"]["depth"] = layers
        config["vision_config"]["fullatt_block_indexes"] = [layers - 1]
    _write_json(folder / "config.json", config)
    _write_json(
        folder / "generation_config.json",
        {
            "bos_token_id": 151643,
            "do_sample": True,
            "eos_token_id": [151645, 151643],
            "pad_token_id": 151643,
            "repetition_penalty": 1.05,
            "temperature": 0.1,
            "top_k": 1,
            "top_p": 0.001,
            "transformers_version": "4.50.0.dev0",
        },
    )
    _write_json(folder / "preprocessor_config.json", preprocessor_config("qwen2_5_vl"))
    _write_json(folder / "chat_template.json", {"chat_template": CHAT_TEMPLATE})
    write_qwen_tokenizer(folder, "qwen2.5", chat_template_text=CHAT_TEMPLATE)
    return write_weights(folder, config, seed)


def write_split(root: Path, n: int) -> Path:
    """`n` referring expressions on synthetic images, in the PaDT JSONL layout."""
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl

    world = make_world(max(2, n), seed=3)
    write_images(world, root / "coco" / "train2014")
    full = root / "all.json"
    write_padt_jsonl(world, full)
    path = root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(full.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")
    return path


def run_cli(folder: Path, data_root: Path, out: Path, args) -> dict:
    cli = Path(sys.executable).with_name("padt-eval")
    cmd = [
        str(cli) if cli.exists() else "padt-eval",
        "rec",
        "--split",
        "refcoco_val",
        "--data-root",
        str(data_root),
        "--model",
        str(folder),
        "-b",
        str(args.samples),
        "--max-new-tokens",
        str(args.max_new_tokens),
        "--dtype",
        args.dtype,
        "--device",
        "cpu",
        "--loader-workers",
        "0",
        "--out",
        str(out),
        "--no-report",
        "--overwrite",
    ]
    if args.family:
        cmd += ["--family", args.family]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"padt-eval exited {proc.returncode}: {' '.join(cmd)}")
    model = json.loads((out / "model.json").read_text(encoding="utf-8")) if (out / "model.json").is_file() else {}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    ranks = manifest.get("runner", {}).get("per_rank") or []
    load_s = sum(r.get("load_seconds", 0.0) for r in ranks) or None
    loop_s = sum(r.get("loop_seconds", 0.0) for r in ranks) or None
    return {
        "family": model.get("family") or manifest.get("model", {}).get("family"),
        "batch_size_recorded": manifest.get("runner", {}).get("batch_size"),
        "model_batch_size": model.get("batch_size"),
        "wall_s": round(wall, 1),
        "load_s": round(load_s, 1) if load_s else None,
        "s_per_sample": round(loop_s / args.samples, 1) if loop_s else None,
        "peak_rss_gib": round(peak_kib / 1024**2, 2),
        "metrics": json.loads((out / "metrics.json").read_text(encoding="utf-8")).get("metrics"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(_TEXT), default="3b")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default /tmp/padt_full_<size>)")
    ap.add_argument("--samples", type=int, default=2, help="samples scored (one batch)")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--keep", action="store_true", help="keep the checkpoint afterwards")
    ap.add_argument("--family", default=None, help="pass --family (default: let the CLI detect PaDT from config.json)")
    ap.add_argument("--layers", type=int, default=None, help=argparse.SUPPRESS)  # smoke test of the script
    args = ap.parse_args()
    work = args.work or Path(f"/tmp/padt_full_{args.size}")
    folder = work / "checkpoint"
    try:
        t0 = time.perf_counter()
        if not (folder / "model.safetensors.index.json").is_file():
            # In a child process: the allocator keeps the writer's GBs of freed tensors in this
            # process, and they would sit beside the CLI's model in RAM.
            ctx = multiprocessing.get_context("spawn")
            writer = ctx.Process(target=write_checkpoint, args=(folder, args.size), kwargs={"layers": args.layers})
            writer.start()
            writer.join()
            if writer.exitcode != 0:
                raise SystemExit(f"writing the checkpoint failed (exit {writer.exitcode})")
        n_params = json.loads((folder / "model.safetensors.index.json").read_text())["metadata"]["total_size"] // 2
        write_s = time.perf_counter() - t0
        split_root = work / "data"
        write_split(split_root, args.samples)
        result = run_cli(folder, split_root, work / "run", args)
        disk = sum(f.stat().st_size for f in folder.iterdir())
        report = {
            "size": args.size + (f" ({args.layers} layers)" if args.layers else ""),
            "dtype": args.dtype,
            "params": n_params,
            "checkpoint_gib": round(disk / 1024**3, 2),
            "write_s": round(write_s, 1),
            "samples": args.samples,
            "max_new_tokens": args.max_new_tokens,
            "threads": os.cpu_count(),
            **result,
        }
        print(json.dumps(report, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
