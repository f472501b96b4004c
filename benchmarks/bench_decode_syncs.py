"""Host syncs and dispatched aten ops per PaDT decode step: this checkout against another
git revision (default `main`), same tiny random model, same batch.

A sync is an op whose result the host must wait for (`.item()`, `bool(t)`, `nonzero`,
boolean-mask indexing, ...; see `padt_eval.testing.op_counter`); on a GPU each one
stalls the launch queue and rules out CUDA graphs and `torch.compile(fullgraph=True)`.
Ops are counted as dispatched aten calls (every one is at least one kernel launch on a
GPU). Both are counts, not times, so they are exact and machine independent.

Per step is measured the same way for both revisions: generate T1 and T2 tokens (eos
disabled, so every row runs every step) under the counter and divide the difference by
T2 - T1, which removes the prefill and the one-off work. That figure includes the
loop's own work between steps (our loop reads "all rows done?" every 8 steps). Where the
checkout has a `DecodeStep`, one step is also counted directly ("inside the step").

    python benchmarks/bench_decode_syncs.py                   # vs main, 2 and 36 text layers
    python benchmarks/bench_decode_syncs.py --before HEAD~3 --layers 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(layers: int, batch: int, t1: int, t2: int) -> dict:
    """Runs inside a process whose `padt_eval` is the tree under test."""
    import numpy as np
    import torch
    from PIL import Image

    from padt_eval.demo.tiny_padt import build_tiny_padt
    from padt_eval.models.padt.adapter import load_padt
    from padt_eval.models.padt.generation import generate

    folder = build_tiny_padt(Path(tempfile.mkdtemp()) / "tiny", seed=0, num_hidden_layers=layers)
    pipe = load_padt(str(folder), max_new_tokens=t2).pipeline
    rng = np.random.default_rng(0)
    sizes = [(64, 48), (40, 72), (56, 56), (90, 30)]
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in (sizes * batch)[:batch]]
    prompts = [f"Please find object number {i}." for i in range(batch)]
    inputs = pipe.processor.batch([pipe.processor.prepare_image(im) for im in images], prompts)
    enc = pipe.encode(inputs)
    ids = pipe.global_ids(inputs.input_ids, inputs.image_grid_thw)
    base = dict(pipe.settings.__dict__, eos_token_ids=[], repetition_penalty=1.05)

    def totals(steps: int) -> tuple[int, int, dict]:
        settings = type(pipe.settings)(**dict(base, max_new_tokens=steps))
        with counter_class()() as c:
            generate(pipe.model, enc.vocab, enc.vision.merged, ids, inputs.attention_mask, inputs.image_grid_thw, settings)
        return c.ops, c.syncs, dict(c.sync_names)

    ops1, syncs1, _ = totals(t1)
    ops2, syncs2, names2 = totals(t2)
    out = {
        "layers": layers,
        "batch": batch,
        "ops_per_step": (ops2 - ops1) / (t2 - t1),
        "syncs_per_step": (syncs2 - syncs1) / (t2 - t1),
        "sync_ops_in_a_run": names2,
    }
    try:
        from padt_eval.models.padt.generation import start_decoding
    except ImportError:
        return out
    settings = type(pipe.settings)(**dict(base, max_new_tokens=t2))
    with torch.inference_mode():
        dec = start_decoding(
            pipe.model, enc.vocab, enc.vision.merged, ids, inputs.attention_mask, inputs.image_grid_thw, settings
        )
        dec.step()  # warm
        with counter_class()() as c:
            dec.step()
    out.update(inside_step_ops=c.ops, inside_step_syncs=c.syncs)
    return out


def counter_class():
    """The counter of *this* checkout (loaded by path), so both revisions are counted alike."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("op_counter_here", ROOT / "padt_eval/testing/op_counter.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.OpCounter


def run_tree(tree: Path, args, layers: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--measure",
        "--layers",
        str(layers),
        "--batch-size",
        str(args.batch_size),
        "--t1",
        str(args.t1),
        "--t2",
        str(args.t2),
    ]
    res = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"measuring {tree} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="git revision to compare against")
    ap.add_argument("--layers", type=int, nargs="+", default=[2, 36])
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--t1", type=int, default=8)
    ap.add_argument("--t2", type=int, default=24)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.layers[0], args.batch_size, args.t1, args.t2)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        rows = []
        for layers in args.layers:
            rows.append(("before (" + args.before + ")", run_tree(before, args, layers)))
            rows.append(("this checkout", run_tree(ROOT, args, layers)))
    print(
        f"PaDT decode step, tiny random model, batch {args.batch_size}, per step = "
        f"(count at {args.t2} tokens - count at {args.t1}) / {args.t2 - args.t1}"
    )
    print(f"{'':22}{'layers':>7}{'ops/step':>10}{'syncs/step':>12}{'in-step ops':>13}{'in-step syncs':>15}")
    for name, r in rows:
        print(
            f"{name:22}{r['layers']:7d}{r['ops_per_step']:10.1f}{r['syncs_per_step']:12.3f}"
            f"{r.get('inside_step_ops', '-'):>13}{r.get('inside_step_syncs', '-'):>15}"
        )
    print(json.dumps([dict(r, tree=name) for name, r in rows]))


if __name__ == "__main__":
    main()
