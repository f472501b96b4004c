"""The flags of the task commands (rec, res, ovd, ric, grec, gres), declared once.

Typer has no option groups: a command's options are its function's parameters. Six
commands share some thirty flags, so each flag is declared once as a `TaskFlags` field
carrying its Typer option, and `task_command` gives each command the signature Typer
reads, with only the fields that task has. Everything else in the CLI uses plain Typer
functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from padt_eval.cli.options import (
    AttnOpt,
    BackendOpt,
    BackgroundIouOpt,
    BatchRunOpt,
    CompileOpt,
    DataRootOpt,
    DeviceOpt,
    DtypeOpt,
    ErrorIouOpt,
    FamilyOpt,
    FormatOpt,
    GpusOpt,
    GtOpt,
    ImageRootOpt,
    LayoutOpt,
    LengthOrderOpt,
    LoaderOpt,
    MaxNewOpt,
    MaxPixelsOpt,
    MinPixelsOpt,
    ModelArgOpt,
    ModelOpt,
    NameOpt,
    NoReportOpt,
    OutOpt,
    OverwriteOpt,
    PredictionsOpt,
    PromptStyleOpt,
    ProtocolOpt,
    RankTimeoutOpt,
    SplitOpt,
    StrictOpt,
    WorkersOpt,
)
from padt_eval.core.types import Task


def _flag(option, default=None):
    """A `TaskFlags` field: its default and the Typer option that sets it."""
    return field(default=default, metadata={"option": option})


@dataclass
class TaskFlags:
    """The flags of the task commands (rec, res, ovd, ric), typed, each declared once with
    its option. A task without a flag (RIC has no --layout) keeps the field's default;
    `_task_command` says which a task has. Field order is the order of `--help`."""

    split: str = _flag(SplitOpt, MISSING)
    predictions: Path | None = _flag(PredictionsOpt)
    model: str | None = _flag(ModelOpt)
    family: str | None = _flag(FamilyOpt)
    data_root: Path | None = _flag(DataRootOpt)
    image_root: Path | None = _flag(ImageRootOpt)
    layout: str = _flag(LayoutOpt, "auto")
    gt: str = _flag(GtOpt, "official")
    out: Path | None = _flag(OutOpt)
    strict: bool = _flag(StrictOpt, False)
    batch_size: str = _flag(BatchRunOpt, "8")
    gpus: int | None = _flag(GpusOpt)
    workers: int | None = _flag(WorkersOpt)
    device: str = _flag(DeviceOpt, "auto")
    overwrite: bool = _flag(OverwriteOpt, False)
    loader_workers: int | None = _flag(LoaderOpt)
    rank_timeout: float = _flag(RankTimeoutOpt, 30.0)
    length_order: bool = _flag(LengthOrderOpt, True)
    dtype: str | None = _flag(DtypeOpt)
    attn: str | None = _flag(AttnOpt)
    max_new_tokens: int | None = _flag(MaxNewOpt)
    model_arg: list[str] | None = _flag(ModelArgOpt)
    text_format: str | None = _flag(FormatOpt)
    min_pixels: int | None = _flag(MinPixelsOpt)
    max_pixels: int | None = _flag(MaxPixelsOpt)
    prompt_style: str | None = _flag(PromptStyleOpt)
    backend: str | None = _flag(BackendOpt)
    compile_step: bool = _flag(CompileOpt, False)
    protocol: str = _flag(ProtocolOpt, "standard")
    error_iou: float = _flag(ErrorIouOpt, 0.5)
    background_iou: float = _flag(BackgroundIouOpt, 0.1)
    name: str | None = _flag(NameOpt)
    no_report: bool = _flag(NoReportOpt, False)


def task_command(
    task: Task,
    doc: str,
    run: Callable[[Task, TaskFlags], None],
    *,
    split,
    image_root,
    layout=None,
    protocol=None,
    gt: bool = False,
    errors: bool = False,
):
    """One Typer command for a task: the `TaskFlags` it has, with the options that differ
    per task (split, image folder, layout, protocol: their help names the task's data).
    An option given as `(option, default)` replaces the field's default too."""
    differ = {"split": split, "image_root": image_root, "layout": layout, "protocol": protocol}
    absent = {name for name in ("layout", "protocol") if differ[name] is None}
    absent |= set() if gt else {"gt"}
    absent |= set() if errors else {"error_iou", "background_iou"}
    params = []
    for f in fields(TaskFlags):
        if f.name in absent:
            continue
        option = differ.get(f.name) or f.metadata["option"]
        option, default = option if isinstance(option, tuple) else (option, f.default)
        if default is MISSING:
            default = inspect.Parameter.empty
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=option, default=default))

    def command(**flags) -> None:
        run(task, TaskFlags(**flags))

    command.__signature__ = inspect.Signature(params)
    command.__doc__ = doc
    command.__name__ = task.value
    return command
