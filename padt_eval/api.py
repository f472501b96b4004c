"""The operations of padt-eval as Python functions. The CLI only parses options and calls these.

`score` scores a predictions file (`scoring/`, no model involved); `run_model` runs a
model with the sharded runner (one process is world size 1) and scores what it wrote.
Both return the run's typed record (`RunResult`) and write its HTML report here, once the
results are on disk.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.core.failures import is_interrupt, signal_of
from padt_eval.core.fileio import atomic_write, sha256_file
from padt_eval.core.library_log import library_output_to
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.data.split import SplitReader
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, PredictionsOptions, RunOptions, ScoringOptions
from padt_eval.results.environment import now_iso
from padt_eval.results.manifest import RunnerInfo
from padt_eval.results.record import ModelDescription
from padt_eval.results.run_folder import RunFolder
from padt_eval.results.writer import safe_name
from padt_eval.scoring.score import (  # noqa: F401 - part of the API
    DEFAULT_RESULTS_ROOT,
    Provenance,
    RunResult,
    default_run_dir,
)
from padt_eval.scoring.score import score as _score
from padt_eval.tasks.metric import build_metric
from padt_eval.tasks.registry import get_task, release_gt


def model_run_dir(task: Task, split: str, model: str, root: Path = DEFAULT_RESULTS_ROOT, protocol: str = "standard") -> Path:
    """The default folder of a model run. No timestamp: rerunning the same command must
    find the same folder, so that it resumes instead of starting over. A protocol other
    than the standard one is part of the name (it is part of the run's identity)."""
    split_name = Path(split).stem if split.endswith((".json", ".jsonl")) else split
    suffix = "" if protocol == "standard" else f"-{protocol}"
    return root / safe_name(f"{task.value}-{split_name}-{Path(model.rstrip('/')).name}{suffix}")


def _reporting(score_file: Callable[..., RunResult]) -> Callable[..., RunResult]:
    """`scoring.score.score`, then the run's report.html (unless `output.report` is off)."""

    @functools.wraps(score_file)
    def score(*args: Any, **kwargs: Any) -> RunResult:
        return _with_report(score_file(*args, **kwargs), kwargs.get("output", OutputOptions()))

    return score


#: Score a predictions file on one split (no model involved) and write its report.html.
score = _reporting(_score)


def _with_report(result: RunResult, output: OutputOptions) -> RunResult:
    """Write the run's report.html (unless `output.report` is off). The result returned
    holds no reference to the split, which it carried only for the report's drawings."""
    t0 = time.perf_counter()
    if output.report:
        write_report_quietly(result.out_dir, result.reader, result.select)
    return dataclasses.replace(result, reader=None, select=None, seconds=result.seconds + time.perf_counter() - t0)


def write_report_quietly(run_dir: Path, reader: SplitReader | None = None, select: Any = None) -> Path | None:
    """Write `report.html` into a finished run folder; a report problem never fails the run.
    `select`: picks the samples to draw without reading per_sample.jsonl back
    (`RunResult.select`)."""
    try:
        from padt_eval.report.run_report import write_run_report

        return write_run_report(run_dir, reader=reader, select=select)
    except Exception as exc:  # noqa: BLE001 - the run's results are already safe on disk
        warnings.warn(f"{run_dir}: report.html not written ({type(exc).__name__}: {exc})", stacklevel=2)
        return None


def _other_ranks_told_of_a_refusal(run_model: Callable[..., Any]) -> Callable[..., Any]:
    """A joined rank (torchrun, srun) refused before the ranks meet (a locked folder, a bad
    option, a missing split) tells the others, who stop at once (runner/rendezvous.py)."""

    @functools.wraps(run_model)
    def run(*args: Any, **kwargs: Any) -> Any:
        from padt_eval.runner.rendezvous import others_told_of_a_refusal

        with others_told_of_a_refusal(kwargs.get("run", RunOptions()).rank_timeout_s):
            return run_model(*args, **kwargs)

    return run


@_other_ranks_told_of_a_refusal
def run_model(
    task: Task | str,
    split: str,
    model: ModelOptions,
    *,
    data: DataOptions = DataOptions(),
    run: RunOptions = RunOptions(),
    scoring: ScoringOptions = ScoringOptions(),
    output: OutputOptions = OutputOptions(),
    progress: Callable[[Path, str, str], Any] | None = None,
) -> RunResult | None:
    """Run a model over a split with the sharded runner, then score the merged predictions.

    Resumes by default: a rerun into the same folder (same model, prompt, settings and
    split) runs only the samples not yet written, whatever the world size was.
    `run.nproc` > 1 launches that many ranks (`run.device` "cuda": one per GPU). Inside
    an existing torchrun job this process is one rank; the last rank to finish merges and
    scores, the others return None. `scoring` and `output` say how the merged predictions
    are scored and where the results go (default: `model_run_dir`).
    """
    from padt_eval.models.base import get_family
    from padt_eval.models.loading import detect_family
    from padt_eval.runner.job import RunJob
    from padt_eval.runner.orchestrate import execute

    spec = get_task(task)
    build_metric(spec.task, scoring.protocol, split_name=split)  # an unknown protocol must stop us before any model time is spent
    gt = release_gt(spec.task, scoring.protocol, data.gt)
    options = dict(model.options)
    family = model.family or detect_family(model.model)
    # Every check that needs no model runs before the run folder is claimed: a typo in an
    # option must not leave a folder that the corrected command refuses as another run.
    get_family(family).check_load_options(options)
    reader = open_split(split, spec.task, data_root=data.data_root, image_root=data.image_root, layout=data.layout, gt=gt)
    reader.validate()  # a bad line must stop us before any model time is spent
    build_metric(spec.task, scoring.protocol, reader)  # and a protocol the split has no scorer for (ReasonSeg's)
    out_dir = (
        Path(output.out) if output.out is not None else model_run_dir(spec.task, split, model.model, protocol=scoring.protocol)
    )
    job = RunJob(
        task=spec.task.value,
        split=split,
        model=ModelOptions(model.model, family, options),
        out_dir=out_dir,
        data=replace(data, gt=gt),
        run=replace(run, loader_workers=run.loader_workers_per_rank()),
        protocol=scoring.protocol,
    )
    started = now_iso()
    t0 = time.perf_counter()
    try:
        with library_output_to(job.folder.library_log):
            outcome = execute(job, reader, progress)
    except Exception as exc:
        if is_interrupt(exc):  # a stop signal, as a KeyboardInterrupt or as torch's SignalException
            raise _interrupted_run(out_dir, reader, signal_of(exc)) from None
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C, or our own `Stopped` (SIGTERM, SIGHUP)
        raise _interrupted_run(out_dir, reader, signal_of(exc)) from None
    if outcome.predictions is None:
        return None
    from padt_eval.models.base import prompt_key_of

    try:
        result = _score(
            spec.task,
            split,
            PredictionsOptions(outcome.predictions, strict=True),  # our own merged file: a problem in it is a bug
            data=DataOptions(gt=gt),
            scoring=scoring,
            output=OutputOptions(out_dir, output.name, output.report),
            reader=reader,
            into_model_run=True,
            provenance=Provenance(
                ModelDescription.from_json(outcome.model_description),
                prompt_key_of(family, options),
                RunnerInfo.from_json({**outcome.runner_info, "started": started}),
                outcome.runner_info["world_size"],
            ),
        )
        result = _with_report(result, output)
    finally:
        outcome.release()  # the run folder is free once its metrics and report are written
    return dataclasses.replace(result, seconds=time.perf_counter() - t0)


def _interrupted_run(out_dir: Path, reader: SplitReader, signum: int) -> Exception:
    """A stop signal during a model run: how many predictions its shards keep, and how to go on."""
    from padt_eval.core.failures import Interrupted
    from padt_eval.runner.shards import done_ids

    try:
        kept = len(done_ids(out_dir))
    except OSError:
        kept = 0
    return Interrupted(f"{kept} of {len(reader)} predictions kept in {out_dir}; rerun the same command to resume", signum)


def check_batching(
    task: Task | str,
    split: str,
    model: ModelOptions,
    *,
    data: DataOptions = DataOptions(),
    n_samples: int = 32,
    batch_size: int = 8,
    device: str = "cpu",
):
    """Run the first `n_samples` of a split at batch 1 and at `batch_size`; report differences."""
    from padt_eval.models.loading import load_model
    from padt_eval.runner.batching import check_batching as _check

    spec = get_task(task)
    reader = open_split(split, spec.task, data_root=data.data_root, image_root=data.image_root, layout=data.layout)
    adapter = load_model(model.model, model.family, device=device, **model.options)
    try:
        return _check(reader, adapter, spec, n_samples, batch_size)
    finally:
        adapter.close()


def check_backends(
    task: Task | str,
    split: str,
    model: ModelOptions,
    *,
    backends: tuple[str, str] = ("hf", "vllm"),
    data: DataOptions = DataOptions(),
    n_samples: int = 32,
    batch_size: int = 8,
    device: str = "cpu",
):
    """Run the first `n_samples` of a split on two backends, one after the other (each
    model released before the next loads); report the answers that change."""
    from padt_eval.models.loading import load_model
    from padt_eval.runner.batching import compare_runs, first_samples, predict_subset

    spec = get_task(task)
    reader = open_split(split, spec.task, data_root=data.data_root, image_root=data.image_root, layout=data.layout)
    samples = first_samples(reader, n_samples)
    runs = []
    for backend in backends:
        adapter = load_model(model.model, model.family, device=device, **{**model.options, "backend": backend})
        try:
            runs.append(predict_subset(adapter, spec, samples, batch_size))
        finally:
            adapter.close()
    return compare_runs(samples, runs[0], runs[1], (f"backend {backends[0]}", f"backend {backends[1]}"))


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


def diff_report(
    runs: list[str | Path],
    out: str | Path,
    *,
    comparisons: list[dict[str, Any]],
    notes: list[str] = (),  # type: ignore[assignment]
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    draw: int = 100,
) -> Path:
    """Write the diff page of two or more runs of one split (the first is the reference):
    `comparisons` (`compare` of the first against each other), then the samples where
    their outcomes differ, drawn, with filters (docs/reports.md)."""
    from padt_eval.report.diff_report import write_diff_report

    return write_diff_report(runs, out, comparisons, notes=list(notes), data_root=data_root, image_root=image_root, draw=draw)


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


@dataclass
class ImportResult:
    """An imported file, scored: the results folder's run, how its rows matched the split,
    and where the toolkit's own verdicts differ from padt-eval's (None when it kept none)."""

    run: RunResult
    matching: dict[str, Any]
    agreement: dict[str, Any] | None
    predictions: Path
    record: Path


def import_predictions(
    toolkit: str,
    files: list[str | Path],
    split: str,
    *,
    text_format: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    toolkit_split: str | None = None,
    data: DataOptions = DataOptions(),
    output: OutputOptions = OutputOptions(),
) -> ImportResult:
    """Read another toolkit's prediction file, match its rows to the split's REC samples,
    write `<out>/imported_predictions.jsonl` (raw text for `text_format`, or the PaDT
    release's decoded objects), score it with `score`, and write `<out>/import.json`
    (matching, and the agreement with the toolkit's own per-sample verdicts)."""
    from padt_eval.imports import STRUCTURED, read_toolkit_file
    from padt_eval.imports.agreement import agreement
    from padt_eval.imports.matching import match_rows
    from padt_eval.imports.predictions import write_predictions
    from padt_eval.results import ownership
    from padt_eval.results.reader import iter_per_sample
    from padt_eval.scoring.raw_text import raw_text_parser
    from padt_eval.scoring.score import check_score_folder

    if toolkit in STRUCTURED and text_format is not None:
        raise UsageError(f"--from {toolkit} files hold decoded boxes, not text: leave out --format")
    if toolkit not in STRUCTURED and text_format is None:
        raise UsageError(
            f"--from {toolkit}: give --format NAME, the family whose raw answers the file holds (see `padt-eval models`)"
        )
    parser = raw_text_parser(text_format, min_pixels, max_pixels) if text_format is not None else None
    imported = read_toolkit_file(toolkit, [Path(f) for f in files])
    reader = open_split(
        split, Task.REC, data_root=data.data_root, image_root=data.image_root, layout=data.layout, require_images=False
    )
    samples = list(reader)
    matching = match_rows(imported, samples, split, toolkit_split)
    source = safe_name(f"{toolkit}-{Path(files[0]).stem}")
    out_dir = Path(output.out) if output.out is not None else default_run_dir(Task.REC, split, source)
    check_score_folder(out_dir, Task.REC, split, source)
    out_dir.mkdir(parents=True, exist_ok=True)
    if ownership.kind_of(out_dir) is None:
        ownership.sign(out_dir, ownership.SCORED_FILE)
    pred_path = RunFolder(out_dir).imported_predictions
    write_predictions(pred_path, imported, matching, [s.sample_id for s in samples])
    run = score(
        Task.REC,
        split,
        PredictionsOptions(pred_path, text_format=text_format, min_pixels=min_pixels, max_pixels=max_pixels),
        data=data,
        output=OutputOptions(out_dir, output.name or f"{toolkit} import", output.report),
        reader=reader,
    )
    records = {r["sample_id"]: r for r in iter_per_sample(RunFolder(out_dir).per_sample)}

    def all_boxes(sample, text: str):
        try:
            parsed = parser.fmt.parse(text, parser.frame(sample.image.width, sample.image.height))
        except ValueError:
            return None
        return [list(b.box) for b in parsed.boxes]

    by_id = {s.sample_id: s for s in samples}
    agree = agreement(imported, matching, by_id, records, all_boxes if parser is not None else None)
    doc = {
        "toolkit": toolkit,
        "layout": imported.layout,
        "files": [{"path": p, "sha256": sha256_file(p)} for p in imported.paths],
        "split": run.split,
        "format": text_format,
        "notes": imported.notes,
        "matching": matching.summary(len(samples)),
        "agreement": agree,
    }
    if agree is None:
        doc["agreement_note"] = "the file holds no per-sample verdict of the toolkit (see docs/importing.md)"
    record = RunFolder(out_dir).import_record
    with atomic_write(record) as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return ImportResult(run, doc["matching"], agree, pred_path, record)
