"""Derived files (split caches, the error breakdown's instances) are verified, never trusted.

A derived file is built from source files (a refs pickle and `instances.json`, a COCO
instances file ...) and kept under `cache_dir()` so that later runs skip the slow
conversion. Its name is keyed by the sources' content, but a name says nothing about the
file's own state: a cache cut at a line boundary still parses, and once scored a smaller
split under the full split's name. So every derived file has a record beside it
(`<name>.check.json`) written after the file itself:

* `n_items`: the samples (lines) or entries it holds;
* `sha256`: the digest of its bytes;
* `ground_truth_validated`: true — every ground-truth entry passed the reader's checks
  when the file was built (a reader may skip re-checking a verified file);
* `version` and `extra` (what the builder wants kept beside the data, e.g. COCO's
  category table).

A file whose record is missing, unreadable or disagrees with its bytes is rebuilt from
the sources. A cache folder that cannot be written (a read-only `PADT_EVAL_CACHE` or
HOME) costs only speed: the built bytes are used from memory, with one warning per run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.core.fileio import atomic_write, warn_unwritable

CHECK_SUFFIX = ".check.json"


@dataclass
class Built:
    """What a builder returns: the file's bytes, how many items they hold, and extras."""

    data: bytes
    n_items: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Derived:
    """A verified derived file: on disk (`path`), or in memory only (`data`, when the
    cache folder could not be written)."""

    path: Path | None
    data: bytes | None
    record: dict[str, Any]

    @property
    def n_items(self) -> int:
        return int(self.record["n_items"])

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.record.get("extra") or {})

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def check_path(path: Path) -> Path:
    return path.with_name(path.name + CHECK_SUFFIX)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_record(path: Path, version: str) -> dict[str, Any] | None:
    try:
        record = json.loads(check_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != version:
        return None
    if not isinstance(record.get("n_items"), int) or not isinstance(record.get("sha256"), str):
        return None
    return record


def _verified(path: Path, version: str) -> dict[str, Any] | None:
    """The record of `path` when its bytes match it; None when anything disagrees."""
    record = _read_record(path, version)
    if record is None:
        return None
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return record if h.hexdigest() == record["sha256"] else None


def derived_file(path: Path, version: str, build: Callable[[], Built]) -> Derived:
    """The derived file at `path`, verified against its record, else rebuilt with `build()`
    and written (file first, record last); kept in memory when it cannot be written."""
    record = _verified(path, version)
    if record is not None:
        return Derived(path, None, record)
    built = build()
    record = {
        "version": version,
        "n_items": built.n_items,
        "sha256": _digest(built.data),
        "ground_truth_validated": True,
        "extra": built.extra,
    }
    try:
        with atomic_write(path, "wb") as f:
            f.write(built.data)
        with atomic_write(check_path(path)) as f:
            json.dump(record, f)
    except OSError as exc:
        warn_unwritable(f"the cache {path.parent}", exc)
        return Derived(None, built.data, record)
    return Derived(path, None, record)
