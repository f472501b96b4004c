"""Checkpoint loading: refusal of misfits, tied embeddings, hub ids offline, settings errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from padt_eval.core.errors import CheckpointError, UsageError
from padt_eval.models.padt.checkpoint import build_model, resolve


def _copy_with_weights(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst)
    state = load_file(str(dst / "model.safetensors"))
    edit(state)
    save_file(state, str(dst / "model.safetensors"))
    return dst


def test_refuses_missing_unexpected_and_misshapen_keys(tiny_checkpoint, tmp_path):
    def edit(state):
        del state["model.norm.weight"]
        del state["vl_decoder.high_res_norm.weight"]
        state["model.bogus_layer.weight"] = torch.zeros(3)
        state["vl_decoder.score_prediction.weight"] = torch.zeros(2, 32)

    bad = _copy_with_weights(tiny_checkpoint, tmp_path / "bad", edit)
    with pytest.raises(CheckpointError) as err:
        build_model(resolve(str(bad)))
    msg = str(err.value)
    assert "missing keys (2)" in msg and "language_model.norm.weight" in msg and "vl_decoder.high_res_norm.weight" in msg
    assert "unexpected keys (1)" in msg and "model.bogus_layer.weight" in msg
    assert "shape mismatches (1)" in msg and "vl_decoder.score_prediction.weight: checkpoint [2, 32] vs model [1, 32]" in msg


@pytest.mark.parametrize(
    "edit,expected",
    [
        (lambda s: s.pop("lm_head.weight"), "missing keys (1): lm_head.weight"),
        (lambda s: s.update({"extra.weight": torch.zeros(1)}), "unexpected keys (1): extra.weight"),
        (lambda s: s.update({"vis_proj.0.weight": torch.zeros(32, 64)}), "vis_proj.0.weight: checkpoint [32, 64]"),
    ],
    ids=["missing", "unexpected", "shape"],
)
def test_each_kind_of_misfit_is_named(tiny_checkpoint, tmp_path, edit, expected):
    bad = _copy_with_weights(tiny_checkpoint, tmp_path / "bad", edit)
    with pytest.raises(CheckpointError, match="does not fit") as err:
        build_model(resolve(str(bad)))
    assert expected in str(err.value)


def test_config_without_vl_decoder_is_refused(tiny_checkpoint, tmp_path):
    bad = tmp_path / "noconf"
    shutil.copytree(tiny_checkpoint, bad)
    cfg = json.loads((bad / "config.json").read_text())
    del cfg["vl_decoder"]
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="not a PaDT checkpoint"):
        build_model(resolve(str(bad)))


def test_tied_checkpoint_stores_no_lm_head_and_accepts_one(tiny_tied_checkpoint, tmp_path):
    assert "lm_head.weight" not in load_file(str(tiny_tied_checkpoint / "model.safetensors"))
    model, notes = build_model(resolve(str(tiny_tied_checkpoint)))
    assert model.lm_head is None and notes == []
    assert model.output_text_rows() is model.language_model.embed_tokens.weight
    # a tied checkpoint that still carries lm_head.weight loads; the tie wins
    extra = _copy_with_weights(
        tiny_tied_checkpoint,
        tmp_path / "tied_extra",
        lambda s: s.update({"lm_head.weight": torch.zeros_like(s["model.embed_tokens.weight"])}),
    )
    model2, notes2 = build_model(resolve(str(extra)))
    assert model2.lm_head is None and any("ignored" in n for n in notes2)


def test_new_layout_keys_load_too(tiny_checkpoint, tmp_path):
    def rename(state):
        for k in list(state):
            if k.startswith("visual."):
                state["model." + k] = state.pop(k)
            elif k.startswith("model."):
                state["model.language_model." + k[len("model.") :]] = state.pop(k)

    moved = _copy_with_weights(tiny_checkpoint, tmp_path / "new_layout", rename)
    a, _ = build_model(resolve(str(tiny_checkpoint)))
    b, _ = build_model(resolve(str(moved)))
    for (ka, va), (kb, vb) in zip(sorted(a.state_dict().items()), sorted(b.state_dict().items())):
        assert ka == kb and torch.equal(va, vb)


def test_sharded_checkpoint(tiny_checkpoint, tmp_path):
    sharded = tmp_path / "sharded"
    shutil.copytree(tiny_checkpoint, sharded)
    state = load_file(str(sharded / "model.safetensors"))
    (sharded / "model.safetensors").unlink()
    keys = sorted(state)
    parts = {
        "model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    for name, ks in parts.items():
        save_file({k: state[k] for k in ks}, str(sharded / name))
    index = {"metadata": {}, "weight_map": {k: n for n, ks in parts.items() for k in ks}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    resolved = resolve(str(sharded))
    assert [p.name for p in resolved.weight_files] == sorted(parts)
    model, _ = build_model(resolved)
    assert torch.equal(model.language_model.norm.weight, state["model.norm.weight"])


def test_hub_id_offline_and_not_cached_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        resolve("PaDT-MLLM/PaDT_REC_3B")


def test_not_a_folder_nor_an_id():
    with pytest.raises(CheckpointError, match="neither a checkpoint folder nor a Hugging Face id"):
        resolve("/definitely/not/here")


def test_bad_settings_are_usage_errors(tiny_checkpoint):
    from padt_eval.models.padt.attention import flash_available

    with pytest.raises(UsageError, match="dtype"):
        build_model(resolve(str(tiny_checkpoint)), dtype="int8")
    with pytest.raises(UsageError, match="attn must be one of"):
        build_model(resolve(str(tiny_checkpoint)), attn="magic")
    if not flash_available():
        with pytest.raises(UsageError, match="flash-attn package"):
            build_model(resolve(str(tiny_checkpoint)), attn="flash_attention_2")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            build_model(resolve(str(tiny_checkpoint)), device="cuda")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_loads_with_fp32_rotary_tables(tiny_checkpoint, dtype):
    model, _ = build_model(resolve(str(tiny_checkpoint)), dtype=dtype)
    assert model.language_model.embed_tokens.weight.dtype == getattr(torch, dtype)
    assert model.vl_decoder.score_prediction.weight.dtype == getattr(torch, dtype)
    assert model.language_model.rotary_emb.inv_freq.dtype == torch.float32
    assert model.visual.rotary_pos_emb.inv_freq.dtype == torch.float32
