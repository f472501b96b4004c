"""Reading a results folder back: every file is checked for the shape its readers rely on.

A results folder may have been edited by hand, cut short by a full disk, or written by
another tool, and `leaderboard`, `report` and `compare` read it (a model run's own
`run.json` is read by `runner/fingerprint.py`). Each
reader here names the file, the line (JSONL) and the field that is wrong, as a
`DataError` (exit 2, or a skip the leaderboard lists), never a traceback from deep
inside a table. Fields a folder may lack stay optional: an older padt-eval wrote fewer.

`read_run` reads a finished folder into its typed record and manifest; the rules for
folders of earlier versions are applied there (`older.py`), and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from padt_eval.core.errors import DataError
from padt_eval.results.manifest import Manifest
from padt_eval.results.older import current_layout, ran_a_model, recorded_prompt_key
from padt_eval.results.record import ModelDescription, RunRecord
from padt_eval.results.run_folder import RunFolder

_NUMBER = (int, float)

# metrics.json: field -> the types it may have (absent or null is always allowed)
METRICS_FIELDS: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "task": (str,),
    "split": (str,),
    "model": (dict,),
    "metrics": (dict,),
    "counts": (dict,),
    "protocol": (dict, str),
    "errors": (dict,),
    "details": (dict,),
    "notes": (list,),
    "predictions": (dict,),
}
MANIFEST_FIELDS: dict[str, tuple[type, ...]] = {
    "task": (str,),
    "split": (dict,),
    "model": (dict,),
    "prompt_template_hash": (str,),
    "finished": (str,),
    "started": (str,),
}
SPLIT_FIELDS: dict[str, tuple[type, ...]] = {"name": (str,), "layout": (str,), "files": (dict,)}


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(v), type(v).__name__)


def _names(types: tuple[type, ...]) -> str:
    return " or ".join({dict: "an object", list: "a list", str: "a string"}.get(t, t.__name__) for t in types)


def check_fields(doc: dict[str, Any], where: str, spec: dict[str, tuple[type, ...]], prefix: str = "") -> None:
    """Each field of `spec` that `doc` holds has one of its types; else DataError naming it."""
    for key, types in spec.items():
        v = doc.get(key)
        if v is not None and (not isinstance(v, types) or isinstance(v, bool)):
            raise DataError(f"{where}: field '{prefix}{key}' must be {_names(types)}, got {_kind(v)} {v!r:.60}")


def _is_number(v: Any) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


def read_json_object(path: Path, what: str) -> tuple[dict[str, Any], bytes]:
    """A JSON file that must hold one object: (object, raw bytes)."""
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); not a readable {what}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); not a readable {what}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: expected a JSON object, got {_kind(doc)}; not a readable {what}")
    return doc, raw


def read_metrics(path: Path) -> tuple[dict[str, Any], bytes]:
    """metrics.json, checked: (document, raw bytes)."""
    doc, raw = read_json_object(path, "padt-eval metrics file")
    if not isinstance(doc.get("metrics"), dict):
        raise DataError(f"{path}: not a padt-eval metrics file (no 'metrics' object)")
    check_fields(doc, str(path), METRICS_FIELDS)
    for group in ("metrics", "counts"):
        for key, v in (doc.get(group) or {}).items():
            # a metric that could not be computed is null; nothing writes text or a boolean there
            if v is not None and (isinstance(v, (str, bool)) or (group == "counts" and not _is_number(v))):
                raise DataError(f"{path}: field '{group}.{key}' must be a number, got {_kind(v)} {v!r:.60}")
    return doc, raw


def read_manifest(path: Path) -> dict[str, Any]:
    """manifest.json, checked."""
    doc, _ = read_json_object(path, "manifest")
    check_fields(doc, str(path), MANIFEST_FIELDS)
    if isinstance(doc.get("split"), dict):
        check_fields(doc["split"], str(path), SPLIT_FIELDS, prefix="split.")
    return doc


def check_record(obj: Any, where: str) -> dict[str, Any]:
    """One per_sample.jsonl record: an object with a sample id; numbers where numbers go."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {_kind(obj)}")
    sid = obj.get("sample_id")
    if isinstance(sid, int) and not isinstance(sid, bool):
        obj["sample_id"] = sid = str(sid)
    if not isinstance(sid, str) or not sid:
        raise DataError(f"{where}: field 'sample_id' must be a non-empty string, got {sid!r:.60}")
    for key, v in obj.items():
        if v is None:
            continue
        if key.startswith("hit@"):
            ok = isinstance(v, bool) or v in (0, 1)
        elif key in ("iou", "intersection", "union") or key.startswith("n_"):
            ok = _is_number(v)
        elif key in ("status", "reason", "error"):
            ok = isinstance(v, str)
        else:
            continue
        if not ok:
            want = "a boolean" if key.startswith("hit@") else "a string" if key in ("status", "reason", "error") else "a number"
            raise DataError(f"{where}: field '{key}' must be {want}, got {_kind(v)} {v!r:.60}")
    return obj


def iter_per_sample(path: Path) -> Iterator[dict[str, Any]]:
    """The checked records of a per_sample.jsonl; DataError names `file:line` and field."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                cut = "" if raw.endswith(b"\n") else "; the file ends inside this line (cut short?)"
                raise DataError(f"{where}: malformed JSON line ({exc}){cut}") from None
            yield check_record(obj, where)


class StoredRun(NamedTuple):
    """A finished results folder, read: its record, its manifest (None when the folder has
    no manifest.json) and the sha256 of metrics.json as it is on disk."""

    record: RunRecord
    manifest: Manifest | None
    metrics_sha256: str


def read_run(folder: str | Path) -> StoredRun:
    """The finished results folder `folder`; DataError naming file and field when a file
    is damaged, or when the folder is not finished (no metrics.json)."""
    d = Path(folder)
    metrics_path = RunFolder(d).metrics
    if not metrics_path.is_file():
        raise DataError(f"{d}: not a finished results folder (no metrics.json)")
    doc, raw = read_metrics(metrics_path)
    manifest_path = RunFolder(d).manifest
    manifest_doc = read_manifest(manifest_path) if manifest_path.is_file() else None
    record = RunRecord.from_json(current_layout(doc, manifest_doc, d))
    manifest = Manifest.from_json(manifest_doc, model=record.model) if manifest_doc is not None else None
    return StoredRun(record, manifest, hashlib.sha256(raw).hexdigest())


def read_run_model(folder: Path) -> tuple[ModelDescription, str | None] | None:
    """The model a run folder's manifest.json records, and its prompt key: the provenance
    of the folder's own predictions when they are scored again. None when the folder has
    no readable manifest or its predictions were a scored file, not a model's."""
    try:
        doc = json.loads(RunFolder(folder).manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model = doc.get("model") if isinstance(doc, dict) else None  # a damaged manifest: no provenance
    if not isinstance(model, dict):
        return None
    desc = ModelDescription.from_json(model)
    return (desc, recorded_prompt_key(desc)) if ran_a_model(desc) else None
