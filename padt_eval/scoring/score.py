"""Scoring a predictions file: predictions file × split → metric → results folder.

No model is involved (detectron2's evaluators never see one): each sample of the split
is paired with its line of the file (or a MISSING prediction when the file has none),
the metric is fed the pairs, and the results folder is written. A model run ends here
too: the runner merges its shards into `predictions.jsonl`, which is scored like any
other file, with `Provenance` saying which model wrote it.

Scoring writes the run's record (metrics.json, manifest.json, per_sample.jsonl) and
returns it typed (`RunResult`); the HTML report is the caller's (`api.score`).

This module imports neither the runner nor the model adapters (nor torch): scoring a
file must not pay for them. `--format` reads raw text with the pure parsers of
`models/coords`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from padt_eval.core.errors import UsageError
from padt_eval.core.fileio import sha256_file
from padt_eval.core.filekind import require_regular_file
from padt_eval.core.library_log import library_output_to
from padt_eval.core.types import ModelRequest, Prediction, PromptKey, Sample, Task
from padt_eval.data.registry import open_split
from padt_eval.data.split import SplitReader
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions, ScoringOptions
from padt_eval.results import ownership
from padt_eval.results.cost import CostTally
from padt_eval.results.environment import file_hashes, now_iso
from padt_eval.results.manifest import Manifest, RunnerInfo, SplitDescription, build_manifest
from padt_eval.results.reader import read_run_model
from padt_eval.results.record import ModelDescription, PredictionsRef, RunRecord
from padt_eval.results.run_folder import RunFolder
from padt_eval.results.writer import RunWriter, safe_name
from padt_eval.scoring.alarm_watch import AlarmWatch
from padt_eval.scoring.columnar import score_columns
from padt_eval.scoring.predictions_file import PredictionsFile
from padt_eval.tasks.metric import build_metric
from padt_eval.tasks.registry import get_task, release_gt

if TYPE_CHECKING:
    from padt_eval.report.sample_selection import Selector

DEFAULT_RESULTS_ROOT = Path("results")
CHUNK = 256  # samples per metric.update_many call (metrics share work across a chunk)


@dataclass
class RunResult:
    """A scored run: what was written into `out_dir` (its record and manifest), and the
    split as it was scored (`reader`, for a report that draws its samples)."""

    out_dir: Path
    record: RunRecord
    manifest: Manifest
    seconds: float = 0.0
    reader: SplitReader | None = field(default=None, repr=False, compare=False)
    #: the samples a report draws, picked from the columns when the columnar path scored
    #: the run (the report then does not read back and re-check the file just written)
    select: Selector | None = field(default=None, repr=False, compare=False)

    @property
    def task(self) -> Task:
        return Task(self.record.task)

    @property
    def split(self) -> str:
        return self.record.split

    @property
    def metrics(self) -> dict[str, float | None]:
        return self.record.metrics

    @property
    def counts(self) -> dict[str, int]:
        return self.record.counts

    @property
    def problems(self) -> dict[str, Any]:
        return self.record.problems or {}

    @property
    def details(self) -> dict[str, Any]:
        return self.record.details

    @property
    def notes(self) -> list[str]:
        return self.record.notes

    @property
    def warnings(self) -> list[str]:
        """What a reader must not miss (also in metrics.json)."""
        return self.record.warnings

    @property
    def errors(self) -> dict[str, Any] | None:
        """metrics.json `errors`: why the misses happened."""
        return self.record.errors


@dataclass
class Provenance:
    """Who wrote the predictions file, when padt-eval ran the model itself: the model's
    description, the prompt key its prompts came from, and the runner's record."""

    model: ModelDescription
    prompt_key: PromptKey | None = None
    runner: RunnerInfo | None = None
    world_size: int = 1


def default_run_dir(task: Task, split: str, source: str, root: Path = DEFAULT_RESULTS_ROOT) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return root / safe_name(f"{task.value}-{Path(split).stem if split.endswith(('.json', '.jsonl')) else split}-{source}-{stamp}")


def check_score_folder(out_dir: Path, task: Task, split: str, source: str) -> None:
    """Refuse (before anything is written) a results folder that a predictions file's
    score may not go into: one padt-eval did not create (a user's folder, another tool's
    results, results of a padt-eval from before folders were signed), or a model run's
    folder, running or finished, whose metrics.json must stay the score of the model's own
    predictions. The message suggests a new folder. A new or empty folder, or an earlier
    score of a predictions file (signed by padt-eval), is fine: that score is replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a results folder; use another --out")
    kind = ownership.kind_of(out_dir)
    if ownership.is_empty(out_dir) or kind == ownership.SCORED_FILE:
        return
    folder = RunFolder(out_dir)
    older_run = folder.run_json.is_file() and folder.shards.is_dir()  # a model run from before signatures
    if kind == ownership.MODEL_RUN or older_run or folder.run_lock.exists():
        suggestion = default_run_dir(task, split, source, root=out_dir.parent)
        raise UsageError(
            f"{out_dir} is the folder of a model run (running or finished); the score of a predictions file never goes "
            f"into it, because its metrics.json must stay the score of that run's own predictions. Use a new folder, "
            f"e.g. --out {suggestion}"
        )
    suggestion = default_run_dir(task, split, source, root=out_dir)
    raise UsageError(
        f"{out_dir} exists and was not created by padt-eval for results (it has no {ownership.SIGNATURE_FILE}): it may be "
        "your own folder, another tool's results, or results of a padt-eval from before folders were signed, and padt-eval "
        "does not replace or add files there. Use a new folder, e.g. --out "
        f"{suggestion} (a new folder inside it), or delete the folder yourself if it only holds old results."
    )


def provenance_of_run_predictions(path: Path) -> Provenance | None:
    """Re-scoring a model run's own `<run>/predictions.jsonl` (e.g. under another
    protocol): the model and prompt key recorded in that folder's manifest.json."""
    recorded = read_run_model(path.parent) if path.name == RunFolder.PREDICTIONS else None
    if recorded is None:
        return None
    model, key = recorded
    return Provenance(model.with_entries(scored_from=str(path)), PromptKey.parse(key) if key else None)


def split_description(reader: SplitReader) -> SplitDescription:
    info = reader.info
    return SplitDescription(
        name=info.name,
        layout=info.layout,
        files=file_hashes(info.files),
        image_root=info.image_root,
        n_samples=len(reader),
        notes=info.notes,
    )


def _chunks(samples: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    chunk: list[Sample] = []
    for sample in samples:
        chunk.append(sample)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Lines:
    """Each sample's prediction: its line as written, or its raw text read by a
    `--format` parser, which is given what a model would have been asked (the sample's
    request), never the sample and its ground truth."""

    def __init__(self, pred_file: PredictionsFile, parser: Callable[[str, ModelRequest, Prediction], Prediction] | None) -> None:
        self.pred_file, self.parser = pred_file, parser

    def __call__(self, sample: Sample) -> Prediction:
        return self._answer(sample, self.pred_file.get(sample.sample_id))

    def many(self, samples: list[Sample]) -> list[Prediction]:
        """The predictions of a chunk of samples: their lines read and checked together."""
        return [self._answer(s, line) for s, line in zip(samples, self.pred_file.get_many([s.sample_id for s in samples]))]

    def _answer(self, sample: Sample, line: Prediction | None) -> Prediction:
        if line is None:
            return Prediction.missing(sample.sample_id, f"no line for this sample in {self.pred_file.path.name}")
        if self.parser is None:
            return line
        return self.parser(line.text or "", sample.request(), line)


def score(
    task: Task | str,
    split: str,
    predictions: PredictionsOptions,
    *,
    data: DataOptions = DataOptions(),
    scoring: ScoringOptions = ScoringOptions(),
    output: OutputOptions = OutputOptions(),
    reader: SplitReader | None = None,
    provenance: Provenance | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    into_model_run: bool = False,
) -> RunResult:
    """Score `predictions` on one split and write the results folder (`output.out`, default
    `results/<task>-<split>-<file stem>-<time>/`). `reader`: the split, already open
    (otherwise opened from `data`, without opening any image).

    The results folder must be new, empty, or an earlier score of a predictions file
    (`check_score_folder`); an earlier score's report.html is removed, and writing the new
    one (`output.report`) is the caller's (`api.score`). `into_model_run`: `output.out` is
    the model run this process has claimed and holds (api.run_model), whose own
    predictions are being scored."""
    spec = get_task(task)
    build_metric(spec.task, scoring.protocol, split_name=split)  # an unknown protocol fails before anything is read
    out_dir = Path(output.out) if output.out is not None else default_run_dir(spec.task, split, Path(predictions.path).stem)
    if not into_model_run:
        check_score_folder(out_dir, spec.task, split, Path(predictions.path).stem)
    gt = release_gt(spec.task, scoring.protocol, data.gt)
    if provenance is None:
        provenance = provenance_of_run_predictions(Path(predictions.path))
    started = now_iso()
    t0 = time.perf_counter()
    if reader is None:
        reader = open_split(
            split,
            spec.task,
            data_root=data.data_root,
            image_root=data.image_root,
            layout=data.layout,
            gt=gt,
            require_images=False,
        )
    require_regular_file(predictions.path, "predictions file")  # a FIFO or /dev/zero is named, never opened
    # a file of answers is scored: no model family, nobody was prompted
    description: dict[str, Any] = {"family": None, "predictions_file": str(Path(predictions.path))}
    parser = None
    if predictions.text_format is not None:
        from padt_eval.scoring.raw_text import raw_text_parser

        parser = raw_text_parser(predictions.text_format, predictions.min_pixels, predictions.max_pixels)
        description.update(parser.describe())
    metric = build_metric(spec.task, scoring.protocol, reader, scoring.error_thresholds)
    # The common REC/RES case is scored as columns (scoring/columnar.py); anything that
    # path does not reproduce is scored sample by sample below, with the same results.
    columns = score_columns(spec.task, reader, metric, Path(predictions.path), predictions.strict) if parser is None else None
    pred_file = (
        columns.predictions
        if columns is not None
        else PredictionsFile(predictions.path, strict=predictions.strict, all_masks=spec.task != Task.REC)
    )
    warnings: list[str] = []
    if pred_file.n_lines == 0:
        warnings.append(f"the predictions file {pred_file.path} is empty: every sample scores as a miss")
    if not into_model_run and ownership.kind_of(out_dir) is None:
        ownership.sign(out_dir, ownership.SCORED_FILE)
    writer = RunWriter(out_dir)  # from here on, a failure leaves no temporary file (abort)
    if on_start is not None:
        on_start(len(reader))
    line_of = _Lines(pred_file, parser) if columns is None else None
    costs = CostTally()  # each answer's cost, from its meta (results/cost.py; the columnar path has none)
    watch = AlarmWatch(spec.task, scoring.protocol, metric)  # the alarms' columns (scoring/alarm_watch.py)
    try:
        with library_output_to(RunFolder(out_dir).library_log):
            if columns is not None:
                metric.add_columns(columns.state())
                watch.add_columns(columns)
                writer.write_records(columns.records())
                if on_progress is not None:
                    on_progress(len(reader))
            else:
                for chunk in _chunks(reader, CHUNK):
                    preds = line_of.many(chunk)
                    costs.add(preds)
                    records = metric.update_many(chunk, preds)
                    watch.add(chunk, preds, records)
                    for record in records:
                        writer.write_record(costs.annotate(record))
                    if on_progress is not None:
                        on_progress(len(chunk))
            outside = _score_images_outside_split(metric, reader, pred_file) if columns is None else set()
            for record in metric.final_records():
                writer.write_record(costs.annotate(record))
            pred_file.check_ids(set(reader.sample_ids()) | outside if outside else reader)
            problems = pred_file.summary()
            predictions_ref = PredictionsRef(str(pred_file.path), sha256_file(pred_file.path))
            values, counts, errors = metric.compute(), metric.counts(), metric.errors()
            split_desc = split_description(reader)
            model = provenance.model if provenance is not None else ModelDescription(description)
            if output.name:
                model = model.with_entries(name=output.name)
            alarms = watch.alarms(reader, counts, model) if pred_file.n_lines else []  # empty: warned above
            warnings += [a.message for a in alarms]
            record = RunRecord(
                run_id=out_dir.name,
                task=spec.task.value,
                split=split_desc.name,
                model=model,
                metrics=values,
                counts=counts,
                protocol={"name": scoring.protocol, **metric.protocol()},
                gt=gt if spec.task == Task.OVD else None,
                details=metric.details(),
                notes=metric.notes(),
                errors=errors,
                predictions=predictions_ref,
                problems=problems,
                warnings=warnings,
                cost=costs.summary(provenance.runner if provenance is not None else None, time.perf_counter() - t0),
                alarms=[a.to_json() for a in alarms],
            )
            manifest = build_manifest(
                started=started,
                split=split_desc,
                model=model,
                task=spec.task.value,
                predictions=predictions_ref,
                prompt_template_hash=spec.prompt_hash(provenance.prompt_key if provenance is not None else None),
                world_size=provenance.world_size if provenance is not None else 1,
                runner=provenance.runner if provenance is not None else None,
            )
            writer.finish(record, manifest)
    except BaseException:
        writer.abort()
        raise
    if not into_model_run:
        RunFolder(out_dir).report.unlink(missing_ok=True)  # an earlier score's report would describe other numbers
    select = columns.selection if columns is not None else None
    return RunResult(out_dir, record, manifest, seconds=time.perf_counter() - t0, reader=reader, select=select)


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
