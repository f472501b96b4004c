"""Run identity: what must be equal for a rerun to resume an existing run folder.

A run folder holds predictions of one model, with one prompt and one set of generation
settings, on one split, scored under one protocol. Resuming into it with anything else
would mix two experiments in one file (or replace one protocol's metrics with another's),
so the fingerprint below is written first (`run.json`) and compared on every rerun; a
mismatch is refused with the differing fields named (or the folder is replaced with
`--overwrite`). Device and dtype enter as resolved, not as typed: `--dtype float32` on
the CPU is the same run as no `--dtype`, and bf16 on GPUs is not the same run as fp32 on
the CPU.

`--overwrite` only ever replaces a padt-eval run folder (one with `run.json`, or a scored
run's `manifest.json` + `metrics.json`); any other non-empty folder is refused whatever the
flag, so `-o results --overwrite` cannot wipe a results tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from padt_eval import __version__
from padt_eval.core.errors import UsageError
from padt_eval.core.fileio import atomic_write, cached_sha256
from padt_eval.results.reader import read_run_fingerprint

RUN_FILE = "run.json"
RUN_FOLDER_MARKERS = (("run.json",), ("manifest.json", "metrics.json"))  # any one set marks a padt-eval run folder
_KEEP_ON_CLEAR = ("run.lock",)  # held by this run while it replaces the folder
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
    protocol: str = "standard",
    device: str = "cpu",
    dtype: str | None = None,
) -> dict[str, Any]:
    """`device` ("cpu" | "cuda") and `dtype` as the run will use them (the family's default
    filled in); `options` without its `dtype`, which `dtype` replaces."""
    return {
        "task": task,
        "split_files_sha256": sorted(split_files.values()),
        "model": model,
        "family": family,
        "generation_options": {k: options[k] for k in sorted(options) if k != "dtype"},
        "resolved": {"device": device, "dtype": dtype},
        "prompt_template_hash": prompt_template_hash,
        "protocol": protocol,
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


def is_run_folder(path: Path) -> bool:
    return any(all((path / name).is_file() for name in marker) for marker in RUN_FOLDER_MARKERS)


def check_run_dir(run_dir: Path) -> None:
    """Refuse a non-empty folder that is not a padt-eval run folder (whatever --overwrite
    says), then make sure the folder exists."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{run_dir} is a file, not a run folder; use another --out")
    if run_dir.is_dir() and not is_run_folder(run_dir) and any(p.name not in _KEEP_ON_CLEAR for p in run_dir.iterdir()):
        raise UsageError(
            f"{run_dir} exists and is not a padt-eval run folder (no {RUN_FILE}, no manifest.json + metrics.json); "
            "refusing to write into it or to replace it, even with --overwrite. Use another --out."
        )
    run_dir.mkdir(parents=True, exist_ok=True)


def claim_run_dir(run_dir: Path, fp: dict[str, Any], overwrite: bool) -> bool:
    """Make `run_dir` (checked by `check_run_dir`, locked by this run) hold this run.
    Returns True when it continues an existing run of the same fingerprint.

    Refuses (UsageError) a folder that belongs to a different run, unless `overwrite`.
    """
    run_file = run_dir / RUN_FILE
    if run_file.is_file():
        existing = read_run_fingerprint(run_file, damaged_ok=overwrite)  # damaged: DataError, or None to replace
        if existing == fp and not overwrite:
            return True
        if not overwrite:
            diffs = _differences(existing, fp)
            raise UsageError(
                f"{run_dir} holds a different run; resuming into it would mix two experiments.\n  "
                + "\n  ".join(diffs[:12])
                + "\nUse another --out, or --overwrite to replace it."
            )
        _clear(run_dir)
    elif is_run_folder(run_dir):  # a scored run (predictions file) without a model-run fingerprint
        if not overwrite:
            raise UsageError(
                f"{run_dir} holds a scored run that padt-eval did not run itself (no {RUN_FILE}); use another --out, or --overwrite to replace it"
            )
        _clear(run_dir)
    with atomic_write(run_file) as f:
        json.dump({"fingerprint": fp}, f, indent=1)
    return False


def _clear(run_dir: Path) -> None:
    """Empty a padt-eval run folder (callers checked that it is one)."""
    import shutil

    assert is_run_folder(run_dir), run_dir
    for child in run_dir.iterdir():
        if child.name in _KEEP_ON_CLEAR:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            os.unlink(child)
