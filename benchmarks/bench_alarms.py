"""What the alarms cost: the share of a REC/RES scoring run spent gathering their columns
and running their checks (scoring/alarm_watch.py), at 50,000 samples, through the
columnar path (scoring/columnar.py), which scores these files.

The anchor is the same scoring with the alarms switched off (`AlarmWatch` replaced by a
class that keeps and checks nothing, and the columnar path's per-line answer key and
hit-max read, `columnar._alarm_fields`, by a function that returns nothing), in the same
process on the same files, timed in alternating pairs. Reported per task: the median
[min-max] of the ratio with/without; of the watch's own share of the run (its
`add_columns` and `alarms` calls timed inside it); and of the per-line part's share,
timed apart (`_alarm_fields` called on every parsed line of the file, divided by the
run's time). The split has an instances file (three instances an image, two expressions
an image), so the largest-instance test runs as on RefCOCO.

    python benchmarks/bench_alarms.py                 # 50,000 samples, 5 pairs, REC and RES
    python benchmarks/bench_alarms.py --n 5000 --pairs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_rec_res import HEIGHT, WIDTH, _polygon, _rle  # noqa: E402 - the same random shapes
from padt_eval import api  # noqa: E402
from padt_eval.core.types import Task  # noqa: E402
from padt_eval.options import OutputOptions, PredictionsOptions  # noqa: E402
from padt_eval.scoring import alarm_watch, columnar  # noqa: E402
from padt_eval.scoring import score as score_module  # noqa: E402


def write_files(n: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A PaDT-layout split (two expressions an image), its instances_train2014.json (three
    instances an image) and a predictions file (a box and mask near the target's)."""
    from pycocotools import mask as cocomask

    rng = np.random.default_rng(seed)
    n_images = (n + 1) // 2
    images, anns = [], []
    polys = {}
    for img in range(1, n_images + 1):
        images.append({"id": img, "width": WIDTH, "height": HEIGHT, "file_name": f"COCO_train2014_{img:012d}.jpg"})
        for k in range(3):
            poly = _polygon(rng)
            rle = cocomask.frPyObjects([poly], HEIGHT, WIDTH)[0]
            x, y, w, h = cocomask.toBbox(rle).tolist()
            ann_id = img * 10 + k
            polys[ann_id] = poly
            anns.append(
                {
                    "id": ann_id,
                    "image_id": img,
                    "bbox": [x, y, w, h],
                    "segmentation": [poly],
                    "area": float(cocomask.area(rle)),
                    "iscrowd": 0,
                    "category_id": 1,
                }
            )
    (folder / "images").mkdir(exist_ok=True)
    (folder / "instances_train2014.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "thing"}]})
    )
    split, preds = folder / f"split_{n}.json", folder / f"preds_{n}.jsonl"
    with open(split, "w") as fs, open(preds, "w") as fp:
        for i in range(n):
            img = i // 2 + 1
            ann = anns[(img - 1) * 3 + int(rng.integers(0, 3))]
            x, y, w, h = ann["bbox"]
            gt = _rle([polys[ann["id"]]])
            fs.write(
                json.dumps(
                    {
                        "id": img,
                        "image": f"COCO_train2014_{img:012d}.jpg",
                        "objects": [
                            {"bbox": [x / WIDTH, y / HEIGHT, (x + w) / WIDTH, (y + h) / HEIGHT], "rle": gt, "label": f"thing {i}"}
                        ],
                    }
                )
                + "\n"
            )
            dx = float(rng.normal(0, 8))
            box = [x + dx, y, x + w + dx, y + h]
            mask = _rle([polys[ann["id"]]]) if rng.random() < 0.7 else _rle([_polygon(rng)])
            fp.write(json.dumps({"sample_id": str(i), "objects": [{"bbox": box, "mask": mask}]}) + "\n")
    return split, preds


class _NoAlarms:
    """The anchor: the same calls, nothing kept, nothing checked."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def add(self, samples, preds, records) -> None:
        pass

    def add_columns(self, columns) -> None:
        pass

    def alarms(self, reader, counts, model) -> list:
        return []


_ALARM_FIELDS = columnar._alarm_fields


def _no_alarm_fields(obj, task) -> tuple:
    return None, None


class _TimedWatch(alarm_watch.AlarmWatch):
    """The real watch, its own time summed in `spent`."""

    spent = 0.0

    def add(self, samples, preds, records) -> None:
        t0 = time.perf_counter()
        super().add(samples, preds, records)
        _TimedWatch.spent += time.perf_counter() - t0

    def add_columns(self, columns) -> None:
        t0 = time.perf_counter()
        super().add_columns(columns)
        _TimedWatch.spent += time.perf_counter() - t0

    def alarms(self, reader, counts, model):
        t0 = time.perf_counter()
        try:
            return super().alarms(reader, counts, model)
        finally:
            _TimedWatch.spent += time.perf_counter() - t0


def _score(task: Task, split: Path, preds: Path, out: Path, watch) -> float:
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader

    score_module.AlarmWatch = watch
    columnar._alarm_fields = _ALARM_FIELDS if watch is _TimedWatch else _no_alarm_fields
    reader = PadtRefcocoJsonlReader(split, split.parent / "images", task)
    t0 = time.perf_counter()
    api.score(task, str(split), PredictionsOptions(preds), reader=reader, output=OutputOptions(out, report=False))
    return time.perf_counter() - t0


def _per_line_seconds(task: Task, preds: Path) -> float:
    """`_alarm_fields` on every line of the predictions file, as `_read_predictions` calls it."""
    import orjson

    with open(preds, "rb") as f:
        objs = [orjson.loads(raw) for raw in f]
    t0 = time.perf_counter()
    for obj in objs:
        _ALARM_FIELDS(obj, task)
    return time.perf_counter() - t0


def _fmt(xs: list[float], pct: bool = False) -> str:
    f = (lambda v: f"{100 * v:.1f} %") if pct else (lambda v: f"{v:.3f}")
    return f"{f(statistics.median(xs))} [{f(min(xs))}-{f(max(xs))}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--tasks", default="rec,res")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        split, preds = write_files(args.n, folder)
        for name in args.tasks.split(","):
            task = Task(name)
            _score(task, split, preds, folder / "warm", _TimedWatch)  # instances cache, imports
            ratios, shares, base_s, line_shares = [], [], [], []
            for i in range(args.pairs):
                order = [(_NoAlarms, "off"), (_TimedWatch, "on")]
                if i % 2:
                    order.reverse()
                times = {}
                for watch, label in order:
                    _TimedWatch.spent = 0.0
                    times[label] = _score(task, split, preds, folder / f"{label}_{i}", watch)
                    if label == "on":
                        shares.append(_TimedWatch.spent / times[label])
                        line_shares.append(_per_line_seconds(task, preds) / times[label])
                ratios.append(times["on"] / times["off"])
                base_s.append(times["off"])
            print(
                f"{name.upper()} at {args.n} samples, {args.pairs} alternating pairs: scoring without alarms "
                f"{_fmt(base_s)} s; with/without {_fmt(ratios)}; the watch's own share of the run {_fmt(shares, pct=True)}; "
                f"the per-line key's share {_fmt(line_shares, pct=True)}"
            )


if __name__ == "__main__":
    main()
