"""Registers the "padt" model family. Imports neither torch nor transformers: the loader
imports them when a model is actually loaded."""

from __future__ import annotations

from padt_eval.core.errors import UsageError
from padt_eval.models.base import (
    ModelAdapter,
    ModelFamily,
    check_dtype,
    check_flash_attention,
    refuse_unknown_options,
    register_family,
)
from padt_eval.models.coords.registry import resolve

RELEASED = tuple(f"PaDT-MLLM/PaDT_{task}_{size}" for task in ("REC", "OVD", "RIC", "Pro") for size in ("3B", "7B"))


def _detect(config: dict, model: str) -> bool:
    """A PaDT checkpoint: its config carries the decoder settings or the PaDT architecture;
    without a config (a hub id not downloaded yet), a released PaDT id or a repository
    name that starts with "PaDT"."""
    if config:
        return "vl_decoder" in config or "PaDTForConditionalGeneration" in (config.get("architectures") or [])
    return model in RELEASED or model.replace("\\", "/").rsplit("/", 1)[-1].lower().startswith("padt")


ATTN_CHOICES = ("sdpa", "eager", "flash_attention_2")
#: The keyword options of `adapter.load_padt` besides the model and device (a test keeps
#: the two in step); checked before a run claims its folder.
LOAD_OPTIONS = (
    "dtype",
    "attn",
    "compat",
    "max_new_tokens",
    "batch_size",
    "revision",
    "min_pixels",
    "max_pixels",
    "repetition_penalty",
    "compile",
    "continuous",
)


def check_attn(attn: str) -> None:
    if attn not in ATTN_CHOICES:
        raise UsageError(f"attn must be one of {', '.join(ATTN_CHOICES)}; got {attn!r}")
    check_flash_attention(attn)


def _check_options(options: dict) -> None:
    refuse_unknown_options("padt", options, LOAD_OPTIONS)
    check_dtype(options.get("dtype"))
    if options.get("attn") is not None:
        check_attn(options["attn"])


def _load(model: str, **kwargs) -> ModelAdapter:
    # A lazy target, as the coordinate-text entries name their adapters: the adapter's
    # modules import this one (its option checks), never the other way round.
    return resolve("padt_eval.models.padt.adapter:load_padt")(model, **kwargs)


PADT_FAMILY = register_family(
    ModelFamily(
        name="padt",
        description="PaDT (Patch-as-Decodable-Token, arXiv 2510.01954): our implementation on transformers 5.x; "
        "released checkpoints: " + ", ".join(RELEASED),
        coordinate_frame="none in text: objects are runs of Visual Reference Tokens decoded to boxes/masks, "
        "reported in original-image pixels xyxy",
        output_format='quoted labels followed by <|VRT_i|> runs, e.g. The "cat" refers to <|VRT_4|>... in this image.',
        loader=_load,
        requirements=("torch", "transformers", "safetensors", "tokenizers", "jinja2"),
        detect=_detect,
        takes_prompts=True,  # one table, tasks.prompts.PADT_PROMPTS (paper A.2)
        default_dtype=lambda device, options: "float32",  # load_padt's default on every device
        check_options=_check_options,
        precedence=0,  # a PaDT config is a Qwen2.5-VL config plus `vl_decoder`: asked before qwen2_5_vl
    )
)
