"""manifest.json as a type: `Manifest`, with the `SplitDescription` and `RunnerInfo` it holds.

Everything needed to say whether two numbers are comparable: the split's files and
their hashes, the model (the run's one `ModelDescription`), the prompt template hash,
package versions, git state, platform, accelerator, command line and times
(`environment.py` gathers those), and the runner's record of a model run. `to_json`
writes the keys in the order padt-eval has always written them.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from typing import Any

from padt_eval.results.environment import accelerator_info, git_state, now_iso, package_versions
from padt_eval.results.record import ModelDescription, PredictionsRef

SCHEMA = "padt-eval/manifest/v1"


def _dict_or_none(v: Any) -> dict[str, Any] | None:
    return dict(v) if isinstance(v, dict) else None


@dataclass(frozen=True)
class SplitDescription:
    """manifest.json `split`: the split as it was scored, its files with their sha256."""

    name: str | None
    layout: str | None
    files: dict[str, str]  # path -> sha256
    image_root: str | None = None
    n_samples: int | None = None
    notes: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layout": self.layout,
            "files": dict(self.files),
            "image_root": self.image_root,
            "n_samples": self.n_samples,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> SplitDescription | None:
        if doc is None:
            return None
        root, n, notes = doc.get("image_root"), doc.get("n_samples"), doc.get("notes")
        return cls(
            name=doc.get("name"),
            layout=doc.get("layout"),
            files=dict(doc.get("files") or {}),
            image_root=str(root) if root is not None else None,
            n_samples=n if isinstance(n, int) and not isinstance(n, bool) else None,
            notes=list(notes) if isinstance(notes, list) else None,
        )


@dataclass(frozen=True)
class RunnerInfo:
    """manifest.json `runner`: how the model run that wrote the predictions went (the
    runner's outcome, `runner/orchestrate.py`), for the CLI's summary line and for the
    record. `per_rank` holds each rank's own timings."""

    world_size: int | None  # None: an earlier padt-eval did not record it
    device: str | None
    resumed: bool | None
    samples_this_attempt: int | None
    failed_this_attempt: int | None
    seconds: float | None
    samples_per_s: float | None  # also None when nothing was left to run
    attempt: str | None = None
    batch_size: int | str | None = None  # as asked: a number or "auto"
    batch_size_resolved: int | str | None = None
    loader_workers: int | None = None
    per_rank: list[dict[str, Any]] = field(default_factory=list)
    duplicates_kept_first: int | None = None  # only when a crashed concurrent run left duplicates
    started: str | None = None
    #: what this version does not know (a newer runner's fields), kept as it was
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "world_size": self.world_size,
            "device": self.device,
            "attempt": self.attempt,
            "resumed": self.resumed,
            "samples_this_attempt": self.samples_this_attempt,
            "failed_this_attempt": self.failed_this_attempt,
            "seconds": self.seconds,
            "samples_per_s": self.samples_per_s,
            "batch_size": self.batch_size,
            "batch_size_resolved": self.batch_size_resolved,
            "loader_workers": self.loader_workers,
            "per_rank": self.per_rank,
            **({"duplicates_kept_first": self.duplicates_kept_first} if self.duplicates_kept_first is not None else {}),
            **self.extra,
            "started": self.started,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RunnerInfo:
        known = [f for f in cls.__dataclass_fields__ if f != "extra"]
        required = known[: known.index("attempt")]
        return cls(
            **{k: doc.get(k) for k in required},
            **{k: doc[k] for k in known[len(required) :] if k in doc},
            extra={k: v for k, v in doc.items() if k not in known},
        )


@dataclass(frozen=True)
class Manifest:
    """manifest.json: everything needed to say whether two numbers are comparable.

    `model` and `predictions` are the run's own (`RunRecord.model`, `.predictions`: the
    same objects, not copies). `runner` is there when padt-eval ran the model itself.
    A field an earlier padt-eval did not write reads as None."""

    task: str | None
    split: SplitDescription | None
    model: ModelDescription
    prompt_template_hash: str | None = None
    predictions: PredictionsRef | None = None
    started: str | None = None
    finished: str | None = None
    world_size: int | None = None
    versions: dict[str, str | None] | None = None
    git: dict[str, Any] | None = None
    platform: dict[str, Any] | None = None
    accelerator: dict[str, Any] | None = None
    command: list[str] | None = None
    runner: RunnerInfo | None = None
    schema: str | None = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "task": self.task,
            "versions": self.versions,
            "git": self.git,
            "platform": self.platform,
            "accelerator": self.accelerator,
            "command": self.command,
            "started": self.started,
            "finished": self.finished,
            "world_size": self.world_size,
            "split": self.split.to_json() if self.split is not None else None,
            "model": self.model.to_json(),
            "prompt_template_hash": self.prompt_template_hash,
            "predictions": self.predictions.to_json() if self.predictions is not None else None,
            **({"runner": self.runner.to_json()} if self.runner is not None else {}),
            **self.extra,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], model: ModelDescription | None = None) -> Manifest:
        """`model`: the run's description when the caller holds it already (read from
        metrics.json), so that the run has one; else the manifest's own."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        runner, command, size = doc.get("runner"), doc.get("command"), doc.get("world_size")
        return cls(
            task=doc.get("task"),
            split=SplitDescription.from_json(doc.get("split")),
            model=model if model is not None else ModelDescription.from_json(doc.get("model")),
            prompt_template_hash=doc.get("prompt_template_hash"),
            predictions=PredictionsRef.from_json(_dict_or_none(doc.get("predictions"))),
            started=doc.get("started"),
            finished=doc.get("finished"),
            world_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            versions=_dict_or_none(doc.get("versions")),
            git=_dict_or_none(doc.get("git")),
            platform=_dict_or_none(doc.get("platform")),
            accelerator=_dict_or_none(doc.get("accelerator")),
            command=[str(c) for c in command] if isinstance(command, list) else None,
            runner=RunnerInfo.from_json(runner) if isinstance(runner, dict) else None,
            schema=doc.get("schema") if isinstance(doc.get("schema"), str) else None,
            extra={k: v for k, v in doc.items() if k not in known},
        )


def build_manifest(
    *,
    started: str,
    split: SplitDescription,
    model: ModelDescription,
    task: str,
    predictions: PredictionsRef | None,
    prompt_template_hash: str | None,
    world_size: int = 1,
    runner: RunnerInfo | None = None,
) -> Manifest:
    """The manifest of a run scored now, in this process and environment."""
    return Manifest(
        task=task,
        split=split,
        model=model,
        prompt_template_hash=prompt_template_hash,
        predictions=predictions,
        started=started,
        finished=now_iso(),
        world_size=world_size,
        versions=package_versions(),
        git=git_state(),
        platform={"system": platform.system(), "machine": platform.machine(), "node": platform.node()},
        accelerator=accelerator_info(),
        command=sys.argv,
        runner=runner,
    )
