"""The operations of padt-eval as Python functions. The CLI only parses options and calls these."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.data.registry import open_split
from padt_eval.data.split import SplitReader
from padt_eval.core.errors import UsageError
from padt_eval.core.failures import is_interrupt
from padt_eval.core.fileio import sha256_file
from padt_eval.core.library_log import library_output_to
from padt_eval.metrics.errors import ErrorThresholds
from padt_eval.models.base import ModelAdapter
from padt_eval.models.predictions_file import PredictionsFile, PredictionsFileModel
from padt_eval.models.raw_text import raw_text_model
from padt_eval.results.manifest import build_manifest, file_hashes, now_iso
from padt_eval.results.writer import RunWriter, safe_name
from padt_eval.runner.local import run_local
from padt_eval.tasks.error_breakdown import attach_error_breakdown
from padt_eval.tasks.registry import get_task, make_metric, release_gt
from padt_eval.core.types import PromptKey, Task

DEFAULT_RESULTS_ROOT = Path("results")
LIBRARY_LOG = Path("logs") / "libraries.log"  # warnings, library progress bars, Java chatter


@dataclass
class RunResult:
    out_dir: Path
    task: Task
    split: str
    metrics: dict[str, float]
    counts: dict[str, int]
    problems: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # also in metrics.json: what a reader must not miss
    errors: dict[str, Any] | None = None  # metrics.json `errors`: why the misses happened


def default_run_dir(task: Task, split: str, source: str, root: Path = DEFAULT_RESULTS_ROOT) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return root / safe_name(f"{task.value}-{Path(split).stem if split.endswith(('.json', '.jsonl')) else split}-{source}-{stamp}")


def write_report_quietly(run_dir: Path, reader: SplitReader | None = None) -> Path | None:
    """Write `report.html` into a finished run folder; a report problem never fails the run."""
    import warnings

    try:
        from padt_eval.report.run_report import write_run_report

        return write_run_report(run_dir, reader=reader)
    except Exception as exc:  # noqa: BLE001 - the run's results are already safe on disk
        warnings.warn(f"{run_dir}: report.html not written ({type(exc).__name__}: {exc})", stacklevel=2)
        return None


def _model_of_run_predictions(path: Path) -> tuple[dict[str, Any] | None, PromptKey | None]:
    """The model description and prompt key recorded beside `<run>/predictions.jsonl` by a
    model run (the manifest.json of the same folder), or (None, None)."""
    import json

    manifest = path.parent / "manifest.json"
    if path.name != "predictions.jsonl" or not manifest.is_file():
        return None, None
    try:
        model = json.loads(manifest.read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError):
        return None, None
    if not isinstance(model, dict) or model.get("family") in (None, "predictions"):
        return None, None
    # Runs before prompt keys were recorded wrote a key only for PaDT, whose key is its family.
    key = model.get("prompt_key") or (model["family"] if model["family"] == "padt" else None)
    return {**model, "scored_from": str(path)}, PromptKey.parse(key) if key else None


def split_description(reader: SplitReader) -> dict[str, Any]:
    info = reader.info
    return {
        "name": info.name,
        "layout": info.layout,
        "files": file_hashes(info.files),
        "image_root": info.image_root,
        "n_samples": len(reader),
        "notes": info.notes,
    }


def evaluate(
    task: Task | str,
    split: str,
    *,
    predictions: str | Path | None = None,
    model: ModelAdapter | None = None,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    layout: str = "auto",
    gt: str = "official",
    out: str | Path | None = None,
    strict: bool = False,
    batch_size: int = 8,
    text_format: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    reader: SplitReader | None = None,
    protocol: str = "standard",
    name: str | None = None,
    report: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    model_description: dict[str, Any] | None = None,
    prompt_key: PromptKey | None = None,
    manifest_extra: dict[str, Any] | None = None,
    world_size: int = 1,
    error_thresholds: ErrorThresholds | None = None,
) -> RunResult:
    """Score a predictions file, or run an already loaded model in this process, on one split.

    Exactly one of `predictions` and `model` is given. Results go to `out` (default
    `results/<task>-<split>-<source>-<time>/`). `model_description` and `prompt_key`
    say which model wrote a predictions file when padt-eval ran it (`run_model`), so the
    manifest names the model rather than the file. `gt` chooses OVD's ground truth
    (`official` or `padt-filtered`, see `data/coco.py`). With `text_format`, each line's
    raw `text` is read by that family's parser (`padt-eval models` lists the formats);
    `min_pixels`/`max_pixels` set the resize rule of the formats written in model-input
    pixels (Qwen2.5-VL, VLM-R1).
    `protocol` picks the scoring rules
    ("standard", or "padt-release" to reproduce the PaDT release's scripts; for OVD it
    implies `gt="padt-filtered"`); `name` is the model's display name in tables (recorded
    in metrics.json `model.name`); `report` writes `report.html` into the run folder.
    `error_thresholds` are the IoUs of the miss breakdown (metrics.json `errors`; see
    docs/metrics.md), foreground 0.5 and background 0.1 by default.
    """
    spec = get_task(task)
    make_metric(spec, protocol)  # an unknown protocol fails before anything is read
    gt = release_gt(spec.task, protocol, gt)
    if (predictions is None) == (model is None):
        raise UsageError("give exactly one of --predictions and --model")
    if text_format is not None and predictions is None:
        raise UsageError("--format reads the raw text of a predictions file; it needs --predictions")
    if (min_pixels is not None or max_pixels is not None) and text_format is None:
        raise UsageError("--min-pixels/--max-pixels set how --format qwen2_5_vl|vlm_r1 reads a predictions file (or the processor of --model)")
    if predictions is not None and model_description is None:
        # Re-scoring a model run's own predictions.jsonl (e.g. under another protocol):
        # the run's manifest still says which model and prompt wrote it.
        model_description, inherited_key = _model_of_run_predictions(Path(predictions))
        prompt_key = prompt_key or inherited_key
    started = now_iso()
    t0 = time.perf_counter()
    if reader is None:  # a predictions file is scored without opening an image
        reader = open_split(split, spec.task, data_root=data_root, image_root=image_root, layout=layout, gt=gt, require_images=predictions is None)
    pred_file: PredictionsFile | None = None
    warnings: list[str] = []
    if predictions is not None:
        pred_file = PredictionsFile(predictions, strict=strict)
        if pred_file.n_lines == 0:
            warnings.append(f"the predictions file {pred_file.path} is empty: every sample scores as a miss")
        adapter: ModelAdapter = (
            raw_text_model(pred_file, text_format, min_pixels, max_pixels) if text_format is not None else PredictionsFileModel(pred_file)
        )
        source = Path(predictions).stem
    else:
        assert model is not None
        reader.validate()  # a bad line must stop us before any model time is spent
        adapter = model
        source = str(model.describe().get("name") or model.family)
    out_dir = Path(out) if out is not None else default_run_dir(spec.task, split, source)
    writer = RunWriter(out_dir)
    metric = make_metric(spec, protocol, reader.info)
    attach_error_breakdown(metric, reader, protocol, error_thresholds or ErrorThresholds())
    if on_start is not None:
        on_start(len(reader))
    library_log = library_output_to(out_dir / LIBRARY_LOG)
    library_log.__enter__()
    try:
        run_local(
            reader,
            adapter,
            spec,
            metric,
            batch_size=batch_size,
            on_prediction=writer.write_predictions if pred_file is None else None,
            on_record=writer.write_record,
            on_progress=on_progress,
        )
        outside = _score_images_outside_split(metric, reader, pred_file) if pred_file is not None else set()
        for record in metric.final_records():
            writer.write_record(record)
        problems: dict[str, Any] = {}
        pred_desc: dict[str, Any]
        if pred_file is not None:
            pred_file.check_ids(set(reader.sample_ids()) | outside if outside else reader)
            problems = pred_file.summary()
            pred_desc = {"file": str(pred_file.path), "sha256": sha256_file(pred_file.path)}
        else:
            pred_desc = {"file": str(writer.predictions_path), "sha256": sha256_file(writer.predictions_path)}
        values = metric.compute()
        counts = metric.counts()
        errors = metric.errors()
        split_desc = split_description(reader)
        model_desc = model_description or adapter.describe()
        if name:
            model_desc = {**model_desc, "name": name}
        metrics_doc = {
            "run_id": out_dir.name,
            "task": spec.task.value,
            "split": split_desc["name"],
            "model": model_desc,
            "metrics": values,
            "counts": counts,
            "protocol": {"name": protocol, **metric.protocol()},
            **({"gt": gt} if spec.task == Task.OVD else {}),
            "details": metric.details(),
            "notes": metric.notes(),
            **({"errors": errors} if errors is not None else {}),
            "predictions": pred_desc,
            "problems": problems,
            **({"warnings": warnings} if warnings else {}),
        }
        manifest = build_manifest(
            started=started,
            split=split_desc,
            model=model_desc,
            task=spec.task.value,
            predictions=pred_desc,
            prompt_template_hash=spec.prompt_hash(prompt_key or adapter.prompt_key),
            world_size=world_size,
            extra=manifest_extra,
        )
        writer.finish(metrics_doc, manifest, metric.state_dict())
    except BaseException:
        writer.abort()
        raise
    finally:
        library_log.__exit__(None, None, None)
    if report:
        write_report_quietly(out_dir, reader)
    return RunResult(
        out_dir=out_dir,
        task=spec.task,
        split=split_desc["name"],
        metrics=values,
        counts=counts,
        problems=problems,
        seconds=time.perf_counter() - t0,
        details=metrics_doc["details"],
        notes=metrics_doc["notes"],
        warnings=warnings,
        errors=errors,
    )


def _score_images_outside_split(metric, reader: SplitReader, pred_file: PredictionsFile) -> set[str]:
    """Predictions on images the split's filter left out, for a metric that scores them
    (the release protocol's OVD: its GT keeps every image, so they are false positives).
    Returns their ids, which are then not reported as unknown."""
    add = getattr(metric, "add_image_outside_split", None)
    left_out = getattr(reader, "images_left_out", None)
    if add is None or not left_out:
        return set()
    used = set()
    for sid, (width, height) in left_out.items():
        pred = pred_file.get(sid)
        if pred is not None:
            add(sid, width, height, pred)
            used.add(sid)
    return used


def model_run_dir(task: Task, split: str, model: str, root: Path = DEFAULT_RESULTS_ROOT, protocol: str = "standard") -> Path:
    """The default folder of a model run. No timestamp: rerunning the same command must
    find the same folder, so that it resumes instead of starting over. A protocol other
    than the standard one is part of the name (it is part of the run's identity)."""
    split_name = Path(split).stem if split.endswith((".json", ".jsonl")) else split
    suffix = "" if protocol == "standard" else f"-{protocol}"
    return root / safe_name(f"{task.value}-{split_name}-{Path(model.rstrip('/')).name}{suffix}")


def run_model(
    task: Task | str,
    split: str,
    model: str,
    *,
    family: str | None = None,
    options: dict[str, Any] | None = None,
    out: str | Path | None = None,
    nproc: int = 1,
    device: str = "cpu",
    batch_size: int = 8,
    loader_workers: int = 2,
    overwrite: bool = False,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    layout: str = "auto",
    gt: str = "official",
    progress: Callable[[Path, str, str], Any] | None = None,
    protocol: str = "standard",
    name: str | None = None,
    report: bool = True,
    error_thresholds: ErrorThresholds | None = None,
) -> RunResult | None:
    """Run a model over a split with the sharded runner, then score the merged predictions.

    Resumes by default: a rerun into the same folder (same model, prompt, settings and
    split) runs only the samples not yet written, whatever the world size was. `nproc` > 1
    launches that many ranks (`device` "cuda": one per GPU). Inside an existing torchrun
    job this process is one rank; the last rank to finish merges and scores, the others
    return None. `protocol`, `name`, `report` and `error_thresholds` are passed to `evaluate`.
    """
    from padt_eval.models.loading import detect_family
    from padt_eval.runner.orchestrate import execute

    spec = get_task(task)
    make_metric(spec, protocol)  # an unknown protocol must stop us before any model time is spent
    gt = release_gt(spec.task, protocol, gt)
    options = dict(options or {})
    reader = open_split(split, spec.task, data_root=data_root, image_root=image_root, layout=layout, gt=gt)
    reader.validate()  # a bad line must stop us before any model time is spent
    family = family or detect_family(model)
    out_dir = Path(out) if out is not None else model_run_dir(spec.task, split, model, protocol=protocol)
    started = now_iso()
    t0 = time.perf_counter()
    try:
        with library_output_to(out_dir / LIBRARY_LOG):
            outcome = execute(
                spec=spec,
                split=split,
                reader=reader,
                model=model,
                family=family,
                options=options,
                out_dir=out_dir,
                nproc=nproc,
                device=device,
                batch_size=batch_size,
                loader_workers=loader_workers,
                overwrite=overwrite,
                data_root=data_root,
                image_root=image_root,
                layout=layout,
                progress=progress,
                gt=gt,
                protocol=protocol,
            )
    except Exception as exc:
        if is_interrupt(exc):  # Ctrl-C, as a KeyboardInterrupt or as torch's SignalException
            raise _interrupted_run(out_dir, reader) from None
        raise
    except KeyboardInterrupt:
        raise _interrupted_run(out_dir, reader) from None
    if outcome.predictions is None:
        return None
    try:
        result = _score_model_run(
            spec, split, reader, out_dir, outcome, family, options, started, gt, protocol, name, report, error_thresholds
        )
    finally:
        outcome.release()  # the run folder is free once its metrics are written
    result.seconds = time.perf_counter() - t0
    return result


def _score_model_run(
    spec, split, reader, out_dir, outcome, family, options, started, gt, protocol, name, report, error_thresholds
) -> RunResult:
    from padt_eval.models.base import prompt_key_of

    return evaluate(
        spec.task,
        split,
        predictions=outcome.predictions,
        reader=reader,
        out=out_dir,
        strict=True,  # our own merged file: any problem in it is a bug, not a user's typo
        batch_size=256,
        model_description=outcome.model_description,
        prompt_key=prompt_key_of(family, options),
        manifest_extra={"runner": {**outcome.runner_info, "started": started}},
        world_size=outcome.runner_info["world_size"],
        gt=gt,
        protocol=protocol,
        name=name,
        report=report,
        error_thresholds=error_thresholds,
    )


def _interrupted_run(out_dir: Path, reader: SplitReader) -> Exception:
    """Ctrl-C during a model run: how many predictions its shards keep, and how to go on."""
    from padt_eval.core.failures import Interrupted
    from padt_eval.runner.shards import done_ids

    try:
        kept = len(done_ids(out_dir))
    except OSError:
        kept = 0
    return Interrupted(f"{kept} of {len(reader)} predictions kept in {out_dir}; rerun the same command to resume")


def check_batching(
    task: Task | str,
    split: str,
    model: str,
    *,
    family: str | None = None,
    options: dict[str, Any] | None = None,
    n_samples: int = 32,
    batch_size: int = 8,
    device: str = "cpu",
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    layout: str = "auto",
):
    """Run the first `n_samples` of a split at batch 1 and at `batch_size`; report differences."""
    from padt_eval.models.loading import load_model
    from padt_eval.runner.batching import check_batching as _check

    spec = get_task(task)
    reader = open_split(split, spec.task, data_root=data_root, image_root=image_root, layout=layout)
    adapter = load_model(model, family, device=device, **(options or {}))
    try:
        return _check(reader, adapter, spec, n_samples, batch_size)
    finally:
        adapter.close()


def compare(
    run_a: str | Path,
    run_b: str | Path,
    *,
    resamples: int = 10_000,
    seed: int = 0,
    out: str | Path | None = None,
) -> tuple[dict[str, Any], Path]:
    """Paired comparison of two finished runs (B − A) on their shared samples; the JSON
    goes to `out` (default `<parent of B>/comparisons/<A>__vs__<B>.json`)."""
    from padt_eval.report.compare import compare_runs, default_comparison_path, write_comparison

    if resamples < 100:
        raise UsageError("--resamples must be at least 100")
    doc = compare_runs(run_a, run_b, n_resamples=resamples, seed=seed)
    path = write_comparison(doc, out if out is not None else default_comparison_path(run_a, run_b))
    return doc, path


def leaderboard(
    results: str | Path = DEFAULT_RESULTS_ROOT,
    out: str | Path | None = None,
    reported: str | Path | None = None,
):
    """Gather every run under `results` (and the reported numbers) into
    `<out>/leaderboard.{md,csv,tex,html}`; returns (the board, the files written).
    A results folder or an explicit `reported` file that does not exist is an error."""
    from padt_eval.core.errors import DataError
    from padt_eval.report.leaderboard import build_leaderboard, write_leaderboard
    from padt_eval.report.reported import default_reported_path

    results = Path(results)
    if not results.is_dir():
        raise DataError(f"results folder not found: {results}")
    if reported is not None and not Path(reported).is_file():
        raise DataError(f"reported-numbers file not found: {reported}")
    out_dir = Path(out) if out is not None else results
    board = build_leaderboard(results, reported if reported is not None else default_reported_path(results))
    return board, write_leaderboard(board, out_dir)


def report(
    run_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    out: str | Path | None = None,
    n_worst: int = 12,
) -> Path:
    """Write the HTML report of a finished run (default `<run_dir>/report.html`)."""
    from padt_eval.report.run_report import write_run_report

    return write_run_report(run_dir, data_root=data_root, image_root=image_root, out=out, n_worst=n_worst)
