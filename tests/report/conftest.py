"""A small scored run on synthetic data, with images, for the report tests."""

from __future__ import annotations

import pytest

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.demo.data import make_predictions
from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl
from padt_eval.options import OutputOptions, PredictionsOptions


def _synthetic_split(root, seed: int):
    """8 synthetic images and their PaDT JSONL split under `root/data`: (world, images, split)."""
    world = make_world(8, seed=seed)
    images = root / "data" / "coco" / "train2014"
    write_images(world, images)
    split = root / "data" / "split.json"
    write_padt_jsonl(world, split)
    return world, images, split


@pytest.fixture(scope="session")
def scored_runs(tmp_path_factory):
    """REC and RES runs (with report.html) of perturbed ground truth on 8 synthetic images."""
    root = tmp_path_factory.mktemp("reportdata")
    _, images, split = _synthetic_split(root, seed=2)
    preds = root / "preds.jsonl"
    make_predictions(PadtRefcocoJsonlReader(split, images, Task.REC), preds, seed=1)
    runs = {}
    for task in (Task.REC, Task.RES):
        reader = PadtRefcocoJsonlReader(split, images, task, name="synth_val")
        runs[task.value] = api.score(
            task,
            "synth_val",
            PredictionsOptions(preds),
            reader=reader,
            output=OutputOptions(root / "results" / f"{task.value}-run"),
        ).out_dir
    return root, runs


@pytest.fixture(scope="session")
def error_runs(tmp_path_factory):
    """REC and RES runs of the demo's designed misses, with every image's instances."""
    from padt_eval.demo.errors import make_error_predictions
    from padt_eval.demo.synthetic import write_coco_instances

    root = tmp_path_factory.mktemp("errorreport")
    world, images, split = _synthetic_split(root, seed=3)
    write_coco_instances(world, root / "data" / "coco" / "annotations" / "instances_train2014.json")
    expected = make_error_predictions(world, root / "designed.jsonl", seed=3)
    runs = {}
    for task in (Task.REC, Task.RES):
        reader = PadtRefcocoJsonlReader(split, images, task, name="synth_val")
        runs[task.value] = api.score(
            task,
            "synth_val",
            PredictionsOptions(root / "designed.jsonl"),
            reader=reader,
            output=OutputOptions(root / "results" / f"{task.value}-errors"),
        ).out_dir
    return runs, expected


@pytest.fixture(scope="session")
def demo_results(tmp_path_factory):
    """The demo's results folders (`padt-eval demo --no-models` on 6 images): run folder name -> path."""
    from padt_eval.demo.run import run_demo

    out = tmp_path_factory.mktemp("demo_for_diff")
    run_demo(out, n_images=6, seed=0, resamples=200)
    return {p.name: p for p in (out / "results").iterdir() if (p / "metrics.json").is_file()}
