"""Per-rank prediction files: appended and made durable batch by batch, read back safely.

Each rank of each attempt appends to its own file `shards/<attempt>.rank<r>.jsonl`; no
two processes ever write the same file. A batch is written, flushed and fsynced before
the next one starts, so a crash or SIGKILL loses at most the batch in flight. A rank
killed mid-write can leave a last line without its newline: readers ignore such a tail,
and the sample is simply run again on the next attempt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from padt_eval.core.fileio import naming
from padt_eval.core.types import ParseStatus, Prediction
from padt_eval.results.run_folder import RunFolder

ERROR_STATUS = ParseStatus.ERROR.value  # a sample that could not be run: retried by the next attempt


class ShardWriter:
    def __init__(self, run_dir: Path, attempt: str, rank: int) -> None:
        self.path = RunFolder(run_dir).shard(attempt, rank)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[bytes] = open(self.path, "ab")

    def write(self, preds: list[Prediction]) -> None:
        with naming(self.path):  # a full disk's ENOSPC names no file by itself
            self._f.write(b"".join(orjson.dumps(p.to_json()) + b"\n" for p in preds))
            self._f.flush()
            os.fsync(self._f.fileno())

    def close(self) -> None:
        with naming(self.path):
            self._f.close()


def shard_files(run_dir: Path) -> list[Path]:
    return RunFolder(run_dir).shard_files()


def shard_record_id(raw: bytes) -> tuple[dict | None, str]:
    """(record, its sample id) of one complete shard line, or (None, why it is unusable).

    We write whole JSON objects that each carry a `sample_id`; anything else was damaged
    after the fact (or torn by a crash) and does not count as done."""
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, "not a JSON line"
    if not isinstance(rec, dict):
        return None, f"not a JSON object ({type(rec).__name__})"
    sid = rec.get("sample_id")
    if isinstance(sid, bool) or not isinstance(sid, (str, int)) or sid == "":
        return None, "no 'sample_id' field" if sid is None else f"field 'sample_id' is {sid!r:.40}, not an id"
    return rec, str(sid)


def iter_shard_lines(path: Path, damaged: list[str] | None = None) -> Iterator[tuple[int, dict]]:
    """(1-based line, record) for every complete, well-formed line; an unterminated last line
    is skipped (a write cut off by a crash: that sample is redone), and so is a damaged
    line, which `damaged` (when given) gets as `file:line: why`."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                return
            rec, why = shard_record_id(raw)
            if rec is None:
                if damaged is not None:
                    damaged.append(f"{path}:{lineno}: {why}")
                continue
            yield lineno, rec


def predicted_ids(run_dir: Path) -> set[str]:
    """Sample ids with a complete prediction, of any status, in any shard of any attempt."""
    return {str(rec["sample_id"]) for path in shard_files(run_dir) for _, rec in iter_shard_lines(path)}


def done_ids(run_dir: Path, damaged: list[str] | None = None) -> set[str]:
    """Sample ids with a complete prediction in any shard of any earlier attempt. A sample
    whose every copy ended in `error` (it could not be run: an unreadable image, a
    failing model call) is not done: the next attempt runs it again, since its cause may
    have been fixed. An answer, even one that could not be parsed, is never rerun. Lines
    that cannot be read are not done either, and are listed in `damaged` when given."""
    out: set[str] = set()
    for path in shard_files(run_dir):
        for _, rec in iter_shard_lines(path, damaged):
            if rec.get("parse_status") != ERROR_STATUS:
                out.add(str(rec["sample_id"]))
    return out


def damaged_note(damaged: list[str]) -> str:
    """One line for the user about damaged shard lines (their samples are run again)."""
    listed = "; ".join(damaged[:5]) + (f"; and {len(damaged) - 5} more" if len(damaged) > 5 else "")
    return f"{len(damaged)} damaged shard line(s) ignored, their samples are run again: {listed}"


def count_lines(path: Path) -> tuple[int, int]:
    """(complete lines, lines whose sample errored or failed to parse) — for progress views."""
    n = bad = 0
    try:
        with open(path, "rb") as f:
            for raw in f:
                if raw.endswith(b"\n"):
                    n += 1
                    if b'"parse_status":"error"' in raw or b'"parse_status":"failed"' in raw:
                        bad += 1
    except FileNotFoundError:
        pass
    return n, bad


def read_all(run_dir: Path) -> Iterator[tuple[str, int, Prediction]]:
    """(file name, line, prediction) for every complete line of every shard."""
    for path in shard_files(run_dir):
        for lineno, rec in iter_shard_lines(path):
            yield path.name, lineno, Prediction.from_json(rec)
