"""`padt-eval TASK --model FOLDER` with no --family on checkpoints that carry a released
config.json (tests/fixtures/configs, sizes shrunk to tiny weights; see `realistic.py`).

PaDT: saved as the reference trainer saves it (PaDTForConditionalGeneration, `vl_decoder`,
transformers 4.50 layout) on the real Qwen vocabulary, through rec, res, ovd and ric.
Each baseline: its released config through rec (the Qwen families on the real vocabulary).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app

from .realistic import with_released_config

pytest.importorskip("torch")
pytest.importorskip("transformers")

runner = CliRunner()

# (family the run must report, fixture config, tiny checkpoint, real vocabulary?, folder name)
BASELINES = [
    ("qwen2_5_vl", "qwen2_5_vl_3b_instruct.json", "qwen2_5_vl", True, "Qwen2.5-VL-3B-Instruct"),
    ("qwen2_5_vl", "qwen2_5_vl_7b_instruct.json", "qwen2_5_vl", True, "Qwen2.5-VL-7B-Instruct"),
    ("vlm_r1", "qwen2_5_vl_3b_instruct.json", "qwen2_5_vl", True, "Qwen2.5VL-3B-VLM-R1-REC-500steps"),
    ("qwen2_vl", "qwen2_vl_7b_instruct.json", "qwen2_vl", True, "Qwen2-VL-7B-Instruct"),
    ("qwen3_vl", "qwen3_vl_4b_instruct.json", "qwen3_vl", True, "Qwen3-VL-4B-Instruct"),
    ("internvl", "internvl3_2b_hf.json", "internvl", False, "InternVL3-2B-hf"),
    ("kosmos2", "kosmos2_patch14_224.json", "kosmos2", False, "kosmos-2-patch14-224"),
    ("florence2", "florence2_base.json", "florence2", False, "Florence-2-base"),
]


def _run(task: str, model, demo_split, out) -> tuple[dict, list[dict]]:
    if task in ("rec", "res"):
        where = ["-s", str(demo_split.rec_split), "--image-root", str(demo_split.images)]
    else:
        where = ["--data-root", str(demo_split.data)]
    args = [task, *where, "--model", str(model), "--max-new-tokens", "8", "-b", "3", "-o", str(out)]
    r = runner.invoke(app, args + ["--device", "cpu", "--loader-workers", "0"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    return manifest, preds


@pytest.fixture(scope="module")
def padt_released(real_vocab, tmp_path_factory):
    return with_released_config(real_vocab("padt"), "padt_rec_3b.json", tmp_path_factory.mktemp("released") / "PaDT_REC_3B")


def test_the_padt_checkpoint_wears_the_released_config(padt_released):
    cfg = json.loads((padt_released / "config.json").read_text())
    assert cfg["architectures"] == ["PaDTForConditionalGeneration"] and cfg["model_type"] == "qwen2_5_vl"
    assert cfg["transformers_version"] == "4.50.0" and cfg["vl_decoder"]["name"] == "PaDTDecoder"
    assert cfg["vocab_size"] == 151936 and cfg["hidden_size"] == 64  # tiny sizes, released vocabulary


@pytest.mark.slow
@pytest.mark.parametrize("task", ["rec", "res", "ovd", "ric"])
def test_padt_runs_every_task_with_no_family(task, padt_released, demo_split, tmp_path):
    manifest, preds = _run(task, padt_released, demo_split, tmp_path / "run")
    assert manifest["model"]["family"] == "padt"
    assert preds and all(p["parse_status"] in ("ok", "failed") for p in preds)


@pytest.mark.slow
@pytest.mark.parametrize("family, fixture, checkpoint, real, name", BASELINES, ids=[f"{b[0]}-{b[4]}" for b in BASELINES])
def test_baseline_runs_rec_with_no_family(family, fixture, checkpoint, real, name, tiny, real_vocab, demo_split, tmp_path):
    folder = with_released_config((real_vocab if real else tiny)(checkpoint), fixture, tmp_path / name)
    manifest, preds = _run("rec", folder, demo_split, tmp_path / "run")
    assert manifest["model"]["family"] == family
    assert preds and all(p["parse_status"] in ("ok", "failed") for p in preds)
