"""Adapter details: per-sample image errors, token offsets and box confidence, family
detection, option checking, prompt styles and their keys, the processor's pixel limits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.errors import UsageError
from padt_eval.core.types import ImageRef, ModelRequest, ParseStatus, PromptKey, Task
from padt_eval.models.base import families, prompt_key_of
from padt_eval.models.hf.generation import Generated, decode_with_offsets
from padt_eval.models.loading import detect_family, load_model
from padt_eval.runner.prepare import PrepFailure, predict_prepared, predict_requests
from padt_eval.tasks.prompts import PROMPT_TABLE, prompt_template_hash
from padt_eval.tasks.registry import get_task

from ..coords.writers import WRITERS


def _req(sid, path, w, h, prompt="Locate the red circle."):
    return ModelRequest(sid, Task.REC, ImageRef(str(path), w, h), expression="the red circle", prompt=prompt)


def test_an_unreadable_image_fails_only_its_sample(tiny, demo_split, tmp_path):
    adapter = load_model(str(tiny("qwen2_5_vl")), device="cpu", max_new_tokens=4)
    good = sorted(demo_split.images.iterdir())[0]
    from PIL import Image

    w, h = Image.open(good).size
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really")
    reqs = [
        _req("a", good, w, h),
        _req("b", tmp_path / "missing.png", w, h),
        _req("c", corrupt, w, h),
        _req("d", good, w + 1, h),
        _req("e", good, w, h),
    ]
    preds = predict_requests(adapter, reqs)  # prepared as the runner's workers prepare them
    assert [p.sample_id for p in preds] == ["a", "b", "c", "d", "e"]
    assert [p.parse_status for p in preds] == [
        ParseStatus.OK,
        ParseStatus.ERROR,
        ParseStatus.ERROR,
        ParseStatus.ERROR,
        ParseStatus.OK,
    ]
    assert (
        "image not found" in preds[1].parse_reason
        and "cannot be read" in preds[2].parse_reason
        and "annotation says" in preds[3].parse_reason
    )
    # the runner's workers hand over images, or what went wrong; the adapter sees only images
    seen = []
    adapter.predict_stream = lambda batches: ((r, seen.append(p) or adapter.predict(r, p)) for r, p in batches)
    [(_, preds)] = predict_prepared(adapter, [(reqs[:2], [Image.open(good).convert("RGB"), PrepFailure("disk on fire")])])
    assert len(seen) == 1 and len(seen[0]) == 1 and not isinstance(seen[0][0], PrepFailure)
    assert (
        preds[0].parse_status == ParseStatus.OK
        and preds[1].parse_status == ParseStatus.ERROR
        and "disk on fire" in preds[1].parse_reason
    )


@pytest.mark.parametrize("family", ["qwen2_5_vl", "internvl", "kosmos2", "florence2"])
def test_token_offsets_tile_the_decoded_text(family, tiny):
    from transformers import AutoProcessor

    tok = AutoProcessor.from_pretrained(str(tiny(family))).tokenizer
    fmt = {"qwen2_5_vl": "qwen2_vl"}.get(family, family)  # a format with special tokens
    from padt_eval.models.coords import Frame

    text, _ = WRITERS[fmt]((10.0, 20.0, 30.0, 40.0), Frame(64, 64), "the red circle é")
    ids = tok.encode(text, add_special_tokens=False)
    decoded, offsets = decode_with_offsets(tok, ids)
    assert offsets[0][0] == 0 and offsets[-1][1] == len(decoded)
    assert all(a[1] == b[0] for a, b in zip(offsets, offsets[1:]))
    assert all(s <= e for s, e in offsets)


def test_box_confidence_is_the_mean_logprob_of_its_tokens():
    g = Generated([1, 2, 3, 4], [-1.0, -2.0, -3.0, -4.0], "ab[1,2]", [(0, 1), (1, 2), (2, 5), (5, 7)], True)
    assert g.span_score((2, 7)) == pytest.approx(-3.5)
    assert g.span_score((1, 3)) == pytest.approx(-2.5)
    assert g.span_score((7, 9)) is None
    assert g.span_score((12, 17), shift=10) == pytest.approx(-3.5)  # a text that starts with a 10-char prompt echo


def _config_dir(tmp_path, name, config):
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))
    return str(d)


def test_family_detection_from_config_and_name(tmp_path):
    cases = {
        "qwen2_5_vl": {"model_type": "qwen2_5_vl"},
        "qwen2_vl": {"model_type": "qwen2_vl"},
        "qwen3_vl": {"model_type": "qwen3_vl_moe"},
        "internvl": {"model_type": "internvl"},
        "kosmos2": {"model_type": "kosmos-2"},
        "florence2": {"model_type": "florence2"},
    }
    for family, config in cases.items():
        assert detect_family(_config_dir(tmp_path, family, config)) == family
    assert detect_family(_config_dir(tmp_path, "Qwen2.5VL-3B-VLM-R1-REC-500steps", {"model_type": "qwen2_5_vl"})) == "vlm_r1"
    assert detect_family("omlab/VLM-R1-Qwen2.5VL-3B-OVD-0321") == "vlm_r1"  # not in the cache: by name
    assert detect_family("THUDM/cogvlm-grounding-generalist-hf") == "cogvlm"
    with pytest.raises(UsageError, match="cannot run here.*--format cogvlm"):
        load_model("THUDM/cogvlm-grounding-generalist-hf")


def test_remote_code_checkpoints_are_refused(tmp_path):
    path = _config_dir(
        tmp_path,
        "InternVL3-8B",
        {"model_type": "internvl_chat", "auto_map": {"AutoModel": "modeling_internvl_chat.InternVLChatModel"}},
    )
    with pytest.raises(UsageError, match="remote-code checkpoint.*-hf"):
        load_model(path)


def test_options_are_checked(tiny):
    path = str(tiny("kosmos2"))
    with pytest.raises(UsageError, match="does not take option.*temperature"):
        load_model(path, device="cpu", temperature=0.7)
    with pytest.raises(UsageError, match="no dynamic resize"):
        load_model(path, device="cpu", max_pixels=1000)
    with pytest.raises(UsageError, match="no 'paper' prompts"):
        load_model(path, device="cpu", prompt_style="paper")
    with pytest.raises(UsageError, match="--prompt-style must be"):
        load_model(path, device="cpu", prompt_style="fancy")


def test_prompt_keys_follow_the_style():
    assert prompt_key_of("qwen2_5_vl", {}) == PromptKey("qwen2_5_vl", "paper")
    assert prompt_key_of("qwen2_5_vl", {"prompt_style": "native"}) == PromptKey("qwen2_5_vl", "native")
    assert str(prompt_key_of("internvl", {})) == "internvl:paper"
    assert prompt_key_of("kosmos2", {}) == PromptKey("kosmos2", "native")
    assert prompt_key_of("padt", {}) == PromptKey("padt")
    assert prompt_key_of("shikra", {}) is None  # parse-only: no prompts
    assert prompt_key_of("colour-finder", {}) is None  # answers from the image alone
    paper, native = PromptKey("qwen2_5_vl", "paper"), PromptKey("qwen2_5_vl", "native")
    assert prompt_template_hash(paper, Task.REC) == prompt_template_hash(PromptKey("internvl", "paper"), Task.REC)
    assert prompt_template_hash(paper, Task.REC) != prompt_template_hash(native, Task.REC)
    with pytest.raises(UsageError, match="no 'paper' prompts; use --prompt-style native"):
        prompt_key_of("kosmos2", {"prompt_style": "paper"})
    with pytest.raises(UsageError, match="--prompt-style does not apply"):
        prompt_key_of("padt", {"prompt_style": "native"})


def test_every_family_style_has_a_table_and_every_table_a_family():
    offered = set()
    for fam in families().values():
        for style in fam.prompt_styles or ((None,) if fam.takes_prompts else ()):
            key = fam.prompt_key({"prompt_style": style})
            offered.add(key)
            for task in Task:
                prompt_template_hash(key, task)  # every key a family offers has all four prompts
    assert offered == set(PROMPT_TABLE)  # and no table sits unused under a key nobody offers


def test_an_unknown_prompt_key_is_an_error_naming_the_known_ones():
    with pytest.raises(UsageError, match=r"no prompt templates for prompt key 'qwen2_5_vl'; known: .*'?qwen2_5_vl:paper"):
        get_task(Task.REC).prompt(PromptKey("qwen2_5_vl"), ModelRequest("s", Task.REC, ImageRef("x.png", 4, 4), expression="a"))
    assert get_task(Task.REC).prompt(None, ModelRequest("s", Task.REC, ImageRef("x.png", 4, 4), expression="a")) is None
    assert PromptKey.parse("qwen2_5_vl:paper") == PromptKey("qwen2_5_vl", "paper") and PromptKey.parse("padt") == PromptKey(
        "padt"
    )


def test_native_style_and_pixel_limits_reach_the_model(tiny, demo_split, tmp_path):
    out = tmp_path / "run"
    args = ["rec", "-s", str(demo_split.rec_split), "--image-root", str(demo_split.images), "--model", str(tiny("qwen2_5_vl"))]
    args += ["--max-new-tokens", "4", "-o", str(out), "--device", "cpu", "--loader-workers", "0", "--prompt-style", "native"]
    args += ["--min-pixels", "3136", "--max-pixels", "6272"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["prompt_key"] == "qwen2_5_vl:native"
    assert manifest["prompt_template_hash"] == prompt_template_hash(PromptKey("qwen2_5_vl", "native"), Task.REC)
    assert manifest["model"]["processor"]["max_pixels"] == 6272
    sizes = [json.loads(line)["meta"]["input_size"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert all(w * h <= 6272 for w, h in sizes)


def test_models_command_lists_families_formats_and_frames():
    r = CliRunner().invoke(app, ["models", "-v"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for name in (
        "qwen2_5_vl",
        "vlm_r1",
        "qwen3_vl",
        "qwen2_vl",
        "internvl",
        "shikra",
        "minigpt_v2",
        "kosmos2",
        "florence2",
        "ferret",
        "cogvlm",
        "lisa",
        "groma",
    ):
        assert name in r.output
    assert "smart_resize" in r.output and "expand2square" in r.output and "own repo" in r.output
