"""`padt-eval demo`: generate the synthetic splits, score known predictions, check the numbers.

Everything runs from data the package generates, so it needs no download: the demo is
the end-to-end smoke test a new user (and CI) can run on any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from padt_eval import api
from padt_eval.core.library_log import library_output_to
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.registry import open_split
from padt_eval.demo import toolkit_files
from padt_eval.demo.data import Expected, make_predictions
from padt_eval.demo.errors import make_error_predictions
from padt_eval.demo.grefcoco import ExpectedGeneralized, make_grec_predictions, make_gres_predictions, write_grefcoco
from padt_eval.demo.ovd_ric import make_ovd_predictions, make_ric_predictions
from padt_eval.demo.ref_l4 import ExpectedRefL4, make_ref_l4_predictions, rec_expected_from_file, write_ref_l4, write_review
from padt_eval.demo.seg_benchmarks import expected_scores, has_parquet, mask_predictions, write_reasonseg, write_refcoco_m
from padt_eval.demo.synthetic import (
    as_val2017,
    make_world,
    write_coco_instances,
    write_images,
    write_padt_jsonl,
    write_refer,
    write_ric_jsonl,
)
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, PredictionsOptions, RunOptions, ScoringOptions

DEMO_SPLIT_NAME = "demo_refcoco_val"
GREFCOCO_DEMO_SPLIT = "grefcoco_val"
#: `all_match` checks each run's alarms from this many samples on (the default demo has 242)
ALARM_CHECK_MIN_SAMPLES = 100


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
    def ref_l4_predictions(self) -> Path:
        return self.root / "predictions" / "ref_l4_designed.jsonl"

    @property
    def val2017(self) -> Path:
        return self.data / "coco" / "val2017"

    @property
    def train2014_instances(self) -> Path:
        return self.data / "coco" / "annotations" / "instances_train2014.json"

    @property
    def coco_instances(self) -> Path:
        return self.data / "coco" / "annotations" / "instances_val2017.json"

    @property
    def ric_split(self) -> Path:
        return self.data / "PaDT-MLLM" / "ReferringImageCaptioning" / "ric_instances_val2017.json"

    def task_predictions(self, task: Task) -> Path:
        return self.root / "predictions" / f"{task.value}_perturbed_ground_truth.jsonl"

    def generalized_predictions(self, task: Task) -> Path:
        return self.root / "predictions" / f"{task.value}_designed.jsonl"

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
    # metrics.json `errors` counts this run must report (the error demo's designed misses)
    expected_errors: dict[str, int] | None = None
    # the alarms (metrics.json `alarms` names) this run must raise, and no others; None: not
    # checked (demo-errors: whether 30 % hits beat the largest-instance answer depends on the draw)
    expected_alarms: tuple[str, ...] | None = ()


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
ERRORS_MODEL = DemoModel("demo-errors", "designed_errors", 0, ("standard",))


def generate(paths: DemoPaths, n_images: int = 50, seed: int = 0) -> tuple[list, list]:
    """Write the RefCOCO-layout splits, and a COCO val2017-layout world for OVD and RIC;
    return (that val2017 world, with image ids from 1000; the RefCOCO world)."""
    world = make_world(n_images, seed=seed)
    write_images(world, paths.images)
    write_padt_jsonl(world, paths.rec_split)
    write_refer(world, paths.data / "refcoco")
    # every object of every image, where the PaDT JSONL layout looks for the image's other
    # instances (the error breakdown's wrong_object)
    write_coco_instances(world, paths.train2014_instances)
    val = as_val2017(make_world(n_images, seed=seed + 1, first_image_id=1000))
    write_images(val, paths.val2017)
    write_coco_instances(val, paths.coco_instances)
    write_ric_jsonl(val, paths.ric_split)
    write_grefcoco(world, paths.data / "grefcoco")  # gRefCOCO layout on the same images: GREC, GRES
    write_generalized_predictions(paths, seed)
    write_ref_l4(world, paths.data)  # Ref-L4's parquet layout on the same images
    write_review(world, paths.data)  # Ref-L4's review of the demo RefCOCO: refcoco_val_cleaned
    write_ref_l4_predictions(paths)
    write_segmentation_benchmarks(paths, world, seed)
    toolkit_files.write_all(paths.data, paths.root / "imports", paths.rec_split)  # other toolkits' layouts: padt-eval import
    return val, world


def write_generalized_predictions(paths: DemoPaths, seed: int = 0) -> dict[Task, ExpectedGeneralized]:
    """The designed GREC and GRES answers on the gRefCOCO demo split
    (predictions/grec_designed.jsonl, gres_designed.jsonl) and the metrics they must score."""
    out = {}
    for task, make in ((Task.GREC, make_grec_predictions), (Task.GRES, make_gres_predictions)):
        samples = list(open_split(GREFCOCO_DEMO_SPLIT, task, data_root=paths.data, require_images=False))
        out[task] = make(samples, paths.generalized_predictions(task), seed=seed)
    return out


# --- ReasonSeg and RefCOCO-M (demo/seg_benchmarks.py) ---
#: (split, protocols) scored on their demo data; RefCOCO-M only where pyarrow is installed
SEGMENTATION_SPLITS = (("reasonseg_val", ("standard", "official")), ("refcoco_m_val", ("standard",)))


def segmentation_predictions(paths: DemoPaths, split: str) -> Path:
    return paths.root / "predictions" / f"res_{split}_perturbed.jsonl"


def write_segmentation_benchmarks(paths: DemoPaths, world: list, seed: int = 0) -> None:
    """ReasonSeg val/test folders and the RefCOCO-M parquet on the RefCOCO demo images, and
    a predictions file for each scored split (predictions/res_<split>_perturbed.jsonl)."""
    half = len(world) // 2
    val, test = (world[:half], world[half:]) if half else (world, world)  # a one-image demo uses it twice
    write_reasonseg(val, paths.data / "reason_seg" / "ReasonSeg" / "val")
    write_reasonseg(test, paths.data / "reason_seg" / "ReasonSeg" / "test")
    if has_parquet():
        write_refcoco_m(world[:half], paths.data / "refcoco-m" / "data" / "validation-00000-of-00002.parquet")
        second = 1 + sum(len(img.objects) for img in world[:half])  # annotation ids run on across the files
        write_refcoco_m(world[half:], paths.data / "refcoco-m" / "data" / "validation-00001-of-00002.parquet", second)
    for split, _protocols in SEGMENTATION_SPLITS:
        if split != "refcoco_m_val" or has_parquet():
            samples = open_split(split, Task.RES, data_root=paths.data, require_images=False)
            mask_predictions(samples, segmentation_predictions(paths, split), seed=seed)


def _segmentation_runs(paths: DemoPaths, results: Path, progress) -> list[DemoRun]:
    """RES on the ReasonSeg and RefCOCO-M demo splits through the split registry, as
    `padt-eval res --split reasonseg_val --data-root` would; expectations from plain numpy."""
    runs = []
    for split, protocols in SEGMENTATION_SPLITS:
        if split == "refcoco_m_val" and not has_parquet():
            continue
        path = segmentation_predictions(paths, split)
        expected = expected_scores(open_split(split, Task.RES, data_root=paths.data, require_images=False), path)
        for protocol in protocols:
            suffix = "" if protocol == "standard" else f"-{protocol}"
            kwargs = dict(
                data=DataOptions(data_root=paths.data),
                scoring=ScoringOptions(protocol),
                output=OutputOptions(results / f"res-{split}-perturbed{suffix}", "demo-A"),
            )
            result = _score(progress, f"RES {split} ({protocol})", Task.RES, split, path, kwargs)
            runs.append(DemoRun(Task.RES, result, expected[protocol], "demo-A", protocol))
    return runs


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
    score them for REC and RES (model A also under the PaDT release's protocol), score
    model A's OVD (both protocols) and RIC predictions, compare REC/RES runs pairwise, and
    return the runs with their expected metrics, model A's expectation (with the OVD/RIC
    outcome counts), and the comparisons. Run folders go to `results` (default
    `<out>/results`).

    `progress(description)` may return a context manager yielding (start, advance)
    callbacks, as `report.console.progress_bar` does.
    """
    paths = DemoPaths(out)
    results = results if results is not None else paths.results
    val, world = generate(paths, n_images, seed)
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
                kwargs = dict(
                    reader=reader,
                    scoring=ScoringOptions(protocol),
                    output=OutputOptions(_run_dir(results, task, model, protocol), model.name),
                )
                label = f"{task.value.upper()} {model.name}" + (f" ({protocol})" if release else "")
                runs.append(
                    DemoRun(
                        task, _score(progress, label, task, DEMO_SPLIT_NAME, pred_path, kwargs), exp or {}, model.name, protocol
                    )
                )
    assert first is not None
    # Predictions built to contain known wrong-object and localization misses: their
    # `errors` counts are checked against a plain-numpy recomputation (demo/errors.py).
    err_path = paths.predictions.with_name(f"{ERRORS_MODEL.stem}.jsonl")
    err = make_error_predictions(world, err_path, seed=seed)
    for task, exp_metrics, exp_counts in ((Task.REC, err.rec_metrics, err.rec), (Task.RES, err.res_metrics, err.res)):
        reader = PadtRefcocoJsonlReader(paths.rec_split, paths.images, task, name=DEMO_SPLIT_NAME)
        kwargs = dict(reader=reader, output=OutputOptions(_run_dir(results, task, ERRORS_MODEL, "standard"), ERRORS_MODEL.name))
        result = _score(progress, f"{task.value.upper()} {ERRORS_MODEL.name}", task, DEMO_SPLIT_NAME, err_path, kwargs)
        # built to miss 70 % of the samples, a quarter on another object: at the default size
        # no better than answering each image's largest object, which its chance-level alarm
        # says (truly); not checked, as that depends on the draw
        runs.append(DemoRun(task, result, exp_metrics, ERRORS_MODEL.name, "standard", exp_counts, None))
    # OVD and RIC through the split registry, as `padt-eval ovd/ric --data-root` would;
    # OVD also under the release's protocol (PaDT's filtered ground truth, exact labels),
    # which has no independent expectation here: it is shown, not checked.
    ovd = make_ovd_predictions(val, paths.coco_instances, paths.task_predictions(Task.OVD), seed=seed)
    ric = make_ric_predictions(val, paths.task_predictions(Task.RIC), seed=seed)
    for task, split, exp, protocol in (
        (Task.OVD, "coco_val2017", ovd.metrics, "standard"),
        (Task.OVD, "coco_val2017", {}, "padt-release"),
        (Task.RIC, "ric_val", ric.metrics, "standard"),
    ):
        suffix = "" if protocol == "standard" else "-" + protocol.replace("-", "_")
        kwargs = dict(
            data=DataOptions(data_root=paths.data),
            scoring=ScoringOptions(protocol),
            output=OutputOptions(results / f"{task.value}-{split}-perturbed_ground_truth{suffix}", "demo-A"),
        )
        label = f"{task.value.upper()} {split}" + (f" ({protocol})" if protocol != "standard" else "")
        runs.append(
            DemoRun(task, _score(progress, label, task, split, paths.task_predictions(task), kwargs), exp, "demo-A", protocol)
        )
    for task, exp in ((Task.OVD, ovd), (Task.RIC, ric)):
        first.outcomes.update({f"{task.value} {k}": v for k, v in exp.outcomes.items()})
    runs += _generalized_runs(paths, results, progress, seed)
    runs += _ref_l4_runs(paths, results, progress)
    runs += _segmentation_runs(paths, results, progress)
    comparisons = []
    a, b = DEMO_MODELS
    for task in (Task.REC, Task.RES):
        ref = _run_dir(results, task, a, "standard")
        for other in (_run_dir(results, task, b, "standard"), _run_dir(results, task, a, "padt-release")):
            comparisons.append(api.compare(ref, other, resamples=resamples, seed=seed))
    return runs, first, comparisons


def _generalized_runs(paths: DemoPaths, results: Path, progress, seed: int) -> list[DemoRun]:
    """GREC and GRES on the gRefCOCO demo split, both protocols, through the split registry
    as `padt-eval grec/gres --data-root` would; expectations follow from the designed answers."""
    runs = []
    for task, exp in write_generalized_predictions(paths, seed).items():
        runs += _designed_runs(paths, results, progress, task, GREFCOCO_DEMO_SPLIT, paths.generalized_predictions(task), exp)
    return runs


def _designed_runs(paths: DemoPaths, results: Path, progress, task: Task, split: str, predictions: Path, exp) -> list[DemoRun]:
    """Designed answers on a split of the demo data root scored under `standard` and `official`,
    each checked against its expectation (`exp.standard`, `exp.official`)."""
    runs = []
    for protocol, expected in (("standard", exp.standard), ("official", exp.official)):
        suffix = "" if protocol == "standard" else "-official"
        kwargs = dict(
            data=DataOptions(data_root=paths.data),
            scoring=ScoringOptions(protocol),
            output=OutputOptions(results / f"{task.value}-{split}-designed{suffix}", "demo-A"),
        )
        label = f"{task.value.upper()} {split} ({protocol})"
        runs.append(DemoRun(task, _score(progress, label, task, split, predictions, kwargs), expected, "demo-A", protocol))
    return runs


REF_L4_DEMO_SPLIT = "ref_l4_val"


def write_ref_l4_predictions(paths: DemoPaths) -> ExpectedRefL4:
    """The designed Ref-L4 answers (predictions/ref_l4_designed.jsonl) and what they must score."""
    reader = open_split(REF_L4_DEMO_SPLIT, Task.REC, data_root=paths.data, require_images=False)
    return make_ref_l4_predictions(list(reader), paths.ref_l4_predictions)


def _ref_l4_runs(paths: DemoPaths, results: Path, progress) -> list[DemoRun]:
    """Ref-L4 (`rec --split ref_l4_val`, both protocols, designed answers) and the label-noise
    pairs: each demo model's REC predictions on refcoco_val and on refcoco_val_cleaned (the
    refer layout without the expressions the demo review flags), through the split registry
    as `padt-eval rec --data-root` would. Expectations are recomputed from the files."""
    exp = write_ref_l4_predictions(paths)
    runs = _designed_runs(paths, results, progress, Task.REC, REF_L4_DEMO_SPLIT, paths.ref_l4_predictions, exp)
    for model in DEMO_MODELS:
        pred_path = paths.predictions.with_name(f"{model.stem}.jsonl")
        for split in ("refcoco_val", "refcoco_val_cleaned"):
            samples = list(open_split(split, Task.REC, data_root=paths.data, require_images=False))
            kwargs = dict(
                data=DataOptions(data_root=paths.data),
                output=OutputOptions(results / f"rec-{split}-{model.stem}", model.name),
            )
            result = _score(progress, f"REC {split} {model.name}", Task.REC, split, pred_path, kwargs)
            runs.append(DemoRun(Task.REC, result, rec_expected_from_file(pred_path, samples), model.name))
    return runs


def _score(progress, label: str, task: Task, split: str, predictions: Path, kwargs: dict) -> api.RunResult:
    if progress is None:
        return api.score(task, split, PredictionsOptions(predictions), **kwargs)
    with progress(label) as (start, advance):  # type: ignore[misc]
        return api.score(task, split, PredictionsOptions(predictions), on_start=start, on_progress=advance, **kwargs)


@dataclass
class ModelRun:
    label: str
    result: api.RunResult


def demo_checkpoints(out: Path) -> tuple[Path, Path]:
    """Where the demo keeps its tiny random PaDT and Qwen2.5-VL checkpoints."""
    models = DemoPaths(out).root / "models"
    return models / "tiny-padt", models / "tiny-qwen2_5_vl"


def run_models(out: Path, progress_view=None, seed: int = 0, results: Path | None = None) -> list[ModelRun]:
    """Run three models through the sharded runner on the demo split (no downloads):

    * `colour-finder` on 2 CPU ranks (it reads the colour named in each expression off the
      pixels: good on this data, and a quick way to see the runner work);
    * a tiny random-weight PaDT built by our own code (seeded), so the whole PaDT path —
      vision tower, VRT generation, decoder, masks — runs end to end. Its numbers are
      those of random weights: near zero, with many unparseable completions;
    * a tiny random-weight Qwen2.5-VL (transformers' own classes, offline tokenizer), so a
      coordinate-text baseline runs end to end too: chat template, greedy generation, JSON
      boxes read in its resized-input frame. Its numbers are noise as well.
    """
    import torch

    from padt_eval.demo.tiny_padt import build_tiny_padt
    from padt_eval.models.hf.tiny import build_tiny

    paths = DemoPaths(out)
    results = results if results is not None else paths.results
    checkpoint, baseline = demo_checkpoints(out)
    with library_output_to(paths.root / "logs" / "libraries.log"):  # "Writing model shards" bars and the like
        if not (checkpoint / "config.json").is_file():
            build_tiny_padt(checkpoint, seed=seed)
        if not (baseline / "config.json").is_file():
            state = torch.random.get_rng_state()
            build_tiny("qwen2_5_vl", baseline, seed=seed)
            torch.random.set_rng_state(state)
    runs = []
    for label, name, model, family, nproc, task, options in (
        ("colour-finder, 2 CPU ranks", "colour-finder", "colour-finder", "colour-finder", 2, Task.RES, {}),
        (
            "tiny random PaDT (our implementation)",
            "tiny PaDT (random weights)",
            str(checkpoint),
            "padt",
            1,
            Task.RES,
            {"max_new_tokens": 32},
        ),
        (
            "tiny random Qwen2.5-VL (coordinate-text baseline)",
            "tiny Qwen2.5-VL (random weights)",
            str(baseline),
            "qwen2_5_vl",
            1,
            Task.REC,
            {"max_new_tokens": 32},
        ),
    ):
        result = api.run_model(
            task,
            str(paths.rec_split),
            ModelOptions(model, family, options),
            data=DataOptions(image_root=paths.images),
            run=RunOptions(nproc=nproc, device="cpu", batch_size=16, loader_workers=1),
            output=OutputOptions(results / f"{task.value}-{DEMO_SPLIT_NAME}-{Path(model).name}", name),
            progress=progress_view,
        )
        assert result is not None
        runs.append(ModelRun(label, result))
    # the colour-finder on the beyond-the-paper layouts, through the split registry: Ref-L4
    # (long expressions, its own metrics), ReasonSeg and RefCOCO-M (RES)
    registry_runs = [(Task.REC, REF_L4_DEMO_SPLIT, "colour-finder on Ref-L4's layout (ref_l4_val)")]
    registry_runs += [
        (Task.RES, split, f"colour-finder on {split}")
        for split, _ in SEGMENTATION_SPLITS
        if split != "refcoco_m_val" or has_parquet()
    ]
    for task, split, label in registry_runs:
        result = api.run_model(
            task,
            split,
            ModelOptions("colour-finder", "colour-finder", {}),
            data=DataOptions(data_root=paths.data),
            run=RunOptions(nproc=1, device="cpu", batch_size=16, loader_workers=1),
            output=OutputOptions(results / f"{task.value}-{split}-colour-finder", "colour-finder"),
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
    """Every checked metric equals its expectation, REC/RES runs report exactly the expected
    metrics, and every run raises exactly the alarms it is built to raise (none; demo-errors'
    are not checked)."""
    return (
        all(k in r.result.metrics and _close(r.result.metrics[k], v, tol) for r in runs for k, v in r.expected.items())
        and all(set(r.result.metrics) == set(r.expected) for r in runs if r.task in (Task.REC, Task.RES, Task.GREC, Task.GRES))
        and all(
            r.result.errors is not None and r.result.errors["counts"] == r.expected_errors
            for r in runs
            if r.expected_errors is not None
        )
        # alarms are checked at a size where the paired tests can tell (the default 50 images:
        # 242 samples); a demo of a few images is too small to be above chance significantly
        and all(
            alarm_names(r.result) == set(r.expected_alarms)
            for r in runs
            if r.expected_alarms is not None and r.result.counts.get("n_samples", 0) >= ALARM_CHECK_MIN_SAMPLES
        )
    )


def alarm_names(result: api.RunResult) -> set[str]:
    """The names of the alarms a run raised (metrics.json `alarms`)."""
    return {str(a.get("name")) for a in result.record.alarms}
