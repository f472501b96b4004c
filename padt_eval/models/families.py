"""Registers the coordinate-text baseline families (no torch at import).

Runnable families (transformers ships them natively) get a lazy `loader` and a `detect`
rule reading config.json's `model_type`; the others are scored from their own outputs:
raw text with `--predictions F --format NAME`, or, for the mask and region-token models
(LISA, PixelLM, GLaMM, Groma, REF-VLM), predictions files that already carry boxes and
COCO RLE masks in original-image pixels.
"""

from __future__ import annotations

import importlib
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
from padt_eval.models.coords import FORMATS

HF_REQUIREMENTS = ("torch", "transformers", "tokenizers", "PIL")
TORCHVISION = ("torchvision",)  # the Qwen and InternVL image/video processors need it


#: Generation backends (`--backend`): transformers, or vLLM (models/vllm_backend.py, only
#: imported when asked for).
BACKENDS = ("hf", "vllm")


#: The load options each backend's loader takes (models/hf/loading.py, models/vllm_backend.py);
#: the dynamic-resize pair only for the Qwen-style processors on transformers.
HF_OPTIONS = ("backend", "prompt_style", "max_new_tokens", "extra_generate_kwargs", "dtype", "attn", "revision")
PIXEL_OPTIONS = ("min_pixels", "max_pixels")
VLLM_OPTIONS = (
    ("backend", "prompt_style", "max_new_tokens", "dtype", "revision")
    + PIXEL_OPTIONS
    + ("gpu_memory_utilization", "max_model_len", "window")
)


def _options_check(module: str, family: str):
    """The check of a family's load options that runs before a run claims its folder."""

    def check(options: dict) -> None:
        backend = options.get("backend", "hf")
        if backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "vllm":
            from padt_eval.models.vllm_backend import VLLM_FAMILIES

            if family not in VLLM_FAMILIES:
                raise UsageError(
                    f"--backend vllm serves {', '.join(VLLM_FAMILIES)}; model family {family!r} runs on transformers only"
                )
            if importlib.util.find_spec("vllm") is None:
                raise UsageError("--backend vllm needs the vllm package: pip install 'padt-eval[vllm]'")
            if options.get("attn") is not None:
                raise UsageError("--backend vllm chooses its own attention kernels; drop --attn")
            accepted = VLLM_OPTIONS
        else:
            accepted = HF_OPTIONS + (PIXEL_OPTIONS if module == "qwen" else ())
            if module != "qwen" and any(options.get(k) is not None for k in PIXEL_OPTIONS):
                raise UsageError(f"model family {family!r} has no dynamic resize; --min-pixels/--max-pixels do not apply")
        refuse_unknown_options(family, options, accepted)
        check_dtype(options.get("dtype"))
        check_flash_attention(options.get("attn"))

    return check


def _loader(module: str, family: str):
    def load(model: str, backend: str = "hf", **options: Any) -> ModelAdapter:
        if backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "vllm":
            return importlib.import_module("padt_eval.models.vllm_backend").load(family, model, **options)
        return importlib.import_module(f"padt_eval.models.hf.{module}").load(family, model, **options)

    return load


def _default_dtype(device: str, options: dict) -> str:
    """What `hf.adapter.resolve_device_dtype` and the vLLM backend pick without --dtype."""
    if options.get("backend") == "vllm" or device == "cuda":
        return "bfloat16"
    return "float32"


def _model_type(config: dict) -> str:
    return str(config.get("model_type") or "")


def _name(name: str) -> str:
    return name.lower().replace("_", "-")


def _is_r1(name: str) -> bool:
    return "vlm-r1" in _name(name)


def _detect(model_types: tuple[str, ...], names: tuple[str, ...] = ()):
    """config.json `model_type` when there is a config; the model id otherwise."""

    def detect(config: dict, name: str) -> bool:
        if config:
            return _model_type(config) in model_types
        return any(n in _name(name) for n in names)

    return detect


#: Families that answer in the paper's JSON syntax, so the PaDT paper's baseline prompts
#: (A.3) fit them; their tables are in tasks/baseline_prompts.py.
PAPER_STYLE_FAMILIES = ("qwen2_5_vl", "qwen3_vl", "internvl")
#: The style used when --prompt-style is not given: PaDT's tables were measured with the
#: paper prompts for Qwen2.5-VL and InternVL3; every other family gets its native prompt.
PAPER_BY_DEFAULT = ("qwen2_5_vl", "internvl")


def _family(
    name: str, description: str, module: str | None, detect=None, requirements=(), how_to_score=None, precedence: int = 100
) -> ModelFamily:
    runnable = module is not None
    fmt = FORMATS.get(name)
    return register_family(
        ModelFamily(
            name=name,
            description=description,
            coordinate_frame=fmt.frame if fmt else "original-image pixels (the producer converts)",
            output_format=fmt.syntax if fmt else "predictions file with boxes and COCO RLE masks",
            loader=_loader(module, name) if module else None,
            requirements=tuple(requirements),
            detect=detect,
            how_to_score=how_to_score,
            takes_prompts=runnable,
            prompt_styles=(("paper", "native") if name in PAPER_STYLE_FAMILIES else ("native",)) if runnable else (),
            default_prompt_style=("paper" if name in PAPER_BY_DEFAULT else "native") if runnable else None,
            default_dtype=_default_dtype if module else None,
            check_options=_options_check(module, name) if module else None,
            precedence=precedence,
        )
    )


_family(
    "qwen2_5_vl",
    "Qwen2.5-VL-{3B,7B,72B}-Instruct (and Qwen2.5-VL-SFT); prompts: paper (default) | native",
    "qwen",
    _detect(("qwen2_5_vl",), ("qwen2.5-vl", "qwen2-5-vl", "qwen2.5vl")),
    HF_REQUIREMENTS + TORCHVISION,
)
_family(
    "vlm_r1",
    "VLM-R1 (omlab/Qwen2.5VL-3B-VLM-R1-REC-500steps, omlab/VLM-R1-Qwen2.5VL-3B-OVD-0321): Qwen2.5-VL + GRPO, "
    "answers in <answer> tags; detected by 'VLM-R1' in the model id, else pass --family vlm_r1",
    "qwen",
    lambda config, name: _is_r1(name) and (not config or _model_type(config) == "qwen2_5_vl"),
    HF_REQUIREMENTS + TORCHVISION,
    precedence=10,  # its config is a plain Qwen2.5-VL one: the name decides, before qwen2_5_vl's model_type rule
)
_family("qwen2_vl", "Qwen2-VL-{2B,7B,72B}-Instruct", "qwen", _detect(("qwen2_vl",), ("qwen2-vl",)), HF_REQUIREMENTS + TORCHVISION)
_family(
    "qwen3_vl",
    "Qwen3-VL (dense and MoE)",
    "qwen",
    _detect(("qwen3_vl", "qwen3_vl_moe"), ("qwen3-vl",)),
    HF_REQUIREMENTS + TORCHVISION,
)
_family(
    "internvl",
    "InternVL2.5 / InternVL3 '-hf' checkpoints (native transformers); prompts: paper (default) | native",
    "internvl",
    _detect(("internvl", "internvl_chat"), ("internvl",)),
    HF_REQUIREMENTS + TORCHVISION,
)
_family("kosmos2", "microsoft/kosmos-2-patch14-224", "kosmos2", _detect(("kosmos-2",), ("kosmos-2",)), HF_REQUIREMENTS)
_family(
    "florence2",
    "Florence-2 native checkpoints (florence-community/Florence-2-{base,large}[-ft])",
    "florence2",
    _detect(("florence2",), ("florence-2",)),
    HF_REQUIREMENTS,
)
_family("shikra", "Shikra-7B (own repository: shikras/shikra)", None, _detect((), ("shikra",)))
_family("minigpt_v2", "MiniGPT-v2 (own repository: Vision-CAIR/MiniGPT-4)", None, _detect((), ("minigpt",)))
_family(
    "ferret",
    "Ferret 7B/13B (own repository: apple/ml-ferret); Ferret-v2 assumed the same text form",
    None,
    _detect((), ("ferret",)),
)
_family(
    "cogvlm",
    "CogVLM-grounding (THUDM/cogvlm-grounding-generalist-hf, remote code only)",
    None,
    lambda config, name: ("cogvlm" in _model_type(config)) if config else "cogvlm" in _name(name),
)
_MASK_NOTE = (
    "needs its own repository; write a predictions file with boxes and COCO RLE masks in original-image "
    "pixels (objects[].bbox, objects[].mask) and score it with --predictions F (no --format)"
)
for _n, _d in (
    ("lisa", "LISA-7B/13B: [SEG] token -> SAM mask (own repository)"),
    ("pixellm", "PixelLM (own repository)"),
    ("glamm", "GLaMM (own repository)"),
    ("groma", "Groma: <roi><rN></roi> region tokens index its own proposals; no coordinate text (run its eval, export boxes)"),
    ("ref_vlm", "REF-VLM (own repository)"),
):
    _family(_n, _d, None, None, (), _MASK_NOTE)
