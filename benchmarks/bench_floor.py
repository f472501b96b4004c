"""Scoring through the CLI against the field's anchor and the library floor, per task and size.

Each case writes a synthetic split and predictions file (REC/RES: `bench_rec_res.write_files`,
RefCOCO-sized masks; OVD: `tests/coco_synth.random_coco`, COCO-like, 100 detections an
image; RIC: five captions an image), then times, each in a fresh process on the same files:

* ours: `padt-eval <task> -s SPLIT -p PREDICTIONS -o OUT` as a user runs it (report on);
* the anchor and the floor of `floor_scripts.py` (what each is: that module's docstring).

The three run in rounds whose order alternates (ours first, then last), so load on a shared
machine hits all sides alike; reported are anchor/ours and floor/ours per round as median
[min–max] (> 1: padt-eval is faster), each side's median seconds, and the peak RSS of each
side's processes (`wait4`'s ru_maxrss, the median over the rounds). Both wall-clock and CPU
time (user + system, from `wait4`) are given: on a machine shared with other jobs the wall
clock mostly measures waiting for a core, and the CPU-time ratio is the steadier one. The headline numbers of
all three must agree (1e-9) or the case fails. Where a case has two sizes, the growth of
padt-eval's peak RSS from the small to the large one is printed too.

    python benchmarks/bench_floor.py                      # every case below, 5 rounds
    python benchmarks/bench_floor.py --task rec --sizes 5000 50000 --rounds 7
    python benchmarks/bench_floor.py --task ovd --sizes 500000 --rounds 1   # 5,000 images
    python benchmarks/bench_floor.py --task ovd --pycocotools                # pycocotools as well
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from padt_eval.metrics.detection import STAT_KEYS  # noqa: E402

FLOOR_SCRIPTS = Path(__file__).resolve().parent / "floor_scripts.py"
#: sizes per task: samples (REC/RES), detections (OVD, 100 an image), images (RIC)
DEFAULT_SIZES = {"rec": (5_000, 50_000), "res": (5_000, 50_000), "ovd": (50_000, 500_000), "ric": (5_000,)}
CHECKED = {
    "rec": ("acc@0.5", "acc@0.75", "acc@0.9", "mean_iou"),
    "res": ("miou", "ciou"),
    "ovd": STAT_KEYS,  # the 12 COCO numbers, named as padt-eval names them
    "ric": ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider_d"),
}
DETS_PER_IMAGE = 100


# -- data ------------------------------------------------------------------------------
def write_ovd(n_dets: int, folder: Path) -> tuple[Path, Path]:
    from tests.coco_synth import random_coco

    gt, dets = random_coco(
        max(1, n_dets // DETS_PER_IMAGE), seed=0, n_categories=80, gt_per_image=7.2, dets_per_image=DETS_PER_IMAGE, crowd_p=0.03
    )
    names = {c["id"]: c["name"] for c in gt["categories"]}
    split, preds = folder / "instances.json", folder / "preds.jsonl"
    split.write_text(json.dumps(gt))
    by_image: dict[int, list] = {img["id"]: [] for img in gt["images"]}
    for d in dets:
        x, y, w, h = d["bbox"]
        by_image[d["image_id"]].append({"bbox": [x, y, x + w, y + h], "score": d["score"], "label": names[d["category_id"]]})
    with open(preds, "w") as f:
        for image_id, objects in by_image.items():
            f.write(json.dumps({"sample_id": str(image_id), "objects": objects}) + "\n")
    return split, preds


_WORDS = (
    "a an the man woman child dog cat horse bus car train red blue green white black large small wooden "
    "sits stands walks rides holds looks at on in near next to under behind with table chair street grass "
    "field kitchen plate pizza umbrella bench sky building two three people group of"
).split()


def write_ric(n_images: int, folder: Path) -> tuple[Path, Path]:
    """PaDT's RIC layout (one line a caption, five an image) and one caption an image."""
    from pycocotools import mask as cocomask

    rng = random.Random(0)

    def sentence() -> str:
        s = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(7, 16)))
        return s[0].upper() + s[1:] + rng.choice([".", ".", "!", ""])

    split, preds = folder / "ric.jsonl", folder / "preds.jsonl"
    with open(split, "w") as fs, open(preds, "w") as fp:
        for i in range(n_images):
            h, w = 480, 640
            x1, y1 = rng.uniform(0, 0.5), rng.uniform(0, 0.5)
            nb = [x1, y1, x1 + rng.uniform(0.1, 0.4), y1 + rng.uniform(0.1, 0.4)]
            px = [nb[0] * w, nb[1] * h, nb[2] * w, nb[1] * h, nb[2] * w, nb[3] * h, nb[0] * w, nb[3] * h]
            r = cocomask.merge(cocomask.frPyObjects([px], h, w))
            obj = {"bbox": nb, "rle": {"size": [h, w], "counts": r["counts"].decode()}, "iscrowd": 0, "area": 1.0}
            refs = [sentence() for _ in range(5)]
            for ref in refs:
                fs.write(json.dumps({"id": i + 1, "image": f"{i + 1:012d}.jpg", "answer_template": ref, "objects": [obj]}) + "\n")
            cand = rng.choice(refs)[: rng.randint(20, 60)].rstrip() + " " + sentence() if rng.random() < 0.6 else sentence()
            box = [v + rng.uniform(-10, 10) for v in (nb[0] * w, nb[1] * h, nb[2] * w, nb[3] * h)]
            fp.write(json.dumps({"sample_id": str(i + 1), "text": cand, "objects": [{"bbox": box}]}) + "\n")
    return split, preds


def write_case(task: str, n: int, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    if task in ("rec", "res"):
        from benchmarks.bench_rec_res import write_files

        return write_files(n, folder)
    return write_ovd(n, folder) if task == "ovd" else write_ric(n, folder)


# -- running ---------------------------------------------------------------------------
def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, peak RSS MiB, stdout): CPU time (user + system) and RSS from
    wait4 on this very process (and the children it waited for, e.g. Java)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks, err_chunks = [], []
    # both pipes read to the end (a thread for stderr) before reaping with wait4, whose
    # rusage is this child's own (RUSAGE_CHILDREN would be the maximum over all children)
    t = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    t.start()
    out_chunks.append(proc.stdout.read())
    t.join()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = b"".join(out_chunks).decode(), b"".join(err_chunks).decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{out[-2000:]}\n{err[-4000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def _ours_cmd(task: str, split: Path, preds: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "padt_eval.cli", task, "-s", str(split), "-p", str(preds), "-o", str(out)]


def _ours_numbers(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["metrics"]


def _agree(task: str, want: dict, got: dict, who: str) -> None:
    for k in CHECKED[task]:
        a, b = want.get(k), got.get(k)
        if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-9):
            raise SystemExit(f"{task}: {who} gives {k} = {b}, padt-eval {a}")


def _spread(xs: list[float], digits: int = 2) -> str:
    return f"{statistics.median(xs):.{digits}f} [{min(xs):.{digits}f}–{max(xs):.{digits}f}]"


def bench_case(task: str, n: int, rounds: int, root: Path, others: list[str], env: dict[str, str]) -> dict:
    t = time.perf_counter()
    split, preds = write_case(task, n, root / f"{task}{n}")
    print(f"\n{task.upper()} {n:,}: data written in {time.perf_counter() - t:.1f} s", flush=True)
    runs = root / "runs"

    def ours(k: int) -> tuple[float, float, float, dict]:
        out = runs / f"{task}{n}_{k}"
        seconds, cpu, rss, _ = run_measured(_ours_cmd(task, split, preds, out), env)
        numbers = _ours_numbers(out)
        shutil.rmtree(out)
        return seconds, cpu, rss, numbers

    def other(kind: str) -> tuple[float, float, float, dict]:
        seconds, cpu, rss, stdout = run_measured([sys.executable, str(FLOOR_SCRIPTS), kind, task, str(split), str(preds)], env)
        return seconds, cpu, rss, json.loads(stdout.strip().splitlines()[-1])

    # a warm-up of each side: split caches built, .pyc files written, files in the page cache
    want = ours(-1)[3]
    for kind in others:
        _agree(task, want, other(kind)[3], kind)
    sides = ["ours", *others]
    times: dict[str, list[float]] = {s: [] for s in sides}
    cpus: dict[str, list[float]] = {s: [] for s in sides}
    rss: dict[str, list[float]] = {s: [] for s in sides}
    for k in range(rounds):
        for side in sides if k % 2 == 0 else sides[::-1]:
            seconds, cpu, peak, numbers = ours(k) if side == "ours" else other(side)
            _agree(task, want, numbers, side)
            times[side].append(seconds)
            cpus[side].append(cpu)
            rss[side].append(peak)
    result = {"task": task, "n": n, "times": times, "cpu": cpus, "rss": rss}
    print(
        f"  padt-eval {task} (CLI, report on): {_spread(times['ours'])} s wall, {_spread(cpus['ours'])} s CPU, "
        f"peak RSS {statistics.median(rss['ours']):.0f} MiB"
    )
    for side in others:
        ratios = [a / o for a, o in zip(times[side], times["ours"])]
        cpu_ratios = [a / o for a, o in zip(cpus[side], cpus["ours"])]
        print(
            f"  {side:<11}: {_spread(times[side])} s wall, {_spread(cpus[side])} s CPU, peak RSS {statistics.median(rss[side]):.0f} MiB;"
            f"  {side}/ours {_spread(ratios)}x wall, {_spread(cpu_ratios)}x CPU over {rounds} rounds"
        )
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["rec", "res", "ovd", "ric", "all"], default="all")
    ap.add_argument("--sizes", type=int, nargs="+", help="override the sizes of the chosen task")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pycocotools", action="store_true", help="OVD: time pycocotools' standard use as a second anchor")
    ap.add_argument("--skip-anchor", action="store_true", help="time the floor only (the RES anchor decodes every mask: slow)")
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = ap.parse_args()
    tasks = ["rec", "res", "ovd", "ric"] if args.task == "all" else [args.task]
    results = []
    with tempfile.TemporaryDirectory(prefix="padt-bench-floor-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(REPO), "PADT_EVAL_CACHE": str(root / "cache")}
        # Bytecode is cached as a user's Python caches it (a shell with PYTHONDONTWRITEBYTECODE
        # set would recompile padt-eval's ~450 modules in every timed run, ~0.1 s the
        # floor's single script does not pay); kept under the temporary folder, not the repo.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        for task in tasks:
            others = (["floor"] if args.skip_anchor else ["anchor", "floor"]) + (
                ["pycocotools"] if task == "ovd" and args.pycocotools else []
            )
            sizes = args.sizes or DEFAULT_SIZES[task]
            case = [bench_case(task, n, args.rounds, root, others, env) for n in sizes]
            results += case
            if len(case) >= 2:
                small, big = case[0], case[-1]
                growth = statistics.median(big["rss"]["ours"]) / statistics.median(small["rss"]["ours"])
                print(f"  peak RSS growth {small['n']:,} -> {big['n']:,} ({big['n'] / small['n']:.0f}x the size): {growth:.2f}x")
            shutil.rmtree(root / "runs", ignore_errors=True)
            for p in root.glob(f"{task}*"):
                shutil.rmtree(p, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
