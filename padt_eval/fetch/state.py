"""What a fetch leaves behind besides the data: stamps, partial downloads, a lock.

Everything lives under `<data-root>/.padt-eval/`, where no split reader looks:

* `fetched/<source>.json`: the stamp written once a source's outputs are in place. It
  records where the bytes came from, their checksums, and what each output was (a file's
  size and SHA-256; a folder's file count, bytes and tree digest), so a rerun skips it and `data
  status` can tell "verified" from "changed since";
* `downloads/`: downloads in progress (`*.part`) and kept archives;
* `tmp/`: archives being unpacked, before each output is moved into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from padt_eval.core.fileio import atomic_write
from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.sources import Output, Source

STATE_DIR = ".padt-eval"


def state_dir(root: Path) -> Path:
    return root / STATE_DIR


def downloads_dir(root: Path) -> Path:
    return state_dir(root) / "downloads"


def tmp_dir(root: Path) -> Path:
    return state_dir(root) / "tmp"


def stamp_path(root: Path, key: str) -> Path:
    return state_dir(root) / "fetched" / f"{key}.json"


def read_stamp(root: Path, key: str) -> dict | None:
    try:
        return json.loads(stamp_path(root, key).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treated as "not verified"


def write_stamp(root: Path, source: Source, record: dict) -> None:
    doc = {"source": source.key, "from": source.where, "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}
    with atomic_write(stamp_path(root, source.key)) as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def dir_files(path: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            yield Path(dirpath) / name


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(file_sha256: dict[str, str]) -> str:
    """One SHA-256 for a folder: over its files' relative POSIX paths and SHA-256s, sorted by path."""
    h = hashlib.sha256()
    for rel in sorted(file_sha256):
        h.update(f"{rel}\0{file_sha256[rel]}\n".encode())
    return h.hexdigest()


def describe(root: Path, output: Output, deep: bool = False) -> dict:
    """What is at an output's place now: {"kind": "file", "size", ["sha256"]} or {"kind": "dir", "files", ["bytes"]}."""
    path = root / output.dest
    if output.member is None or not output.is_dir:
        st = path.stat()
        d = {"dest": output.dest, "kind": "file", "size": st.st_size}
        if deep:
            d["sha256"] = _file_sha256(path)
        return d
    if deep:
        total = 0
        shas = {}
        for p in dir_files(path):
            total += p.stat().st_size
            shas[p.relative_to(path).as_posix()] = _file_sha256(p)
        return {"dest": output.dest, "kind": "dir", "files": len(shas), "bytes": total, "tree_sha256": tree_digest(shas)}
    n = total = 0
    for p in dir_files(path):
        n += 1
        total += p.stat().st_size
    return {"dest": output.dest, "kind": "dir", "files": n, "bytes": total}


def completeness(root: Path, output: Output) -> str | None:
    """None when the output is present and complete, else why not ("missing", or what lacks)."""
    path = root / output.dest
    if output.is_dir:
        if not path.is_dir():
            return "missing"
        lacking = [r for r in output.required if not (path / r).is_file()]
        if lacking:
            return f"lacks {', '.join(lacking)}"
        if output.n_files is not None:
            n = sum(1 for _ in dir_files(path))
            if n != output.n_files:
                return f"holds {n:,} of {output.n_files:,} files"
        return None
    return None if path.is_file() else "missing"


def compare(recorded: dict, now: dict) -> str | None:
    """None when `now` matches what the stamp recorded for this output, else the difference."""
    for key in ("size", "sha256", "files", "bytes", "tree_sha256"):
        if key in now and key in recorded and now[key] != recorded[key]:
            return f"{key} is {now[key]}, was {recorded[key]} when fetched"
    return None


def check_stamped(root: Path, source: Source, stamp: dict, deep: bool = False) -> str | None:
    """None when every output of a stamped source is still what was installed, else what changed."""
    recorded = {o.get("dest"): o for o in stamp.get("outputs", [])}
    for output in source.outputs:
        why = completeness(root, output)
        if why is not None:
            return f"{output.dest}: {why}"
        rec = recorded.get(output.dest)
        if rec is None:
            return f"{output.dest}: not in the stamp"
        diff = compare(rec, describe(root, output, deep=deep))
        if diff is not None:
            return f"{output.dest}: {diff}"
    return None


@contextmanager
def lock(root: Path, key: str) -> Iterator[None]:
    """One fetch of a source at a time per data root (a second gets a clear error, not a tangle)."""
    path = state_dir(root) / "locks" / f"{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"another padt-eval is fetching {key} into {root} (lock {path}); wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
