"""`padt-eval demo`: generate the synthetic splits, score known predictions, check the numbers.

Everything runs from data the package generates, so it needs no download: the demo is
the end-to-end smoke test a new user (and CI) can run on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from padt_eval import api
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.synthetic import (
    as_val2017,
    make_world,
    write_coco_instances,
    write_images,
    write_padt_jsonl,
    write_refer,
    write_ric_jsonl,
)
from padt_eval.demo_data import Expected, make_predictions
from padt_eval.demo_ovd_ric import make_ovd_predictions, make_ric_predictions
from padt_eval.types import Task

DEMO_SPLIT_NAME = "demo_refcoco_val"


@dataclass
class DemoPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def images(self) -> Path:
        return self.data / "coco" / "train2014"

    @property
    def rec_split(self) -> Path:
        return self.data / "PaDT-MLLM" / "RefCOCO" / f"{DEMO_SPLIT_NAME}.json"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions" / "perturbed_ground_truth.jsonl"

    @property
    def val2017(self) -> Path:
        return self.data / "coco" / "val2017"

    @property
    def coco_instances(self) -> Path:
        return self.data / "coco" / "annotations" / "instances_val2017.json"

    @property
    def ric_split(self) -> Path:
        return self.data / "PaDT-MLLM" / "ReferringImageCaptioning" / "ric_instances_val2017.json"

    def task_predictions(self, task: Task) -> Path:
        return self.root / "predictions" / f"{task.value}_perturbed_ground_truth.jsonl"

    @property
    def results(self) -> Path:
        return self.root / "results"


@dataclass
class DemoRun:
    task: Task
    result: api.RunResult
    expected: dict[str, float]


def generate(paths: DemoPaths, n_images: int = 50, seed: int = 0) -> list:
    """Write the RefCOCO-layout splits, and a COCO val2017-layout world for OVD and RIC
    (returned, with its image ids starting at 1000)."""
    world = make_world(n_images, seed=seed)
    write_images(world, paths.images)
    write_padt_jsonl(world, paths.rec_split)
    write_refer(world, paths.data / "refcoco")
    val = as_val2017(make_world(n_images, seed=seed + 1, first_image_id=1000))
    write_images(val, paths.val2017)
    write_coco_instances(val, paths.coco_instances)
    write_ric_jsonl(val, paths.ric_split)
    return val


def run_demo(
    out: Path,
    n_images: int = 50,
    seed: int = 0,
    progress: Callable[[str], object] | None = None,
) -> tuple[list[DemoRun], Expected]:
    """Generate the demo data under `out`, write perturbed predictions and score them for REC and RES.

    `progress(description)` may return a context manager yielding (start, advance)
    callbacks, as `report.console.progress_bar` does.
    """
    paths = DemoPaths(out)
    val = generate(paths, n_images, seed)
    reader_rec = PadtRefcocoJsonlReader(paths.rec_split, paths.images, Task.REC, name=DEMO_SPLIT_NAME)
    expected = make_predictions(reader_rec, paths.predictions, seed=seed)
    runs: list[DemoRun] = []
    for task, exp in ((Task.REC, expected.rec), (Task.RES, expected.res)):
        reader = PadtRefcocoJsonlReader(paths.rec_split, paths.images, task, name=DEMO_SPLIT_NAME)
        run_dir = paths.results / f"{task.value}-{DEMO_SPLIT_NAME}-perturbed_ground_truth"
        kwargs = dict(predictions=paths.predictions, reader=reader, out=run_dir)
        if progress is not None:
            with progress(f"{task.value.upper()} {DEMO_SPLIT_NAME}") as (start, advance):  # type: ignore[misc]
                result = api.evaluate(task, DEMO_SPLIT_NAME, on_start=start, on_progress=advance, **kwargs)
        else:
            result = api.evaluate(task, DEMO_SPLIT_NAME, **kwargs)
        runs.append(DemoRun(task, result, exp))
    # OVD and RIC through the split registry, as `padt-eval ovd/ric --data-root` would.
    ovd = make_ovd_predictions(val, paths.coco_instances, paths.task_predictions(Task.OVD), seed=seed)
    ric = make_ric_predictions(val, paths.task_predictions(Task.RIC), seed=seed)
    for task, split, exp in ((Task.OVD, "coco_val2017", ovd), (Task.RIC, "ric_val", ric)):
        kwargs = dict(predictions=paths.task_predictions(task), data_root=paths.data, out=paths.results / f"{task.value}-{split}-perturbed_ground_truth")
        if progress is not None:
            with progress(f"{task.value.upper()} {split}") as (start, advance):  # type: ignore[misc]
                result = api.evaluate(task, split, on_start=start, on_progress=advance, **kwargs)
        else:
            result = api.evaluate(task, split, **kwargs)
        runs.append(DemoRun(task, result, exp.metrics))
        expected.outcomes.update({f"{task.value} {k}": v for k, v in exp.outcomes.items()})
    return runs, expected


@dataclass
class ModelRun:
    label: str
    result: api.RunResult


def run_models(out: Path, progress_view=None, seed: int = 0) -> list[ModelRun]:
    """Run two models through the sharded runner on the demo split (no downloads):

    * `colour-finder` on 2 CPU ranks (it reads the colour named in each expression off the
      pixels: good on this data, and a quick way to see the runner work);
    * a tiny random-weight PaDT built by our own code (seeded), so the whole PaDT path —
      vision tower, VRT generation, decoder, masks — runs end to end. Its numbers are
      those of random weights: near zero, with many unparseable completions.
    """
    from padt_eval.models.padt.tiny import build_tiny_padt

    paths = DemoPaths(out)
    checkpoint = paths.root / "models" / "tiny-padt"
    if not (checkpoint / "config.json").is_file():
        build_tiny_padt(checkpoint, seed=seed)
    runs = []
    for label, model, family, nproc, task, options in (
        ("colour-finder, 2 CPU ranks", "colour-finder", "colour-finder", 2, Task.RES, {}),
        ("tiny random PaDT (our implementation)", str(checkpoint), "padt", 1, Task.RES, {"max_new_tokens": 32}),
    ):
        result = api.run_model(
            task,
            str(paths.rec_split),
            model,
            family=family,
            options=options,
            out=paths.results / f"{task.value}-{DEMO_SPLIT_NAME}-{Path(model).name}",
            nproc=nproc,
            device="cpu",
            batch_size=16,
            loader_workers=1,
            image_root=paths.images,
            progress=progress_view,
        )
        assert result is not None
        runs.append(ModelRun(label, result))
    return runs


def _close(got: float | None, want: float | None, tol: float) -> bool:
    if got is None or want is None:
        return got is want
    return abs(got - want) <= tol


def all_match(runs: list[DemoRun], tol: float = 1e-9) -> bool:
    return all(k in r.result.metrics and _close(r.result.metrics[k], v, tol) for r in runs for k, v in r.expected.items())
