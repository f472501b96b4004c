"""RES scoring speed and memory: padt-eval against the reference scripts' approach.

The anchor is the per-sample work of PaDT's released `eval_refcoco.py` (and most RES
scripts): load the files, decode the predicted and the ground-truth RLE to full arrays,
threshold both (`> 0`) and count `logical_and` / `logical_or`. It is kept a little
*faster* than the release: it decodes each ground truth when needed instead of holding
every decoded mask in memory (10,000 masks of 640x480 are 3 GB), and it does not open
each image with PIL to learn its size. padt-eval streams both files through an id index
and computes exact integer intersections and unions on RLE without decoding.

Both run in this process on the same files, so the ratio is meaningful on any machine.
Peak RSS is measured in fresh subprocesses that only run padt-eval's scoring, at 10,000
and at 50,000 samples: the target is flat memory (within 10 %).

    python benchmarks/bench_rec_res.py            # 10,000 samples timed, RSS at 10k and 50k
    python benchmarks/bench_rec_res.py --small    # a quick run (1,000 / 3,000)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pycocotools import mask as cocomask

HEIGHT, WIDTH = 480, 640


def _polygon(rng: np.random.Generator) -> list[float]:
    """A random 16-gon somewhere in the image (star-shaped, so it never self-intersects)."""
    cx, cy = rng.uniform(0.2, 0.8) * WIDTH, rng.uniform(0.2, 0.8) * HEIGHT
    radius = rng.uniform(20, 160)
    angles = np.sort(rng.uniform(0, 2 * math.pi, 16))
    radii = radius * rng.uniform(0.5, 1.0, 16)
    xs = np.clip(cx + radii * np.cos(angles), 0, WIDTH - 1)
    ys = np.clip(cy + radii * np.sin(angles), 0, HEIGHT - 1)
    return np.stack([xs, ys], 1).ravel().round(2).tolist()


def _rle(polys: list[list[float]]) -> dict:
    r = cocomask.merge(cocomask.frPyObjects(polys, HEIGHT, WIDTH))
    return {"size": [HEIGHT, WIDTH], "counts": r["counts"].decode()}


EMPTY = {"size": [HEIGHT, WIDTH], "counts": cocomask.encode(np.zeros((HEIGHT, WIDTH), np.uint8, order="F"))["counts"].decode()}


def write_files(n: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A PaDT-layout RES split and a predictions file with a mask for (almost) every sample."""
    rng = np.random.default_rng(seed)
    split, preds = folder / f"res_{n}.json", folder / f"preds_{n}.jsonl"
    with open(split, "w") as fs, open(preds, "w") as fp:
        for i in range(n):
            gt_poly = _polygon(rng)
            gt = _rle([gt_poly])
            box = cocomask.toBbox(cocomask.frPyObjects([gt_poly], HEIGHT, WIDTH)[0]).tolist()
            fs.write(
                json.dumps(
                    {
                        "id": i,
                        "image": f"img_{i}.jpg",
                        "objects": [
                            {
                                "bbox": [box[0] / WIDTH, box[1] / HEIGHT, (box[0] + box[2]) / WIDTH, (box[1] + box[3]) / HEIGHT],
                                "rle": gt,
                                "label": f"object {i}",
                            }
                        ],
                    }
                )
                + "\n"
            )
            if rng.random() < 0.03:
                pred_mask = EMPTY
            else:
                parts = [_polygon(rng) for _ in range(int(rng.integers(1, 3)))]
                pred_mask = _rle(parts)
            fp.write(json.dumps({"sample_id": str(i), "objects": [{"bbox": box, "mask": pred_mask}]}) + "\n")
    return split, preds


def reference_scoring(split: Path, preds: Path) -> tuple[float, float]:
    """The anchor: load everything, decode both masks of each sample, compare arrays."""
    gts = [json.loads(line) for line in open(split)]
    pr = {d["sample_id"]: d for d in (json.loads(line) for line in open(preds))}
    inter_sum = union_sum = 0
    ious = []
    for i, g in enumerate(gts):
        grle = g["objects"][0]["rle"]
        gmask = cocomask.decode({"size": grle["size"], "counts": grle["counts"].encode()})
        p = pr.get(str(i))
        if p and p["objects"] and "mask" in p["objects"][0]:
            prle = p["objects"][0]["mask"]
            pmask = cocomask.decode({"size": prle["size"], "counts": prle["counts"].encode()})
        else:
            pmask = np.zeros_like(gmask)
        p, g = pmask > 0, gmask > 0
        inter = int(np.logical_and(p, g).sum())
        union = int(np.logical_or(p, g).sum())
        inter_sum += inter
        union_sum += union
        ious.append(inter / union if union else 0.0)
    return float(np.mean(ious)), inter_sum / union_sum


def ours(split: Path, preds: Path, out: Path) -> tuple[float, float]:
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
    from padt_eval.options import OutputOptions, PredictionsOptions

    reader = PadtRefcocoJsonlReader(split, split.parent, Task.RES)
    r = api.score(Task.RES, str(split), PredictionsOptions(preds), reader=reader, output=OutputOptions(out))
    return r.metrics["miou"], r.metrics["ciou"]


def _child(split: str, preds: str, out: str) -> None:
    """Run only our scoring and print its peak RSS (MiB)."""
    miou, ciou = ours(Path(split), Path(preds), Path(out))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mib": peak_kib / 1024, "miou": miou, "ciou": ciou}))


def peak_rss(split: Path, preds: Path, out: Path) -> float:
    res = subprocess.run(
        [sys.executable, __file__, "--child", str(split), str(preds), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return json.loads(res.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="1,000 samples timed, RSS at 1,000 and 3,000")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    n_time, n_big = (1_000, 3_000) if args.small else (10_000, 50_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        split, preds = write_files(n_time, folder)
        big_split, big_preds = write_files(n_big, folder, seed=1)
        print(f"generated {n_time:,} and {n_big:,} samples of {WIDTH}x{HEIGHT} masks in {time.perf_counter() - t:.1f} s")

        import padt_eval.api  # noqa: F401  (imports are not scoring time, for either side)

        t = time.perf_counter()
        ref = reference_scoring(split, preds)
        t_ref = time.perf_counter() - t
        t = time.perf_counter()
        got = ours(split, preds, folder / "run")
        t_ours = time.perf_counter() - t
        assert abs(ref[0] - got[0]) < 1e-12 and abs(ref[1] - got[1]) < 1e-12, (ref, got)

        rss_small = peak_rss(split, preds, folder / "rss_small")
        rss_big = peak_rss(big_split, big_preds, folder / "rss_big")

    print(f"\nRES scoring of {n_time:,} samples ({WIDTH}x{HEIGHT} masks), same files, same process:")
    print(f"  reference approach (decode both masks, compare arrays): {t_ref:8.2f} s")
    print(f"  padt-eval (RLE intersections, streamed, results written): {t_ours:8.2f} s")
    print(f"  speed-up: {t_ref / t_ours:.1f}x (target >= 20x)   mIoU {got[0]:.6f}  cIoU {got[1]:.6f} (identical)")
    print("\npeak RSS of padt-eval's scoring (fresh process each):")
    print(f"  {n_time:>6,} samples: {rss_small:7.1f} MiB")
    print(f"  {n_big:>6,} samples: {rss_big:7.1f} MiB")
    print(f"  growth: {100 * (rss_big / rss_small - 1):+.1f}% for {n_big / n_time:.0f}x the samples (target: within 10%)")


if __name__ == "__main__":
    main()
