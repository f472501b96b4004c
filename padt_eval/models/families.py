"""Each coordinate-text entry (models/coords/families.py) as the `ModelFamily` a run loads.

The entries are pure data; this module adds what running one needs: a loader that
resolves the entry's adapter through the chosen backend, the check of its load options
(run before a run claims its folder, so a typo never claims one), and its default dtype.
Each backend's loader takes its own options (models/hf/loading.py, models/vllm_backend.py);
the dynamic-resize pair only where the family's processor has one (the Qwen families) on
transformers. `models.base.families()` imports this module, which registers every entry,
those declared later included (`on_register`).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.models.base import (
    ModelAdapter,
    ModelFamily,
    check_dtype,
    check_flash_attention,
    refuse_unknown_options,
    register_family,
)
from padt_eval.models.coords.registry import BACKEND_LOADERS, BACKENDS, TextFamily, on_register, resolve, vllm_families

HF_OPTIONS = ("backend", "prompt_style", "max_new_tokens", "extra_generate_kwargs", "dtype", "attn", "revision")
PIXEL_OPTIONS = ("min_pixels", "max_pixels")
VLLM_OPTIONS = (
    ("backend", "prompt_style", "max_new_tokens", "dtype", "revision")
    + PIXEL_OPTIONS
    + ("gpu_memory_utilization", "max_model_len", "window")
)


def options_check(family: str, dynamic_resize: bool):
    """The check of one family's load options, run before a run claims its folder."""

    def check(options: dict) -> None:
        backend = options.get("backend", "hf")
        if backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "vllm":
            served = vllm_families()
            if family not in served:
                raise UsageError(f"--backend vllm serves {', '.join(served)}; model family {family!r} runs on transformers only")
            if importlib.util.find_spec("vllm") is None:
                raise UsageError("--backend vllm needs the vllm package: pip install 'padt-eval[vllm]'")
            if options.get("attn") is not None:
                raise UsageError("--backend vllm chooses its own attention kernels; drop --attn")
            accepted = VLLM_OPTIONS
        else:
            accepted = HF_OPTIONS + (PIXEL_OPTIONS if dynamic_resize else ())
            if not dynamic_resize and any(options.get(k) is not None for k in PIXEL_OPTIONS):
                raise UsageError(f"model family {family!r} has no dynamic resize; --min-pixels/--max-pixels do not apply")
        refuse_unknown_options(family, options, accepted)
        check_dtype(options.get("dtype"))
        check_flash_attention(options.get("attn"))

    return check


def default_dtype(device: str, options: dict) -> str:
    """What `hf.adapter.resolve_device_dtype` and the vLLM backend pick without --dtype."""
    if options.get("backend") == "vllm" or device == "cuda":
        return "bfloat16"
    return "float32"


def _loader(entry: TextFamily):
    def load(model: str, backend: str = "hf", **options: Any) -> ModelAdapter:
        if backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        return resolve(BACKEND_LOADERS[backend])(entry, model, **options)

    return load


def model_family(entry: TextFamily) -> ModelFamily:
    """The registered family of one coordinate-text entry."""
    runnable = entry.adapter is not None
    fmt = entry.format
    return ModelFamily(
        name=entry.name,
        description=entry.description,
        coordinate_frame=fmt.frame if fmt else "original-image pixels (the producer converts)",
        output_format=fmt.syntax if fmt else "predictions file with boxes and COCO RLE masks",
        loader=_loader(entry) if runnable else None,
        requirements=entry.requirements,
        detect=entry.detect,
        how_to_score=entry.how_to_score,
        takes_prompts=runnable,
        prompt_styles=entry.prompt_styles if runnable else (),
        default_prompt_style=entry.default_prompt_style if runnable else None,
        default_dtype=default_dtype if runnable else None,
        check_options=options_check(entry.name, entry.dynamic_resize) if runnable else None,
        precedence=entry.precedence,
    )


on_register(lambda entry: register_family(model_family(entry)))
