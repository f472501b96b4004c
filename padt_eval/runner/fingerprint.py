"""Run identity: what must be equal for a rerun to resume an existing run folder.

A run folder holds predictions of one model, with one prompt and one set of generation
settings, on one split. Resuming into it with anything else would mix two experiments in
one file, so the fingerprint below is written first (`run.json`) and compared on every
rerun; a mismatch is refused with the differing fields named (or the folder is replaced
with `--overwrite`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from padt_eval import __version__
from padt_eval.errors import UsageError
from padt_eval.fileio import atomic_write, cached_sha256

RUN_FILE = "run.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def model_identity(model: str) -> dict[str, Any]:
    """Model id, resolved revision and weight hashes, without loading the model.

    A local folder: sha256 of every weight file. A hub id found in the local Hugging Face
    cache: the snapshot's commit hash (the hub's own content address).
    """
    local = Path(model)
    if local.is_dir():
        weights = sorted(p for p in local.iterdir() if p.suffix in WEIGHT_SUFFIXES)
        return {"model": str(local.resolve()), "revision": None, "weights_sha256": {p.name: cached_sha256(p) for p in weights}}
    revision = None
    try:
        from huggingface_hub import try_to_load_from_cache

        cfg = try_to_load_from_cache(model, "config.json")
        if isinstance(cfg, str):
            revision = Path(cfg).parent.name  # .../snapshots/<commit>/config.json
    except Exception:
        revision = None
    return {"model": model, "revision": revision, "weights_sha256": None}


def fingerprint(
    *,
    task: str,
    split_files: dict[str, str],
    model: dict[str, Any],
    family: str,
    options: dict[str, Any],
    prompt_template_hash: str | None,
) -> dict[str, Any]:
    return {
        "task": task,
        "split_files_sha256": sorted(split_files.values()),
        "model": model,
        "family": family,
        "generation_options": {k: options[k] for k in sorted(options)},
        "prompt_template_hash": prompt_template_hash,
        "adapter_version": f"padt-eval {__version__}",
    }


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {json.dumps(va)} → {json.dumps(vb)}")
    return out


def claim_run_dir(run_dir: Path, fp: dict[str, Any], overwrite: bool) -> bool:
    """Make `run_dir` hold this run. Returns True when it resumes an existing run.

    Refuses (UsageError) a folder that belongs to a different run, unless `overwrite`.
    """
    run_file = run_dir / RUN_FILE
    if run_file.is_file():
        existing = json.loads(run_file.read_text(encoding="utf-8")).get("fingerprint", {})
        if existing == fp:
            return True
        if not overwrite:
            diffs = _differences(existing, fp)
            raise UsageError(
                f"{run_dir} holds a different run; resuming into it would mix two experiments.\n  "
                + "\n  ".join(diffs[:12])
                + "\nUse another --out, or --overwrite to replace it."
            )
        _clear(run_dir)
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        raise UsageError(f"{run_dir} exists and is not a padt-eval run folder (no {RUN_FILE}); use another --out or --overwrite")
    elif overwrite and run_dir.is_dir():
        _clear(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run_file) as f:
        json.dump({"fingerprint": fp}, f, indent=1)
    return False


def _clear(run_dir: Path) -> None:
    import shutil

    for child in run_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            os.unlink(child)
