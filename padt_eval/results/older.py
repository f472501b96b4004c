"""Results folders written by earlier padt-eval versions (or by hand), read in one place.

`reader.read_run` and `reader.read_run_model` are the only callers: everything above
`results/` sees the current layout, typed, and carries no rule of its own for older
folders. The rules:

* a metrics.json without `run_id`, `task`, `split` or `model` takes them from the folder
  name and the manifest, which always held them;
* a `protocol` written as a bare name is `{"name": ...}`;
* a ground-truth variant written inside `protocol` (`protocol.gt`) is the top-level `gt`;
* a scored predictions file was once described with the model family "predictions"
  (now: no family);
* runs from before prompt keys were recorded wrote a key only for PaDT, whose key is its
  family.

A folder is never rewritten: the rules apply to what is read, in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from padt_eval.results.record import ModelDescription

#: the model family earlier manifests gave a scored predictions file
SCORED_FAMILY = "predictions"


def current_layout(metrics: dict[str, Any], manifest: dict[str, Any] | None, folder: Path) -> dict[str, Any]:
    """metrics.json as the current version writes it, from a checked document (`reader.py`)
    and the folder's checked manifest (None when the folder has none)."""
    doc = dict(metrics)
    m = manifest or {}
    split = m.get("split") if isinstance(m.get("split"), dict) else {}
    doc["run_id"] = doc.get("run_id") or folder.name
    doc["task"] = doc.get("task") or m.get("task")
    doc["split"] = doc.get("split") or split.get("name")
    doc["model"] = doc.get("model") or m.get("model") or {}
    protocol = doc.get("protocol") or {}
    if isinstance(protocol, str):
        protocol = {"name": protocol}
    doc["protocol"] = protocol
    if not isinstance(doc.get("gt"), str) and isinstance(protocol.get("gt"), str):
        doc["gt"] = protocol["gt"]
    return doc


def ran_a_model(model: ModelDescription) -> bool:
    """False for the description of a scored predictions file (no family, or the family
    earlier versions gave it)."""
    return model.family not in (None, SCORED_FAMILY)


def recorded_prompt_key(model: ModelDescription) -> str | None:
    """The prompt key a model run recorded (None: a model without one)."""
    return model.prompt_key or (model.family if model.family == "padt" else None)
