"""PaDT's device path on fake CUDA at the released shapes (no GPU, no weights).

Every stage (vision, prefill, decode steps, decoder, postprocess) runs strict: a host sync
or a device mismatch raises `FakeRunError` naming the op and the frame. The released
3B and 7B configs run at full depth once each; the tied/untied and image-size variants
run with 2 text and 2 vision blocks at the released widths (the blocks repeat, and the
point there is the output matrix or the grid, not the depth)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from padt_eval.models.fake_device import FakeRunError, fake_cuda
from padt_eval.models.padt.fake_run import build_fake_padt, load_config_dict, resized_grid, run_fake_padt, with_layers
from padt_eval.models.padt.host_meta import vision_layout
from padt_eval.models.padt.vision import vision_forward

CONFIGS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"  # released config.json files

STAGES = ["vision", "prefill", "decode step 1", "decode step 2", "decode step 3", "decoder", "postprocess"]


def _check_run(run, raw: dict, batch: int) -> None:
    """No sync and no mismatch anywhere; the stages really ran; the model and the KV cache
    have the shapes config.json gives (computed here from its raw values)."""
    for stage in STAGES:
        rep = run.mode.stages[stage]
        assert rep.syncs == [] and rep.mismatches == [], (stage, [str(e) for e in rep.syncs + rep.mismatches])
        # blocking uploads wait for queued work: none from the vision tower to the last step;
        # the decoder uploads its segment tables (built from Python ints) and nothing else
        uploads = [str(e) for e in rep.uploads]
        if stage == "decoder":
            assert uploads and all(("attention.py" in u or "decoder.py" in u) for u in uploads), uploads
        else:
            assert uploads == [], (stage, uploads)
    assert run.stage_ops["decode step 2"] > 100  # the text model ran under the mode
    params = list(run.model.parameters())
    assert {p.device.type for p in params} == {"cuda"} and {p.dtype for p in params} == {torch.bfloat16}
    heads, kv_heads = raw["num_attention_heads"], raw["num_key_value_heads"]
    head_dim = raw["hidden_size"] // heads
    cache = run.decoding.step.state.cache
    assert len(cache.keys) == raw["num_hidden_layers"]
    assert tuple(cache.keys[0].shape) == (batch, kv_heads, run.cache_length, head_dim)
    tied = raw["tie_word_embeddings"]
    assert (run.model.lm_head is None) == tied
    assert run.model.output_text_rows().shape == (raw["vocab_size"], raw["hidden_size"])


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["padt_rec_3b.json", "padt_rec_7b.json"])
def test_released_padt_runs_on_fake_cuda_with_no_host_sync(fixture):
    # full depth: 36 (3B) / 28 (7B) text blocks, 32 vision blocks; PaDT-3B is tied, 7B untied
    raw = load_config_dict(CONFIGS / fixture)
    run = run_fake_padt(raw, batch=2, image_size=(640, 480), objects=1)
    _check_run(run, raw, 2)
    assert len(run.model.visual.blocks) == raw["vision_config"]["depth"]


@pytest.mark.parametrize(("fixture", "tied"), [("padt_rec_3b.json", False), ("padt_rec_7b.json", True)])
def test_tied_and_untied_output_matrix_on_fake_cuda(fixture, tied):
    # the released 3B is tied and the 7B untied (run above); here each with the flag flipped
    raw = {**load_config_dict(CONFIGS / fixture), "tie_word_embeddings": tied}
    run = run_fake_padt(raw, batch=3, image_size=(500, 375), text_layers=2, vision_layers=2)
    _check_run(run, with_layers(raw, 2, 2), 3)


def test_a_large_image_and_the_pixel_budget(tmp_path):
    # 1333 x 800 (a COCO-sized image): a grid of several windows per side, ragged windows
    raw = load_config_dict(CONFIGS / "padt_rec_3b.json")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw), encoding="utf-8")  # a config.json file, as `plan` gets it
    run = run_fake_padt(path, batch=2, image_size=(1333, 800), text_layers=2, vision_layers=2)
    _check_run(run, with_layers(raw, 2, 2), 2)
    t, h, w = run.grids[0]
    assert (h * 14, w * 14) == (round(800 / 28) * 28, round(1333 / 28) * 28)  # within the budget: nearest multiples of 28


def test_resized_grid_is_the_processors(tmp_path):
    # the processor PaDT runs with, configured from the released preprocessor_config.json
    import shutil

    from PIL import Image

    import padt_eval.models as models
    from padt_eval.models.padt.processor import PadtProcessor

    released = Path(models.__file__).parent / "released" / "qwen2_5_vl.preprocessor_config.json"
    shutil.copy(released, tmp_path / "preprocessor_config.json")
    proc = PadtProcessor.from_folder(tmp_path, tokenizer=None, merge_size=2)
    for size in [(640, 480), (1333, 800), (90, 30)]:
        assert proc.prepare_image(Image.new("RGB", size)).grid_thw == resized_grid(*size)
    small = PadtProcessor.from_folder(tmp_path, tokenizer=None, merge_size=2, max_pixels=200_000)
    assert small.prepare_image(Image.new("RGB", (1333, 800))).grid_thw == resized_grid(1333, 800, max_pixels=200_000)


def _fake_vision(tmp_layers: int = 1):
    raw = with_layers(load_config_dict(CONFIGS / "padt_rec_3b.json"), 1, tmp_layers)
    mode, _, model = build_fake_padt(raw)
    grids = [resized_grid(640, 480)] * 2
    with mode:
        grid = torch.tensor([list(g) for g in grids]).to("cuda")
        pixels = torch.empty((sum(t * h * w for t, h, w in grids), 1176), device="cuda")
    return mode, model, grids, grid, pixels


def test_vision_tower_without_host_layout_syncs_and_is_named():
    # what the vision tower did before its metadata moved to the host: transformers'
    # helpers read grid_thw back (`tolist`), which the harness names with its frame
    mode, model, _, grid, pixels = _fake_vision()
    with pytest.raises(FakeRunError) as err, mode, torch.inference_mode(), mode.stage("vision"):
        vision_forward(model.visual, pixels, grid)
    msg = str(err.value)
    assert re.search(r"host sync in vision: aten\.(item|_local_scalar_dense)", msg), msg
    assert "host_meta.py" in msg or "vision_utils.py" in msg  # the frame that read the grid


def test_vision_tower_with_host_layout_has_no_sync():
    mode, model, grids, grid, pixels = _fake_vision()
    layout = vision_layout(grids, model.visual)
    with mode:
        layout = layout.to("cuda")
    with mode, torch.inference_mode(), mode.stage("vision") as rep:
        out = vision_forward(model.visual, pixels, grid, layout=layout)
    assert rep.syncs == [] and rep.ops > 50
    assert out.merged.shape == (sum(t * h * w for t, h, w in grids) // 4, 2048) and out.merged.device.type == "cuda"


def test_harness_names_a_sync_and_a_device_mismatch():
    with fake_cuda() as mode:
        x = torch.ones(4)
    with mode, mode.stage("probe"):
        with pytest.raises(FakeRunError, match=r"host sync in probe: aten\._local_scalar_dense.*test_padt_fake_cuda\.py:\d+"):
            int(x.sum())
        with pytest.raises(FakeRunError, match=r"host sync in probe: .*copy from cuda to cpu"):
            x.cpu()
        with pytest.raises(FakeRunError, match=r"device mismatch in probe: .*test_padt_fake_cuda\.py:\d+"):
            x + torch.ones(4, device="cpu")
    assert len(mode.stages["probe"].syncs) == 2 and len(mode.stages["probe"].mismatches) == 1
