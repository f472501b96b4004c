"""The load-option checks a model run makes before it claims its folder (issue 25, U13):
they refuse what the loaders would refuse, naming the key and the keys a family takes,
and the lists they check against are the loaders' own keywords."""

from __future__ import annotations

import importlib.util
import inspect

import pytest

from padt_eval.core.errors import UsageError
from padt_eval.models.base import get_family
from padt_eval.models.families import HF_OPTIONS, PIXEL_OPTIONS, VLLM_OPTIONS


def test_hf_option_list_is_the_loaders_keywords():
    from padt_eval.models.hf.loading import load_adapter

    params = set(inspect.signature(load_adapter).parameters)
    named = params - {"adapter_cls", "model_class", "family", "model_id", "device", "takes_pixels", "options"}
    # load_adapter passes the rest to check_options(..., ("prompt_style", "max_new_tokens", "extra_generate_kwargs"))
    assert set(HF_OPTIONS) | set(PIXEL_OPTIONS) == named | {"prompt_style", "max_new_tokens", "extra_generate_kwargs", "backend"}


def test_vllm_option_list_is_the_loaders_keywords():
    from padt_eval.models.vllm_backend import load

    named = set(inspect.signature(load).parameters) - {"family", "model_id", "device", "options", "attn"}
    assert set(VLLM_OPTIONS) == named | {"prompt_style", "max_new_tokens", "backend"}


@pytest.mark.parametrize(
    "family, options, words",
    [
        ("qwen2_5_vl", {"max_new_token": 8}, ["max_new_token", "max_new_tokens", "extra_generate_kwargs"]),
        ("kosmos2", {"min_pixels": 3136}, ["no dynamic resize"]),
        ("qwen2_5_vl", {"dtype": "float64"}, ["--dtype", "float64"]),
        ("qwen2_5_vl", {"backend": "onnx"}, ["--backend", "onnx"]),
        ("florence2", {"backend": "vllm"}, ["transformers only"]),
        ("padt", {"compat": True, "temperature": 0.7}, ["temperature", "repetition_penalty"]),
        ("padt", {"attn": "xformers"}, ["attn must be one of"]),
        ("colour-finder", {"dtype": "float32"}, ["dtype", "delay_s"]),
    ],
)
def test_refused_before_loading(family, options, words):
    with pytest.raises(UsageError) as e:
        get_family(family).check_load_options(options)
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize(
    "family, options",
    [
        ("qwen2_5_vl", {"max_new_tokens": 8, "prompt_style": "native", "min_pixels": 3136, "dtype": "bfloat16"}),
        ("kosmos2", {"attn": "eager", "revision": "main"}),
        ("padt", {"compat": True, "attn": "sdpa", "repetition_penalty": 1.0, "compile": True}),
        ("colour-finder", {"delay_s": 0.1}),
    ],
)
def test_accepted(family, options):
    get_family(family).check_load_options(options)


def test_vllm_without_vllm_is_refused_before_loading():
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(UsageError, match="needs the vllm package"):
        get_family("qwen2_5_vl").check_load_options({"backend": "vllm"})
