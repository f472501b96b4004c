"""Every file name of a results folder, spelled once.

A model run's folder is written by the runner (plan, shards, merged predictions, the model
description), the scoring (metrics, manifest, per-sample records) and the report, and read
back by resumes, merges, the progress view, `leaderboard`, `report` and `compare`. Each of
them asks `RunFolder` for a path instead of spelling the name, so a name changes in one
place and `ownership.OWN_ENTRIES` (what `--overwrite` may remove) cannot miss one.

    .padt-eval-run         signature: padt-eval made this folder (results/ownership.py)
    run.json               the run's fingerprint (runner/fingerprint.py)
    run.lock               one run at a time (runner/run_lock.py)
    model.json             the model as loaded, and the last attempt's timing
    plan/<attempt>.json    the attempt's plan; .rank<r>.ids: a rank's samples;
                           .rank<r>.timing: its data-wait and model time (JSON);
                           .merged: taken by the rank that merges a joined job
    shards/<attempt>.rank<r>.jsonl   a rank's predictions, appended batch by batch
    logs/                  worker logs, libraries.log
    predictions.jsonl      the merged predictions, in split order
    metrics.json, manifest.json, per_sample.jsonl, report.html   the score
    imported_predictions.jsonl, import.json   a toolkit's log imported (`padt-eval import`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class RunFolder:
    root: Path

    SIGNATURE: ClassVar[str] = ".padt-eval-run"
    RUN_JSON: ClassVar[str] = "run.json"
    RUN_LOCK: ClassVar[str] = "run.lock"
    MERGE_LOCK: ClassVar[str] = "merge.lock"  # left behind by versions before plan/<attempt>.merged
    MODEL_JSON: ClassVar[str] = "model.json"
    PREDICTIONS: ClassVar[str] = "predictions.jsonl"
    SHARDS: ClassVar[str] = "shards"
    PLAN: ClassVar[str] = "plan"
    LOGS: ClassVar[str] = "logs"
    METRICS: ClassVar[str] = "metrics.json"
    MANIFEST: ClassVar[str] = "manifest.json"
    PER_SAMPLE: ClassVar[str] = "per_sample.jsonl"
    PER_SAMPLE_PARTIAL: ClassVar[str] = ".per_sample.jsonl.partial"
    REPORT: ClassVar[str] = "report.html"
    IMPORTED_PREDICTIONS: ClassVar[str] = "imported_predictions.jsonl"
    IMPORT_RECORD: ClassVar[str] = "import.json"
    #: Every entry padt-eval writes at the top of a results folder.
    ENTRIES: ClassVar[tuple[str, ...]] = (
        SIGNATURE,
        RUN_JSON,
        RUN_LOCK,
        MERGE_LOCK,
        MODEL_JSON,
        PREDICTIONS,
        SHARDS,
        PLAN,
        LOGS,
        METRICS,
        MANIFEST,
        PER_SAMPLE,
        PER_SAMPLE_PARTIAL,
        REPORT,
        IMPORTED_PREDICTIONS,
        IMPORT_RECORD,
    )

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    # -- the folder's own files ---------------------------------------------------------
    @property
    def signature(self) -> Path:
        return self.root / self.SIGNATURE

    @property
    def run_json(self) -> Path:
        return self.root / self.RUN_JSON

    @property
    def run_lock(self) -> Path:
        return self.root / self.RUN_LOCK

    @property
    def merge_lock(self) -> Path:
        return self.root / self.MERGE_LOCK

    @property
    def model_json(self) -> Path:
        return self.root / self.MODEL_JSON

    @property
    def predictions(self) -> Path:
        return self.root / self.PREDICTIONS

    @property
    def metrics(self) -> Path:
        return self.root / self.METRICS

    @property
    def manifest(self) -> Path:
        return self.root / self.MANIFEST

    @property
    def per_sample(self) -> Path:
        return self.root / self.PER_SAMPLE

    @property
    def per_sample_partial(self) -> Path:
        return self.root / self.PER_SAMPLE_PARTIAL

    @property
    def report(self) -> Path:
        return self.root / self.REPORT

    @property
    def imported_predictions(self) -> Path:
        return self.root / self.IMPORTED_PREDICTIONS

    @property
    def import_record(self) -> Path:
        return self.root / self.IMPORT_RECORD

    @property
    def logs(self) -> Path:
        return self.root / self.LOGS

    @property
    def library_log(self) -> Path:
        """Warnings, library progress bars, Java chatter: kept out of the terminal."""
        return self.logs / "libraries.log"

    # -- an attempt's files --------------------------------------------------------------
    @property
    def shards(self) -> Path:
        return self.root / self.SHARDS

    @property
    def plan(self) -> Path:
        return self.root / self.PLAN

    def shard(self, attempt: str, rank: int) -> Path:
        return self.shards / f"{attempt}.rank{rank}.jsonl"

    def shard_files(self) -> list[Path]:
        """Every attempt's shards, in attempt (start time) order."""
        return sorted(self.shards.glob("*.jsonl")) if self.shards.is_dir() else []

    def shards_of(self, attempt: str) -> list[Path]:
        return sorted(self.shards.glob(f"{attempt}.rank*.jsonl"))

    def plan_summary(self, attempt: str) -> Path:
        return self.plan / f"{attempt}.json"

    def plan_ids(self, attempt: str, rank: int) -> Path:
        return self.plan / f"{attempt}.rank{rank}.ids"

    def timing(self, attempt: str, rank: int) -> Path:
        return self.plan / f"{attempt}.rank{rank}.timing"  # JSON; not *.json: plan/*.json are the plans

    def merged_marker(self, attempt: str) -> Path:
        return self.plan / f"{attempt}.merged"
