"""Which folders padt-eval may write results into or empty: the ones it created itself.

Names prove nothing: another tool's `run.json`, or its `metrics.json` + `manifest.json`,
look exactly like ours, and a user's folder may hold either beside a thesis. So every
folder padt-eval makes for results (a model run, or the score of a predictions file)
gets `.padt-eval-run`, a small JSON file that only padt-eval writes: a random id, the
folder's kind and when it was made. The rules built on it:

* results are written only into a folder that is new, empty (a left-over `run.lock`
  aside), or signed by padt-eval for that kind of results;
* `--overwrite` empties only a signed folder, and only of the entries padt-eval writes
  there (`OWN_ENTRIES`): a file a user dropped into a run folder stays.

Folders of padt-eval versions before the signature carry none, and are treated like any
other folder (never emptied); the callers' messages say how to go on.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from padt_eval import __version__
from padt_eval.core.fileio import atomic_write
from padt_eval.results.run_folder import RunFolder

SIGNATURE_FILE = RunFolder.SIGNATURE
MODEL_RUN = "model-run"  # a model run: run.json, shards, predictions.jsonl, then its score
SCORED_FILE = "scored-file"  # the score of a predictions file padt-eval did not write here
KINDS = (MODEL_RUN, SCORED_FILE)
#: Everything padt-eval writes into a results folder (`atomic_write` temporaries too).
OWN_ENTRIES = RunFolder.ENTRIES


def read_signature(folder: Path) -> dict[str, Any] | None:
    """The folder's signature, or None when it has none (or one that is not ours: an
    unreadable or odd-shaped file proves nothing, so it counts as none)."""
    try:
        doc = json.loads(RunFolder(folder).signature.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and doc.get("kind") in KINDS:
        return doc
    return None


def kind_of(folder: Path) -> str | None:
    """MODEL_RUN or SCORED_FILE for a folder padt-eval created; None otherwise."""
    sig = read_signature(folder)
    return sig["kind"] if sig is not None else None


def sign(folder: Path, kind: str) -> dict[str, Any]:
    """Mark `folder` (which this process created or emptied) as padt-eval's, of `kind`."""
    assert kind in KINDS, kind
    doc = {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "by": f"padt-eval {__version__}",
    }
    with atomic_write(RunFolder(folder).signature) as f:
        json.dump(doc, f)
        f.write("\n")
    return doc


def is_own_entry(name: str) -> bool:
    if name in OWN_ENTRIES:
        return True
    # atomic_write's temporary `.<name>.<random>.tmp`, left by a killed run
    return name.endswith(".tmp") and any(name.startswith(f".{own}.") for own in OWN_ENTRIES)


def is_empty(folder: Path, ignoring: tuple[str, ...] = ()) -> bool:
    """True for a folder that does not exist or holds nothing but `ignoring`."""
    if not folder.is_dir():
        return True
    return all(p.name in ignoring for p in folder.iterdir())


def clear_own_entries(folder: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Remove what padt-eval wrote into the signed `folder` (but `keep` and the signature);
    returns the names of the entries left because padt-eval did not write them."""
    if read_signature(folder) is None:
        raise AssertionError(f"{folder} is not signed by padt-eval; nothing in it may be removed")
    left = []
    for child in folder.iterdir():
        if child.name in keep or child.name == SIGNATURE_FILE:
            continue
        if not is_own_entry(child.name):
            left.append(child.name)
        elif child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            os.unlink(child)
    return sorted(left)
