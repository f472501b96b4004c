"""The CLI's `--format`, `--family` and `--backend` help, generated from the family entries.

Pure, like the rest of coords/: the CLI builds its options at import, and a scoring
command must not load the model side of models/ to print or parse them.
"""

from __future__ import annotations

from padt_eval.models.coords.registry import BACKENDS, FORMATS, runnable_families, vllm_families


def format_help() -> str:
    return (
        "Read each predictions line's raw 'text' with this family's parser (its 'objects' are ignored): "
        f"{', '.join(FORMATS)} (see `padt-eval models`)."
    )


def family_help() -> str:
    return (
        "Model family when it cannot be detected from config.json; the coordinate-text families run here: "
        f"{', '.join(runnable_families())} (every family: `padt-eval models`)."
    )


def backend_help() -> str:
    hf, vllm = BACKENDS
    return (
        f"Baselines: {hf!r} (transformers, default) or {vllm!r} ({', '.join(vllm_families())}; needs padt-eval[vllm] and a GPU)."
    )
