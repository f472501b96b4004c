"""The split-reader interface every dataset format implements."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.core.types import Sample, Task


@dataclass
class SplitInfo:
    """What identifies a split in a manifest."""

    name: str
    layout: str
    files: list[str]  # the annotation files it was read from (hashed in the manifest)
    image_root: str
    task: Task
    notes: list[str] = field(default_factory=list)
    # OVD: the dataset's category table [(id, name), ...] that predicted labels map into.
    categories: list[tuple[int, str]] | None = None
    # REC/RES: the COCO instances file holding every annotated object of the split's images
    # (for the error breakdown's "another instance"), or None with the reason why not.
    instances_file: str | None = None
    instances_note: str | None = None
    # A benchmark whose own metrics score this split in place of the task's (Ref-L4: "ref_l4",
    # metrics/ref_l4.py); None: the task's metric.
    scorer: str | None = None


class SplitReader(abc.ABC):
    """Streams the Samples of one split.

    Memory holds an index of sample ids (and where each lives on disk), never the
    samples themselves; images are opened only by models.
    """

    info: SplitInfo

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def sample_ids(self) -> Iterator[str]:
        """All sample ids in split order."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Sample]:
        """All samples in split order, read lazily."""

    @abc.abstractmethod
    def get(self, sample_id: str) -> Sample:
        """One sample by id (KeyError when unknown)."""

    def validate(self) -> None:  # noqa: B027  (an optional hook: readers that read eagerly have nothing to do)
        """Check every sample can be read (readers that check lazily do it here)."""

    def image_ids(self) -> set[Any]:
        """The image ids the samples name (`meta["image_id"]`): the instances an error
        breakdown loads. A reader that can list them without making the samples says so."""
        return {s.meta.get("image_id") for s in self}

    def __contains__(self, sample_id: object) -> bool:
        try:
            self.get(str(sample_id))
        except KeyError:
            return False
        return True

    def files(self) -> list[Path]:
        return [Path(p) for p in self.info.files]
