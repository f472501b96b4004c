"""`RunJob`: one model run as the runner receives it, built from the option objects.

`api.run_model` resolves what the user left open (the family detected from config.json,
the ground truth the protocol implies, loader workers from the CPU count, the default run
folder) and hands the runner one frozen `RunJob`. The same object travels, pickled, to
every spawned rank, so it holds plain data only: the option objects and a few strings.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.options import DataOptions, ModelOptions, RunOptions
from padt_eval.results.run_folder import RunFolder


def new_attempt() -> str:
    """An attempt's name: its start time first, so shards sort in the order attempts began."""
    return time.strftime("a%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class RunJob:
    """Everything the runner and each rank need, picklable (workers are spawned processes).

    `model.family` is resolved (never None); `data.gt` is the ground truth the protocol
    implies; `run.loader_workers` is a number (never None)."""

    task: str
    split: str
    model: ModelOptions
    out_dir: Path
    data: DataOptions = DataOptions()
    run: RunOptions = RunOptions(loader_workers=2)
    protocol: str = "standard"
    attempt: str = field(default_factory=new_attempt)

    def __post_init__(self) -> None:
        if self.model.family is None:
            raise ValueError("RunJob needs the model family resolved (models.loading.detect_family)")
        if self.run.loader_workers is None:
            raise ValueError("RunJob needs run.loader_workers resolved (RunOptions.loader_workers_per_rank)")
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.out_dir)

    @property
    def family(self) -> str:
        assert self.model.family is not None  # checked when made
        return self.model.family

    @property
    def options(self) -> dict[str, Any]:
        """The family's load and generation options (`-O KEY=VALUE` and the named flags)."""
        return self.model.options

    @property
    def loader_workers(self) -> int:
        assert self.run.loader_workers is not None  # checked when made
        return self.run.loader_workers
