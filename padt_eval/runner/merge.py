"""Merging shard files into one predictions file: every sample exactly once, in split order.

A missing sample is a hard error that names the ids: a silently padded merge is how
other tools end up scoring some samples never. A sample predicted more than once (two
runs that shared a folder before it was locked, or one that crashed while another ran)
keeps its first copy (shards sort by attempt, i.e. by start time), and the merge says so,
naming the ids, files and lines: never a silent deduplication, and never a folder that
every later rerun fails on. A sample that ended in `error` (it could not be run) is run
again by the next attempt (`shards.done_ids`); its retried answer replaces the error
without a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from padt_eval.core.errors import PadtEvalError
from padt_eval.core.fileio import atomic_write
from padt_eval.core.jsonl import LineReader, first_offsets
from padt_eval.data.split import SplitReader
from padt_eval.results.run_folder import RunFolder
from padt_eval.runner.shards import ERROR_STATUS, shard_files, shard_record_id

_FILE_BITS = 40  # offsets below 1 TB; the file number lives in the bits above


class MergeError(PadtEvalError):
    exit_code = 1


@dataclass
class Merged:
    path: Path
    # (sample id, [file:line of each copy]) for every sample met more than once; the first copy is kept
    duplicates: list[tuple[str, list[str]]] = field(default_factory=list)

    def duplicates_note(self) -> str | None:
        if not self.duplicates:
            return None
        listed = "; ".join(f"{sid} ({', '.join(w)})" for sid, w in self.duplicates[:5])
        return (
            f"{len(self.duplicates)} sample(s) had more than one prediction (an earlier run into this folder crashed or ran "
            f"concurrently); kept the first copy of each: {listed}"
        )


def _index_shards(files: list[Path]) -> tuple[dict[str, int], list[tuple[str, list[str]]]]:
    """Every complete line's id → where its kept copy is, and the ids answered twice.

    The kept copy is the first one that is not an `error` (a sample that could not be run
    and was retried by a later attempt); a sample that only ever errored keeps its last
    error, whose reason is the newest. Error copies are expected, not duplicates."""
    where: dict[int, str] = {}
    last_error: dict[str, int] = {}

    def answered_ids_and_keys():
        for k, path in enumerate(files):
            offset = 0
            with open(path, "rb") as f:
                for lineno, raw in enumerate(f, start=1):
                    if raw.endswith(b"\n"):  # an unterminated last line is a torn write: not done
                        rec, sid = shard_record_id(raw)
                        if rec is not None:  # a damaged line is not done (`done_ids` says so)
                            status = rec.get("parse_status")
                            key = (k << _FILE_BITS) | offset
                            where[key] = f"{path.name}:{lineno}"
                            if status == ERROR_STATUS:
                                last_error[sid] = key
                            else:
                                yield sid, key
                    offset += len(raw)

    index, dups = first_offsets(answered_ids_and_keys())
    for sid, key in last_error.items():
        index.setdefault(sid, key)
    return index, [(sid, [where[o] for o in offs]) for sid, offs in dups.items()]


def merge_shards(run_dir: Path, reader: SplitReader) -> Merged:
    """Write `predictions.jsonl` (split order) from the shards; raise MergeError on gaps.
    Doubles keep their first copy and are listed in the result."""
    files = shard_files(run_dir)
    index, dups = _index_shards(files)
    missing = [sid for sid in reader.sample_ids() if sid not in index]
    if missing:
        raise MergeError(
            f"{run_dir}: {len(missing)} of {len(reader)} samples have no prediction yet "
            f"(first: {', '.join(missing[:10])}); rerun the same command to complete them"
        )
    known = set(reader.sample_ids()) if len(index) != len(reader) else None
    if known is not None:
        extra = [sid for sid in index if sid not in known]
        raise MergeError(f"{run_dir}: predictions for ids the split does not have: {', '.join(extra[:10])}")
    readers = [LineReader(p) for p in files]
    mask = (1 << _FILE_BITS) - 1
    out = RunFolder(run_dir).predictions
    with atomic_write(out, "wb") as f:
        for sid in reader.sample_ids():
            key = index.get(sid)
            assert key is not None
            f.write(readers[key >> _FILE_BITS].read_at(key & mask))
    return Merged(out, dups)
