"""`--model PATH_OR_HF_ID` → a loaded adapter of the right family.

The family is taken from `--family` when given, else detected from the checkpoint's
`config.json` (a local folder, or the Hugging Face cache for a hub id, read offline) by the
registered families' `detect` rules, asked in `precedence` order: PaDT (architecture
PaDTForConditionalGeneration or a `vl_decoder` entry), then VLM-R1 (by name), then the
families told apart by `model_type`. The first level with a match decides; two matches on
one level are a registry bug and are reported as such. A hub id whose config is not cached
is detected by its name. Nothing is guessed from model outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.models.base import ModelAdapter, families, get_family


def read_config(model: str) -> dict[str, Any] | None:
    """config.json of a local folder or of a hub id already in the local HF cache."""
    local = Path(model)
    if local.is_dir():
        cfg = local / "config.json"
        if not cfg.is_file():
            raise UsageError(f"model folder {local} has no config.json")
        return json.loads(cfg.read_text(encoding="utf-8"))
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(model, "config.json")
    except Exception:  # an id that is not a valid repo name, or no huggingface_hub
        path = None
    if isinstance(path, str):
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return None


def detect_family(model: str) -> str:
    config = read_config(model)
    return family_of(config, model)


def family_of(config: dict[str, Any] | None, model: str) -> str:
    """The family of a checkpoint with this config.json (None: not available) and name."""
    levels: dict[int, list[str]] = {}
    for fam in families().values():
        if fam.detect is not None and fam.detect(config or {}, model):
            levels.setdefault(fam.precedence, []).append(fam.name)
    if levels:
        matches = sorted(levels[min(levels)])
        if len(matches) == 1:
            return matches[0]
        raise UsageError(
            f"{model!r} matches several model families at the same precedence ({', '.join(matches)}): a bug in "
            "their detect rules; pass --family meanwhile"
        )
    runnable = sorted(f.name for f in families().values() if f.loader is not None)
    where = "its config.json" if config is not None else "its name (no config.json found locally or in the HF cache)"
    raise UsageError(
        f"cannot tell which model family {model!r} belongs to from {where}; pass --family (one of: {', '.join(runnable) or 'none installed'})"
    )


def load_model(model: str, family: str | None = None, **options: Any) -> ModelAdapter:
    fam = get_family(family or detect_family(model))
    ok, why = fam.runs_here()
    if not ok or fam.loader is None:
        raise UsageError(f"model family {fam.name!r} cannot run here: {why}")
    return fam.loader(model, **options)
