"""The memory plan against a real run: planned peak vs measured peak, and `-b auto`'s batch run for real.

For a PaDT config (released shape on a GPU, the tiny checkpoint on the CPU):

1. plan: one batch of `--batch-size` through the PaDT path on fake CUDA (`plan.planner.Session`);
2. real: a random-weight model of the same config on `--device`, the same stages on real
   tensors; its peak is `torch.cuda.max_memory_allocated` on CUDA (the weights included, as
   in the plan), the tracker's count of real CPU storages on the CPU;
3. with `--auto`: the batch `-b auto` resolves to (`runner.auto_batch`: the plan against
   this device's free memory; on the CPU the default, with its message), run for real,
   reporting whether it fit and its measured peak against the free memory.

One JSON line per measurement on stdout:
  {"stage": "plan", "batch": 8, "planned_peak_gib": ..., "measured_peak_gib": ..., "ratio": ...}
  {"stage": "auto", "batch": N, "free_gib": ..., "measured_peak_gib": ..., "fit": true}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GIB = 1 << 30


def real_peak(config: dict, shape, device: str, dtype_name: str, steps: int = 2) -> int:
    """Peak bytes of PaDT's stages run for real on `device` with random weights: the same
    sequence `models.padt.fake_run.run_fake_padt` runs on fake CUDA, on real tensors."""
    import torch

    from padt_eval.models.fake_device import torch_dtype
    from padt_eval.models.padt.config import parse_config
    from padt_eval.models.padt.fake_run import IM_END, resized_grid, synthetic_parses, synthetic_prompts
    from padt_eval.models.padt.generation import GenerationSettings, start_decoding
    from padt_eval.models.padt.host_meta import host_meta
    from padt_eval.models.padt.model import PadtModel
    from padt_eval.models.padt.pipeline import Encoded, PadtPipeline
    from padt_eval.models.padt.vocab import to_global
    from padt_eval.plan.padt_path import TEMPLATE_TOKENS
    from padt_eval.plan.tracker import MemoryTracker

    cfg = parse_config(config)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype(dtype_name))
    try:
        with torch.device(device):
            model = PadtModel(cfg).eval().requires_grad_(False)
    finally:
        torch.set_default_dtype(before)
    grids = [resized_grid(*shape.image_wh)] * shape.batch
    ids, mask = synthetic_prompts(cfg, grids, max(1, shape.text_tokens - TEMPLATE_TOKENS))
    meta = host_meta(model, grids, ids, mask)
    settings = GenerationSettings(
        max_new_tokens=shape.max_new_tokens, eos_token_ids=[IM_END], pad_token_id=IM_END, repetition_penalty=1.05
    )
    pipe = PadtPipeline(model, None, settings)
    cuda = device.startswith("cuda")
    tracker = MemoryTracker(device_type=torch.device(device).type)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode(), tracker:
        tracker.mark("weights", *model.parameters())
        meta_d, ids_d, mask_d = meta.to(device), ids.to(device), mask.to(device)
        grid_d = torch.tensor([list(g) for g in grids]).to(device)
        t, h, w = grids[0]
        pixels = torch.randn((shape.batch * t * h * w, 3 * 2 * 14 * 14), device=device)
        vis, protos = model.encode_images(pixels, grid_d, layout=meta_d.vision)
        enc = Encoded(vis, protos, model.extended_vocab(protos, grid_d, grids=grids), grids)
        gids = to_global(ids_d, grid_d, cfg.merge_size, cfg.vocab_size)
        dec = start_decoding(model, enc.vocab, vis.merged, gids, mask_d, grid_d, settings, prompt=meta_d.prompt)
        for _ in range(steps):
            dec.step()
        parses = synthetic_parses(grids, shape.max_new_tokens, max(1, shape.objects), shape.vrts)
        decoded = pipe.vl_decode(pipe.features(parses, dec.step.state.hidden, None), enc, grid_d)
        pipe.stage_outputs(decoded, [shape.image_wh] * shape.batch)
    if cuda:
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return tracker.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--config", default=str(ROOT / "tests/fixtures/configs/padt_rec_3b.json"), help="config.json or checkpoint folder"
    )
    ap.add_argument("--task", default="rec")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--auto", action="store_true", help="also resolve -b auto here and run that batch")
    ap.add_argument("--image-size", default=None, help="WxH of every image (default: the split's typical 640x480)")
    ap.add_argument("--layers", type=int, default=None, help="text and vision blocks kept (released widths): the CPU dry run")
    args = ap.parse_args()

    import torch

    from padt_eval.core.types import Task
    from padt_eval.plan.planner import Session, batch_shape, model_files

    config, folder = model_files(args.config)
    if args.layers is not None:
        import tempfile

        from padt_eval.models.padt.fake_run import with_layers

        config = with_layers(config, args.layers, args.layers)
        args.config = str(Path(tempfile.mkdtemp()) / "config.json")  # -b auto plans from a file, as a run does
        Path(args.config).write_text(json.dumps(config), encoding="utf-8")
    task = Task(args.task)
    image = tuple(int(v) for v in args.image_size.split("x")) if args.image_size else None
    shape, _ = batch_shape(config, folder, "padt", task, args.batch_size, args.max_new_tokens, image)

    t0 = time.perf_counter()
    session = Session(config, "padt", args.dtype, shape)
    planned = session.measure(args.batch_size)
    session.close()
    plan_s = time.perf_counter() - t0
    measured = real_peak(config, shape, args.device, args.dtype)
    print(
        json.dumps(
            {
                "stage": "plan",
                "config": Path(args.config).name,
                "device": args.device,
                "batch": args.batch_size,
                "planned_peak_gib": round(planned.peak_bytes / GIB, 3),
                "planned_parts_gib": {k: round(v / GIB, 3) for k, v in planned.parts.items()},
                "measured_peak_gib": round(measured / GIB, 3),
                "ratio_measured_to_planned": round(measured / planned.peak_bytes, 3),
                "plan_seconds": round(plan_s, 1),
            }
        ),
        flush=True,
    )
    if not args.auto:
        return
    from padt_eval.runner.auto_batch import resolve_batch_size

    free = torch.cuda.mem_get_info()[0] if args.device.startswith("cuda") else None
    options = {"max_new_tokens": args.max_new_tokens, "dtype": args.dtype}
    batch = resolve_batch_size("auto", device=args.device, model=args.config, family="padt", task=args.task, options=options)
    row = {"stage": "auto", "device": args.device, "batch": batch, "free_gib": round(free / GIB, 3) if free else None}
    try:
        peak = real_peak(config, shape.with_batch(batch), args.device, args.dtype)
        row.update(measured_peak_gib=round(peak / GIB, 3), fit=True)
    except torch.OutOfMemoryError as exc:
        row.update(fit=False, error=str(exc).splitlines()[0][:300])
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
