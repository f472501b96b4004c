"""`-b N` is N samples per model call for PaDT and for the baselines, and the run records it.

Counted at the model call itself (PaDT's pipeline run, the transformers adapters'
generate): 64 samples at -b 32 on one rank are 2 calls of 32.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app

pytest.importorskip("torch")
pytest.importorskip("transformers")

N_SAMPLES = 64


@pytest.fixture(scope="module")
def split64(tmp_path_factory):
    """A PaDT-layout RefCOCO split of exactly 64 sentences over synthetic images."""
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl

    root = tmp_path_factory.mktemp("split64")
    world = make_world(30, seed=3)
    write_images(world, root / "images")
    full = root / "full.jsonl"
    assert write_padt_jsonl(world, full) >= N_SAMPLES
    split = root / "refcoco_val.jsonl"
    split.write_text("".join(full.read_text(encoding="utf-8").splitlines(keepends=True)[:N_SAMPLES]), encoding="utf-8")
    return split, root / "images"


def _run(split64, model, out, batch: int, *extra: str) -> dict:
    split, images = split64
    args = ["rec", "-s", str(split), "--image-root", str(images), "--model", str(model), "-b", str(batch), *extra]
    args += ["--max-new-tokens", "2", "-o", str(out), "--device", "cpu", "--loader-workers", "0"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads((out / "manifest.json").read_text())


def _count_calls(monkeypatch, owner, name: str) -> list[int]:
    """Wrap owner.name so each call appends its batch size (the length of its 1st list argument)."""
    sizes: list[int] = []
    original = getattr(owner, name)

    def counted(self, *args, **kwargs):
        lists = [a for a in args if isinstance(a, list)]
        sizes.append(len(lists[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return sizes


def test_padt_runs_the_runners_batch(split64, tiny_checkpoint, tmp_path, monkeypatch, _one_torch_thread):
    from padt_eval.models.padt.pipeline import PadtPipeline

    sizes = _count_calls(monkeypatch, PadtPipeline, "run")
    # static batches (continuous batching is the default since #22; its slots: the test below)
    manifest = _run(split64, tiny_checkpoint, tmp_path / "run", 32, "--model-arg", "continuous=false")
    assert sizes == [32, 32]
    model_json = json.loads((tmp_path / "run" / "model.json").read_text())
    assert model_json["batch_size"] == 32
    assert manifest["runner"]["batch_size"] == 32


def test_padt_batch_size_option_splits_further(split64, tiny_checkpoint, tmp_path, monkeypatch, _one_torch_thread):
    """`--model-arg batch_size=16` under -b 32: 4 calls of 16, and model.json says 16."""
    from padt_eval.models.padt.pipeline import PadtPipeline

    sizes = _count_calls(monkeypatch, PadtPipeline, "run")
    split, images = split64
    out = tmp_path / "run"
    args = ["rec", "-s", str(split), "--image-root", str(images), "--model", str(tiny_checkpoint), "-b", "32"]
    args += ["--model-arg", "batch_size=16", "--max-new-tokens", "2", "-o", str(out), "--device", "cpu", "--loader-workers", "0"]
    args += ["--model-arg", "continuous=false"]  # static batches (continuous batching's slots: below)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert sizes == [16, 16, 16, 16]
    assert json.loads((out / "model.json").read_text())["batch_size"] == 16


@pytest.mark.parametrize("option, slots", [((), 32), (("--model-arg", "batch_size=16"), 16)])
def test_padt_continuous_batching_has_the_runners_batch_as_slots(
    split64, tiny_checkpoint, tmp_path, monkeypatch, _one_torch_thread, option, slots
):
    from padt_eval.models.padt.continuous import ContinuousDecoder

    counts: list[int] = []
    original = ContinuousDecoder.__init__

    def counted(self, pipe, n, **kwargs):
        counts.append(n)
        original(self, pipe, n, **kwargs)

    monkeypatch.setattr(ContinuousDecoder, "__init__", counted)
    _run(split64, tiny_checkpoint, tmp_path / "run", 32, *option)
    assert counts == [slots]  # one stream over the rank's 64 samples
    model_json = json.loads((tmp_path / "run" / "model.json").read_text())
    assert model_json["continuous"] is True and model_json["batch_size"] == slots


def test_a_baseline_runs_the_runners_batch(split64, tiny, tmp_path, monkeypatch):
    from padt_eval.models.hf.adapter import HFTextBoxAdapter

    sizes = _count_calls(monkeypatch, HFTextBoxAdapter, "generate")
    manifest = _run(split64, tiny("qwen2_5_vl"), tmp_path / "run", 32)
    assert sizes == [32, 32]
    assert json.loads((tmp_path / "run" / "model.json").read_text())["batch_size"] == 32
    assert manifest["runner"]["batch_size"] == 32
