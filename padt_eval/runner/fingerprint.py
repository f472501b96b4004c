"""Run identity: what must be equal for a rerun to resume an existing run folder.

A run folder holds predictions of one model, with one prompt and one set of generation
settings, on one split, scored under one protocol. Resuming into it with anything else
would mix two experiments in one file (or replace one protocol's metrics with another's),
so the fingerprint below is written first (`run.json`) and compared on every rerun; a
mismatch is refused with the differing fields named (or the folder is replaced with
`--overwrite`). Device and dtype enter as resolved, not as typed: `--dtype float32` on
the CPU is the same run as no `--dtype`, and bf16 on GPUs is not the same run as fp32 on
the CPU.

`--overwrite` only ever empties a folder padt-eval created (signed with `.padt-eval-run`,
see `results/ownership.py`), and only of the files padt-eval writes; any other non-empty
folder is refused whatever the flag (another tool's `run.json`, a results tree, a run of
a padt-eval from before signatures), so `-o results --overwrite` cannot wipe anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from padt_eval import __version__
from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.fileio import atomic_write, cached_sha256
from padt_eval.results import ownership
from padt_eval.results.run_folder import RunFolder

RUN_FILE = RunFolder.RUN_JSON
_KEEP_ON_CLEAR = (RunFolder.RUN_LOCK,)  # held by this run while it replaces the folder
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


def read_run_file(run_dir: Path, *, strict: bool) -> dict[str, Any] | None:
    """The fingerprint in `run_dir/run.json`; None when there is no such file, or (not
    `strict`) when it is not a padt-eval run file. `strict` (a folder padt-eval signed):
    a run.json it cannot read is a DataError naming the file."""
    path = RunFolder(run_dir).run_json
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if not strict:
            return None
        raise DataError(
            f"{path}: not readable as padt-eval's run record ({exc}); the run's identity is unknown, so it is not "
            "resumed. Use --overwrite to start the run over in this folder, or another --out."
        ) from None
    fp = doc.get("fingerprint") if isinstance(doc, dict) else None
    if isinstance(fp, dict):
        return fp
    if strict:
        raise DataError(f"{path}: has no 'fingerprint' object; use --overwrite to start the run over, or another --out")
    return None


def _unsigned_refusal(run_dir: Path, fp: dict[str, Any], overwrite: bool) -> str | None:
    """Why this run may not use the existing folder `run_dir`, which padt-eval did not
    sign; None when it may (the same run, by a padt-eval from before signatures)."""
    existing = read_run_file(run_dir, strict=False)
    if existing == fp and not overwrite:
        return None  # resumed, and signed on the way (claim_run_dir)
    if existing is not None:
        what = "a run of a padt-eval version from before folders were signed"
        how = (
            f"Delete it yourself (rm -r {run_dir}) if you no longer need it, or use another --out"
            if overwrite
            else f"Rerun with the settings it was made with to resume it, delete it yourself (rm -r {run_dir}), or use another --out"
        )
        diffs = _differences(existing, fp)
        detail = ("\n  " + "\n  ".join(diffs[:12])) if diffs and not overwrite else ""
        return f"{run_dir} holds {what} ({ownership.SIGNATURE_FILE} missing); padt-eval never empties such a folder, even with --overwrite.{detail}\n{how}."
    found = "another tool's run.json" if RunFolder(run_dir).run_json.exists() else "files padt-eval did not write"
    return (
        f"{run_dir} exists and is not a padt-eval run folder: it holds {found}, and not the {ownership.SIGNATURE_FILE} "
        "file padt-eval puts into the folders it creates. Refusing to write into it or to empty it, even with --overwrite. "
        "Use a new or empty folder as --out."
    )


def check_run_dir(run_dir: Path, fp: dict[str, Any], overwrite: bool) -> None:
    """Refuse, before anything is written (not even a lock file), a folder this run may
    not use: a file, a folder padt-eval did not create (whatever --overwrite says), or the
    score of a predictions file (unless --overwrite). The folder is not created here."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{run_dir} is a file, not a run folder; use another --out")
    if ownership.is_empty(run_dir, ignoring=_KEEP_ON_CLEAR):
        return
    kind = ownership.kind_of(run_dir)
    if kind == ownership.SCORED_FILE and not overwrite:
        raise UsageError(
            f"{run_dir} holds padt-eval's score of a predictions file, not a model run; use another --out, "
            "or --overwrite to replace that score with this model run"
        )
    if kind is None:
        why = _unsigned_refusal(run_dir, fp, overwrite)
        if why is not None:
            raise UsageError(why)


def _computed_nothing(run_dir: Path) -> bool:
    from padt_eval.runner.shards import count_lines

    folder = RunFolder(run_dir)
    return not folder.predictions.exists() and not any(count_lines(p)[0] for p in folder.shard_files())


def claim_run_dir(run_dir: Path, fp: dict[str, Any], overwrite: bool) -> bool:
    """Make `run_dir` (an existing folder, locked by this run) hold this run: check it
    again under the lock, sign it, empty it with `overwrite`, write run.json. Returns True
    when it continues an existing run of the same fingerprint.

    Refuses (UsageError) a folder that belongs to a different run, unless `overwrite`.
    A run that computed nothing yet (say, its model failed to load) is no different run:
    its settings are replaced, with a note.
    """
    check_run_dir(run_dir, fp, overwrite)
    kind = ownership.kind_of(run_dir)
    if kind is None:  # new, empty, or this very run by a padt-eval from before signatures
        ownership.sign(run_dir, ownership.MODEL_RUN)
        if read_run_file(run_dir, strict=False) == fp:
            return True
    elif kind == ownership.SCORED_FILE:  # --overwrite (checked): it becomes a model run
        _clear(run_dir)
        ownership.sign(run_dir, ownership.MODEL_RUN)
    else:
        existing = read_run_file(run_dir, strict=not overwrite)
        if existing == fp and not overwrite:
            return True
        if existing is not None and not overwrite:
            diffs = _differences(existing, fp)
            if not _computed_nothing(run_dir):
                raise UsageError(
                    f"{run_dir} holds a different run; resuming into it would mix two experiments.\n  "
                    + "\n  ".join(diffs[:12])
                    + "\nUse another --out, or --overwrite to replace it."
                )
            _say(f"{run_dir} held the settings of a run that computed nothing; replacing them ({'; '.join(diffs[:3])})")
            overwrite = True
        if overwrite:
            _clear(run_dir)
    with atomic_write(RunFolder(run_dir).run_json) as f:
        json.dump({"fingerprint": fp}, f, indent=1)
    return False


def _say(message: str) -> None:
    from padt_eval.core.library_log import user_stderr

    print(f"padt-eval: {message}", file=user_stderr(), flush=True)


def _clear(run_dir: Path) -> None:
    """Empty a signed run folder of what padt-eval wrote there; say what was left."""
    left = ownership.clear_own_entries(run_dir, keep=_KEEP_ON_CLEAR)
    if left:
        _say(
            f"--overwrite left {len(left)} entr{'y' if len(left) == 1 else 'ies'} padt-eval did not write in {run_dir}: {', '.join(left[:5])}"
        )
