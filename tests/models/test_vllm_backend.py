"""The vLLM backend: what can be checked without a GPU, and an end-to-end run when one exists."""

from __future__ import annotations

import importlib.util
import math
import os
from types import SimpleNamespace

import pytest

from padt_eval.errors import UsageError
from padt_eval.models.base import get_family
from padt_eval.models.vllm_backend import LAUNCHER_ENV, generated_from_vllm, isolate_gpu


class _ByteTokenizer:
    """ids are character codes: enough to check cutting, alignment and offsets."""

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=False):
        return "".join(chr(i) for i in ids)


def _completion(ids, finish="stop"):
    logprobs = [{t: SimpleNamespace(logprob=-0.1 * (k + 1)), 999: SimpleNamespace(logprob=-9.0)} for k, t in enumerate(ids)]
    return SimpleNamespace(token_ids=tuple(ids), logprobs=logprobs, finish_reason=finish)


def test_completion_is_cut_at_eos_with_aligned_logprobs_and_offsets():
    ids = [ord(c) for c in "[1,2]"] + [7, ord("x")]  # 7 = eos, then a stray token
    gen = generated_from_vllm(_completion(ids), _ByteTokenizer(), eos_ids={7})
    assert gen.text == "[1,2]" and gen.stopped
    assert gen.token_ids == ids[:5] and gen.offsets == [(i, i + 1) for i in range(5)]
    assert gen.logprobs == pytest.approx([-0.1, -0.2, -0.3, -0.4, -0.5])
    assert gen.span_score((1, 4)) == pytest.approx(-0.3)  # tokens "1", ",", "2"


def test_length_cut_is_not_stopped():
    gen = generated_from_vllm(_completion([65, 66], finish="length"), _ByteTokenizer(), eos_ids={7})
    assert not gen.stopped and gen.text == "AB"
    missing = SimpleNamespace(token_ids=(65,), logprobs=None, finish_reason="length")
    assert math.isnan(generated_from_vllm(missing, _ByteTokenizer(), eos_ids=set()).logprobs[0])


def test_backend_choice_is_checked():
    load = get_family("florence2").loader
    with pytest.raises(UsageError, match="--backend must be one of hf, vllm"):
        load("some/model", backend="tgi")
    with pytest.raises(UsageError, match="runs on transformers only"):
        load("some/model", backend="vllm")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_missing_vllm_names_the_install_command():
    with pytest.raises(UsageError, match=r"pip install 'padt-eval\[vllm\]'"):
        get_family("qwen2_5_vl").loader("some/model", backend="vllm", device="cuda:0")


def test_gpu_isolation_and_launcher_variables(monkeypatch):
    with pytest.raises(UsageError, match="needs a GPU"):
        isolate_gpu("cpu")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    for name in LAUNCHER_ENV:
        monkeypatch.setenv(name, "1")
    isolate_gpu("cuda:2")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "6"
    assert not any(name in os.environ for name in LAUNCHER_ENV)


@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None or not __import__("torch").cuda.is_available(), reason="needs vllm and a GPU"
)
def test_vllm_equals_transformers_on_a_tiny_qwen(tmp_path, synth_root):
    from padt_eval import api
    from padt_eval.models.tiny import build_tiny
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
    from padt_eval.types import Task

    ckpt = build_tiny("qwen2_5_vl", tmp_path / "qwen", seed=0)
    kw = dict(data=DataOptions(data_root=synth_root), run=RunOptions(1, device="cuda", batch_size=8, loader_workers=0))
    opts = {"max_new_tokens": 24, "dtype": "float32"}
    hf = api.run_model(Task.REC, "refcoco_val", ModelOptions(str(ckpt), "qwen2_5_vl", opts), output=OutputOptions(tmp_path / "hf"), **kw)
    vl = api.run_model(
        Task.REC, "refcoco_val", ModelOptions(str(ckpt), "qwen2_5_vl", {**opts, "backend": "vllm"}), output=OutputOptions(tmp_path / "vllm"), **kw
    )
    texts = lambda r: [line.split('"text":')[1][:60] for line in (r.out_dir / "predictions.jsonl").read_text().splitlines()]  # noqa: E731
    same = sum(a == b for a, b in zip(texts(hf), texts(vl)))
    assert same >= 0.9 * len(texts(hf)), f"only {same} of {len(texts(hf))} completions agree between transformers and vLLM"
