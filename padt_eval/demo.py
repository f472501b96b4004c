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
from padt_eval.data.synthetic import make_world, write_images, write_padt_jsonl, write_refer
from padt_eval.demo_data import Expected, make_predictions
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
    def results(self) -> Path:
        return self.root / "results"


@dataclass
class DemoRun:
    task: Task
    result: api.RunResult
    expected: dict[str, float]
    model: str = "demo-A"
    protocol: str = "standard"


@dataclass
class DemoModel:
    name: str  # display name in tables
    stem: str  # predictions file stem and run folder suffix
    seed_offset: int
    protocols: tuple[str, ...]


# Two "models" (the ground truth perturbed with two seeds) and the release's scoring of the
# first, so the demo exercises the leaderboard, `compare` and `--protocol padt-release`.
DEMO_MODELS = (
    DemoModel("demo-A", "perturbed_ground_truth", 0, ("standard", "padt-release")),
    DemoModel("demo-B", "perturbed_ground_truth_b", 1, ("standard",)),
)


def generate(paths: DemoPaths, n_images: int = 50, seed: int = 0) -> None:
    world = make_world(n_images, seed=seed)
    write_images(world, paths.images)
    write_padt_jsonl(world, paths.rec_split)
    write_refer(world, paths.data / "refcoco")


def _run_dir(results: Path, task: Task, model: DemoModel, protocol: str) -> Path:
    suffix = "" if protocol == "standard" else "-" + protocol.replace("-", "_")
    return results / f"{task.value}-{DEMO_SPLIT_NAME}-{model.stem}{suffix}"


def run_demo(
    out: Path,
    n_images: int = 50,
    seed: int = 0,
    progress: Callable[[str], object] | None = None,
    results: Path | None = None,
    resamples: int = 10_000,
) -> tuple[list[DemoRun], Expected, list[tuple[dict, Path]]]:
    """Generate the demo data under `out`, write perturbed predictions of two demo models,
    score them for REC and RES (model A also under the PaDT release's protocol), compare
    them pairwise, and return the runs with their expected metrics, model A's expectation,
    and the comparisons. Run folders go to `results` (default `<out>/results`).

    `progress(description)` may return a context manager yielding (start, advance)
    callbacks, as `report.console.progress_bar` does.
    """
    paths = DemoPaths(out)
    results = results if results is not None else paths.results
    generate(paths, n_images, seed)
    runs: list[DemoRun] = []
    first: Expected | None = None
    for model in DEMO_MODELS:
        reader_rec = PadtRefcocoJsonlReader(paths.rec_split, paths.images, Task.REC, name=DEMO_SPLIT_NAME)
        pred_path = paths.predictions.with_name(f"{model.stem}.jsonl")
        expected = make_predictions(reader_rec, pred_path, seed=seed + model.seed_offset)
        first = first or expected
        for protocol in model.protocols:
            release = protocol == "padt-release"
            for task, exp in (
                (Task.REC, expected.rec_release if release else expected.rec),
                (Task.RES, expected.res_release if release else expected.res),
            ):
                reader = PadtRefcocoJsonlReader(paths.rec_split, paths.images, task, name=DEMO_SPLIT_NAME)
                kwargs = dict(predictions=pred_path, reader=reader, out=_run_dir(results, task, model, protocol), protocol=protocol, name=model.name)
                label = f"{task.value.upper()} {model.name}" + (f" ({protocol})" if release else "")
                if progress is not None:
                    with progress(label) as (start, advance):  # type: ignore[misc]
                        result = api.evaluate(task, DEMO_SPLIT_NAME, on_start=start, on_progress=advance, **kwargs)
                else:
                    result = api.evaluate(task, DEMO_SPLIT_NAME, **kwargs)
                runs.append(DemoRun(task, result, exp or {}, model.name, protocol))
    comparisons = []
    a, b = DEMO_MODELS
    for task in (Task.REC, Task.RES):
        ref = _run_dir(results, task, a, "standard")
        for other in (_run_dir(results, task, b, "standard"), _run_dir(results, task, a, "padt-release")):
            comparisons.append(api.compare(ref, other, resamples=resamples, seed=seed))
    assert first is not None
    return runs, first, comparisons


def all_match(runs: list[DemoRun], tol: float = 1e-9) -> bool:
    return all(
        k in r.result.metrics and abs(r.result.metrics[k] - v) <= tol for r in runs for k, v in r.expected.items()
    ) and all(set(r.result.metrics) == set(r.expected) for r in runs)
