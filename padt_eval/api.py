"""The operations of padt-eval as Python functions. The CLI only parses options and calls these."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from padt_eval.data.registry import open_split
from padt_eval.data.split import SplitReader
from padt_eval.errors import UsageError
from padt_eval.fileio import sha256_file
from padt_eval.models.base import ModelAdapter
from padt_eval.models.predictions_file import PredictionsFile, PredictionsFileModel
from padt_eval.report.manifest import build_manifest, file_hashes, now_iso
from padt_eval.report.results import RunWriter, safe_name
from padt_eval.runner.local import run_local
from padt_eval.tasks.registry import get_task
from padt_eval.types import Task

DEFAULT_RESULTS_ROOT = Path("results")


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


def default_run_dir(task: Task, split: str, source: str, root: Path = DEFAULT_RESULTS_ROOT) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return root / safe_name(f"{task.value}-{Path(split).stem if split.endswith(('.json', '.jsonl')) else split}-{source}-{stamp}")


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
    reader: SplitReader | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    model_description: dict[str, Any] | None = None,
    prompt_family: str | None = None,
    manifest_extra: dict[str, Any] | None = None,
    world_size: int = 1,
) -> RunResult:
    """Score a predictions file, or run an already loaded model in this process, on one split.

    Exactly one of `predictions` and `model` is given. Results go to `out` (default
    `results/<task>-<split>-<source>-<time>/`). `model_description` and `prompt_family`
    say which model wrote a predictions file when padt-eval ran it (`run_model`), so the
    manifest names the model rather than the file. `gt` chooses OVD's ground truth
    (`official` or `padt-filtered`, see `data/coco.py`).
    """
    spec = get_task(task)
    if (predictions is None) == (model is None):
        raise UsageError("give exactly one of --predictions and --model")
    started = now_iso()
    t0 = time.perf_counter()
    if reader is None:
        reader = open_split(split, spec.task, data_root=data_root, image_root=image_root, layout=layout, gt=gt)
    pred_file: PredictionsFile | None = None
    if predictions is not None:
        pred_file = PredictionsFile(predictions, strict=strict)
        adapter: ModelAdapter = PredictionsFileModel(pred_file)
        source = Path(predictions).stem
    else:
        assert model is not None
        reader.validate()  # a bad line must stop us before any model time is spent
        adapter = model
        source = str(model.describe().get("name") or model.family)
    out_dir = Path(out) if out is not None else default_run_dir(spec.task, split, source)
    writer = RunWriter(out_dir)
    metric = spec.make_metric(reader.info)
    if on_start is not None:
        on_start(len(reader))
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
        problems: dict[str, Any] = {}
        pred_desc: dict[str, Any]
        if pred_file is not None:
            pred_file.check_ids(reader)
            problems = pred_file.summary()
            pred_desc = {"file": str(pred_file.path), "sha256": sha256_file(pred_file.path)}
        else:
            pred_desc = {"file": str(writer.predictions_path), "sha256": sha256_file(writer.predictions_path)}
        values = metric.compute()
        counts = metric.counts()
        split_desc = split_description(reader)
        model_desc = model_description or adapter.describe()
        metrics_doc = {
            "run_id": out_dir.name,
            "task": spec.task.value,
            "split": split_desc["name"],
            "model": model_desc,
            "metrics": values,
            "counts": counts,
            "protocol": metric.protocol(),
            "details": metric.details(),
            "notes": metric.notes(),
            "predictions": pred_desc,
            "problems": problems,
        }
        manifest = build_manifest(
            started=started,
            split=split_desc,
            model=model_desc,
            task=spec.task.value,
            predictions=pred_desc,
            prompt_template_hash=spec.prompt_hash(prompt_family or adapter.family),
            world_size=world_size,
            extra=manifest_extra,
        )
        writer.finish(metrics_doc, manifest, metric.state_dict())
    except BaseException:
        writer.abort()
        raise
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
    )


def model_run_dir(task: Task, split: str, model: str, root: Path = DEFAULT_RESULTS_ROOT) -> Path:
    """The default folder of a model run. No timestamp: rerunning the same command must
    find the same folder, so that it resumes instead of starting over."""
    split_name = Path(split).stem if split.endswith((".json", ".jsonl")) else split
    return root / safe_name(f"{task.value}-{split_name}-{Path(model.rstrip('/')).name}")


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
) -> RunResult | None:
    """Run a model over a split with the sharded runner, then score the merged predictions.

    Resumes by default: a rerun into the same folder (same model, prompt, settings and
    split) runs only the samples not yet written, whatever the world size was. `nproc` > 1
    launches that many ranks (`device` "cuda": one per GPU). Inside an existing torchrun
    job this process is one rank; the last rank to finish merges and scores, the others
    return None.
    """
    from padt_eval.models.loading import detect_family
    from padt_eval.runner.orchestrate import execute

    spec = get_task(task)
    options = dict(options or {})
    reader = open_split(split, spec.task, data_root=data_root, image_root=image_root, layout=layout, gt=gt)
    reader.validate()  # a bad line must stop us before any model time is spent
    family = family or detect_family(model)
    out_dir = Path(out) if out is not None else model_run_dir(spec.task, split, model)
    started = now_iso()
    t0 = time.perf_counter()
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
    )
    if outcome.predictions is None:
        return None
    result = evaluate(
        spec.task,
        split,
        predictions=outcome.predictions,
        reader=reader,
        out=out_dir,
        strict=True,  # our own merged file: any problem in it is a bug, not a user's typo
        batch_size=256,
        model_description=outcome.model_description,
        prompt_family=family,
        manifest_extra={"runner": {**outcome.runner_info, "started": started}},
        world_size=outcome.runner_info["world_size"],
    )
    result.seconds = time.perf_counter() - t0
    return result


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
