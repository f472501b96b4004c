"""What a run is asked to do, one small object per concern.

The API functions take these (`api.score`, `api.run_model`); the CLI only builds them from
its flags. Each object checks its own fields when it is made; the checks that involve
two of them (e.g. `--format` with `--model`) live in `check_model_run`, so every rule a
user can break is written once, here, with the message the CLI prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.metrics.errors import ErrorThresholds


def default_loader_workers(nproc: int = 1) -> int:
    """DataLoader processes per rank when `--loader-workers` is not given: the machine's
    cores shared by its `nproc` ranks, one core of each share left to the model's own
    threads, at most 4 (image decoding and resizing are cheap next to generation, so
    more workers only hold more prepared batches in memory)."""
    return max(0, min(4, (os.cpu_count() or 1) // max(1, nproc) - 1))


@dataclass(frozen=True)
class DataOptions:
    """Where the split's annotations and images are, and which ground truth (OVD)."""

    data_root: str | Path | None = None
    image_root: str | Path | None = None
    layout: str = "auto"
    gt: str = "official"  # OVD: official | padt-filtered (see data/coco.py)


@dataclass(frozen=True)
class PredictionsOptions:
    """A predictions file to score, and how to read it. With `text_format`, each line's
    raw `text` is read by that family's parser; `min_pixels`/`max_pixels` set the resize
    rule of the formats written in model-input pixels (Qwen2.5-VL, VLM-R1)."""

    path: str | Path
    strict: bool = False
    text_format: str | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        if (self.min_pixels is not None or self.max_pixels is not None) and self.text_format is None:
            raise UsageError(
                "--min-pixels/--max-pixels set how --format qwen2_5_vl|vlm_r1 reads a predictions file (or the processor of --model)"
            )


@dataclass(frozen=True)
class ModelOptions:
    """The model to run: a checkpoint folder or Hugging Face id, its family (detected from
    config.json when None) and the family's loading/generation options."""

    model: str
    family: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


DEFAULT_BATCH_SIZE = 8


def batch_size_option(text: str | int) -> int | str:
    """`-b N` or `-b auto`, checked."""
    if str(text) == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"-b/--batch-size must be a positive number or 'auto', got {text!r}")
    return value


@dataclass(frozen=True)
class RunOptions:
    """How the runner drives a model: ranks, device, batch, loader, resume."""

    nproc: int = 1
    device: str = "cpu"  # "cpu" or "cuda" (each rank takes cuda:LOCAL_RANK)
    batch_size: int | str = DEFAULT_BATCH_SIZE  # or "auto" (runner.auto_batch)
    loader_workers: int | None = None  # None: `default_loader_workers(nproc)`
    overwrite: bool = False
    rank_timeout_s: float = 30 * 60  # ranks of a joined job wait this long for each other, then give up
    length_order: bool = True  # batch prompts of similar length together (runner/length_order.py)

    def loader_workers_per_rank(self) -> int:
        return default_loader_workers(self.nproc) if self.loader_workers is None else self.loader_workers


@dataclass(frozen=True)
class ScoringOptions:
    """The scoring rules: `protocol` "standard" or "padt-release" (the PaDT release's
    scripts; for OVD it implies PaDT's filtered ground truth), and the IoUs of the miss
    breakdown (metrics.json `errors`)."""

    protocol: str = "standard"
    error_thresholds: ErrorThresholds = field(default_factory=ErrorThresholds)


@dataclass(frozen=True)
class OutputOptions:
    """Where results go (None: the default folder), the model's display name in tables,
    and whether `report.html` is written."""

    out: str | Path | None = None
    name: str | None = None
    report: bool = True


def error_thresholds(foreground: float, background: float) -> ErrorThresholds:
    """`--error-iou` / `--background-iou` as thresholds, or the message naming both flags."""
    try:
        return ErrorThresholds(foreground, background)
    except ValueError as exc:
        raise UsageError(f"--error-iou / --background-iou: {exc}") from None


def check_one_source(predictions: Any, model: Any) -> None:
    if (predictions is None) == (model is None):
        raise UsageError("give exactly one of --predictions and --model")


def check_model_run(*, strict: bool, text_format: str | None) -> None:
    """The predictions-file flags that mean nothing for a model run."""
    if strict:
        raise UsageError(
            "--strict checks the lines of a predictions file (--predictions); a model run's output is written by "
            "padt-eval, and an answer it cannot parse is counted per sample as unparseable, never fatal"
        )
    if text_format is not None:
        raise UsageError("--format reads the raw text of a predictions file; with --model the family's own parser is used")


def ranks(gpus: int | None, workers: int | None) -> tuple[int, str | None]:
    """(number of ranks, device) from `--gpus` / `--workers`; device None: a single
    process whose device `--device` decides."""
    if gpus is not None and workers is not None:
        raise UsageError("give --gpus or --workers, not both")
    if gpus is not None:
        return gpus, "cuda"
    if workers is not None:
        return workers, "cpu"
    return 1, None
