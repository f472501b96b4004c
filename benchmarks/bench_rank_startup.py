"""Per-rank start-up of the DataLoader: the loader's start method before and after.

Ranks started by the elastic launcher are spawned processes, and used to hand "spawn" on
to their DataLoader workers, which then imported torch, transformers and the adapter
again (runner/children.py). This measures, per rank, the time from the model being
loaded to the first prepared batch (`first_batch_seconds` in the manifest), for:

* anchor: `--loader-workers 0` (no child process; the batch is prepared in the rank);
* before: `--loader-workers 2` with `PADT_EVAL_LOADER_START_METHOD=spawn` (the old behaviour);
* after:  `--loader-workers 2` with the default (fork on CPU ranks).

Runs are `--workers 2` CPU runs of `colour-finder` on a synthetic RES split, in
alternating triples (anchor, before, after), each into a fresh folder. Reported: the
median over pairs of each rank's start-up in seconds and as a ratio to the anchor of the
same triple, with the spread (min–max), and each run's end-to-end seconds.

    python benchmarks/bench_rank_startup.py [--pairs 3] [--images 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def _run(root: Path, out: Path, loader_workers: int, start_method: str | None) -> tuple[list[float], float]:
    from padt_eval import api
    from padt_eval.core.family_modules import add_family_module
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    add_family_module("padt_eval.demo.colour_finder")  # the demo's model, as the CLI lists it

    if start_method:
        os.environ["PADT_EVAL_LOADER_START_METHOD"] = start_method
    else:
        os.environ.pop("PADT_EVAL_LOADER_START_METHOD", None)
    t0 = time.perf_counter()
    api.run_model(
        Task.RES,
        "refcoco_val",
        ModelOptions("colour-finder"),
        data=DataOptions(data_root=root),
        run=RunOptions(2, batch_size=4, loader_workers=loader_workers),
        output=OutputOptions(out, report=False),
    )
    wall = time.perf_counter() - t0
    runner = json.loads((out / "manifest.json").read_text())["runner"]
    return [r["first_batch_seconds"] for r in runner["per_rank"]], wall


def _fmt(xs: list[float], unit: str = "s") -> str:
    return f"{statistics.median(xs):7.2f}{unit} [{min(xs):.2f}–{max(xs):.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--images", type=int, default=12)
    args = ap.parse_args()
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl, write_refer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        world = make_world(args.images, seed=5)
        write_images(world, root / "coco" / "train2014")
        write_padt_jsonl(world, root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json")
        write_refer(world, root / "refcoco", split_of=lambda image_id: "val")
        rows: dict[str, dict[str, list[float]]] = {
            k: {"startup": [], "ratio": [], "wall": []} for k in ("anchor", "before", "after")
        }
        for i in range(args.pairs):
            triple = {}
            for name, workers, method in (("anchor", 0, None), ("before", 2, "spawn"), ("after", 2, None)):
                starts, wall = _run(root, Path(tmp) / f"{name}{i}", workers, method)
                triple[name] = (starts, wall)
            anchor = statistics.mean(triple["anchor"][0])
            for name, (starts, wall) in triple.items():
                rows[name]["startup"] += starts
                rows[name]["ratio"] += [s / anchor for s in starts]
                rows[name]["wall"].append(wall)
        print(
            f"per-rank loader start-up (model loaded → first batch), 2 CPU ranks, {args.pairs} alternating triples; median [min–max]"
        )
        for name, r in rows.items():
            print(f"  {name:>6}: {_fmt(r['startup'])}  ×anchor {_fmt(r['ratio'], '')}   run end to end {_fmt(r['wall'])}")


if __name__ == "__main__":
    main()
