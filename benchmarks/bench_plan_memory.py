"""The memory plan against a real run: planned peak vs measured peak, and `-b auto`'s batch run for real.

For a PaDT config (released shape on a GPU, the tiny checkpoint on the CPU):

1. plan: one batch of `--batch-size` through the PaDT path on fake CUDA (`plan.planner.Session`);
2. real: a random-weight model of the same config on `--device`, the same path on real
   tensors; its peak is `torch.cuda.max_memory_allocated` on CUDA (reset after loading the
   inputs' model), the tracker's count of real CPU storages on the CPU;
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


def real_peak(config: dict, shape, device: str, dtype) -> int:
    """Peak bytes of the PaDT path run for real on `device` with random weights."""
    import torch

    from padt_eval.plan.padt_path import build_padt, run_padt
    from padt_eval.plan.tracker import MemoryTracker

    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = build_padt(config)
    finally:
        torch.set_default_dtype(before)
    tracker = MemoryTracker(device_type=torch.device(device).type)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad(), tracker:
        tracker.mark("weights", *model.parameters())
        run = run_padt(model, shape, tracker, None, steps=2)
    failed = [s for s in run.stages if s.status != "ran"]
    if failed:
        print(f"bench_plan_memory: real run stages not run: {failed}", file=sys.stderr)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = tracker.peak
    del model, run
    return peak


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
    args = ap.parse_args()

    import torch

    from padt_eval.core.types import Task
    from padt_eval.models.padt.checkpoint import torch_dtype
    from padt_eval.plan.planner import Session, batch_shape, model_files

    config, folder = model_files(args.config)
    task = Task(args.task)
    shape, _ = batch_shape(config, folder, "padt", task, args.batch_size, args.max_new_tokens, None)
    dtype = torch_dtype(args.dtype)

    t0 = time.perf_counter()
    session = Session(config, "padt", args.dtype, shape)
    planned = session.measure(args.batch_size)
    session.close()
    plan_s = time.perf_counter() - t0
    measured = real_peak(config, shape, args.device, dtype)
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
        peak = real_peak(config, shape.with_batch(batch), args.device, dtype)
        row.update(measured_peak_gib=round(peak / GIB, 3), fit=True)
    except torch.OutOfMemoryError as exc:
        row.update(fit=False, error=str(exc).splitlines()[0][:300])
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
