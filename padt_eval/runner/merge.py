"""Merging shard files into one predictions file: every sample exactly once, in split order.

A missing or duplicated sample is a hard error that names the ids (and, for duplicates,
the files and lines): a silently padded or deduplicated merge is how other tools end up
scoring some samples twice or never.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from padt_eval.data.id_index import IdIndex
from padt_eval.data.jsonl import LineReader
from padt_eval.data.split import SplitReader
from padt_eval.errors import PadtEvalError
from padt_eval.fileio import atomic_write
from padt_eval.runner.shards import shard_files

PREDICTIONS_FILE = "predictions.jsonl"
_FILE_BITS = 40  # offsets below 1 TB; the file number lives in the bits above


class MergeError(PadtEvalError):
    exit_code = 1


def _index_shards(files: list[Path]) -> tuple[IdIndex, list[tuple[str, list[str]]]]:
    index = IdIndex()
    where: dict[int, str] = {}
    for k, path in enumerate(files):
        offset = 0
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if raw.endswith(b"\n"):  # an unterminated last line is a torn write: not done
                    try:
                        sid = str(orjson.loads(raw)["sample_id"])
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        sid = None
                    if sid is not None:
                        key = (k << _FILE_BITS) | offset
                        index.add(sid, key)
                        where[key] = f"{path.name}:{lineno}"
                offset += len(raw)
    dups = [(sid, [where[o] for o in offs]) for sid, offs in index.finalize()]
    return index, dups


def merge_shards(run_dir: Path, reader: SplitReader) -> Path:
    """Write `predictions.jsonl` (split order) from the shards; raise MergeError on gaps or doubles."""
    files = shard_files(run_dir)
    index, dups = _index_shards(files)
    if dups:
        listed = "; ".join(f"{sid} ({', '.join(w)})" for sid, w in dups[:10])
        raise MergeError(f"{run_dir}: {len(dups)} sample(s) predicted more than once: {listed}")
    missing = [sid for sid in reader.sample_ids() if sid not in index]
    if missing:
        raise MergeError(
            f"{run_dir}: {len(missing)} of {len(reader)} samples have no prediction yet "
            f"(first: {', '.join(missing[:10])}); rerun the same command to complete them"
        )
    known = set(reader.sample_ids()) if len(index) != len(reader) else None
    if known is not None:
        extra = [sid for sid in index.ids() if sid not in known]
        raise MergeError(f"{run_dir}: predictions for ids the split does not have: {', '.join(extra[:10])}")
    readers = [LineReader(p) for p in files]
    mask = (1 << _FILE_BITS) - 1
    out = run_dir / PREDICTIONS_FILE
    with atomic_write(out, "wb") as f:
        for sid in reader.sample_ids():
            key = index.get(sid)
            assert key is not None
            f.write(readers[key >> _FILE_BITS].read_at(key & mask))
    return out
