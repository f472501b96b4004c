"""Length-aware order (runner/length_order.py) changes which samples share a batch, never an
answer: the tiny HF baselines and the tiny PaDT, in float32 on the CPU, write the same
predictions.jsonl (the per-sample timing aside; PaDT's boxes to 0.01 px, see the test)
with and without it. The order is
recorded in the plan and the manifest, and a killed run resumes in it."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from padt_eval import api  # noqa: E402
from padt_eval.core.types import Prediction, Task  # noqa: E402
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions  # noqa: E402
from padt_eval.results.run_folder import RunFolder  # noqa: E402
from padt_eval.runner.batching import same_objects  # noqa: E402
from padt_eval.runner.worker import FAULT_ENV  # noqa: E402

BATCH = 4


@pytest.fixture(autouse=True)
def _threads(_one_torch_thread):
    """One torch thread (tests/models/conftest.py)."""


def _run(checkpoint, family, demo_split, out, length_order: bool):
    api.run_model(
        Task.REC,
        str(demo_split.rec_split),
        ModelOptions(str(checkpoint), family, {"max_new_tokens": 10, "dtype": "float32"}),
        data=DataOptions(image_root=demo_split.images),
        run=RunOptions(1, "cpu", batch_size=BATCH, loader_workers=0, length_order=length_order),
        output=OutputOptions(out, report=False),
    )
    folder = RunFolder(out)
    manifest = json.loads(folder.manifest.read_text())
    attempt = manifest["runner"]["attempt"]
    ids = folder.plan_ids(attempt, 0).read_text().split()
    return folder, manifest, ids


def _without_timing(folder: RunFolder) -> list[dict]:
    rows = [json.loads(line) for line in folder.predictions.read_text().splitlines()]
    for r in rows:
        r.get("meta", {}).pop("seconds", None)  # PaDT's per-sample wall time
    return rows


def _batches(ids: list[str]) -> list[frozenset[str]]:
    return [frozenset(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH)]


@pytest.mark.parametrize("family", ["qwen2_5_vl", "florence2", "padt"])
def test_length_order_changes_batches_not_predictions(family, tiny, tiny_checkpoint, demo_split, tmp_path):
    checkpoint = tiny_checkpoint if family == "padt" else tiny(family)
    by_length, manifest, length_ids = _run(checkpoint, family, demo_split, tmp_path / "length", True)
    by_size, manifest_off, size_ids = _run(checkpoint, family, demo_split, tmp_path / "size", False)
    assert sorted(length_ids) == sorted(size_ids)
    assert set(_batches(length_ids)) != set(_batches(size_ids))  # other samples shared a batch
    a, b = _without_timing(by_length), _without_timing(by_size)
    if family != "padt":
        assert a == b
    else:
        # Same text, tokens, masks and meta; PaDT's box decoder runs a batch's VRT features
        # through one batched transformer, whose float32 sums move in the last bits with the
        # batch's composition: boxes agree to check_batching's tolerance (0.01 px).
        assert [{k: v for k, v in r.items() if k != "objects"} for r in a] == [
            {k: v for k, v in r.items() if k != "objects"} for r in b
        ]
        assert all(same_objects(Prediction.from_json(x), Prediction.from_json(y)) for x, y in zip(a, b))
        assert all([o.get("mask") for o in x["objects"]] == [o.get("mask") for o in y["objects"]] for x, y in zip(a, b))
    # the order is recorded: the manifest's runner section and the attempt's plan summary
    assert manifest["runner"]["order"]["length_order"] is True
    assert manifest["runner"]["order"]["text_tokens_counted_by"] == "checkpoint tokenizer"
    assert manifest_off["runner"]["order"] == {"length_order": False, "key": "image pixels, then sample id"}
    # the length order is the prompt tokens the adapter then counted, ascending
    prompt = {r["sample_id"]: r["meta"]["prompt_tokens"] for r in _without_timing(by_length)}
    if family != "florence2":  # an encoder-decoder's count has no image tokens; the key is text only
        assert [prompt[i] for i in length_ids] == sorted(prompt[i] for i in length_ids)


def test_a_killed_length_ordered_run_resumes_to_the_same_predictions(tiny, demo_split, tmp_path, monkeypatch):
    checkpoint = tiny("qwen2_5_vl")
    whole, _, _ = _run(checkpoint, "qwen2_5_vl", demo_split, tmp_path / "whole", True)
    monkeypatch.setenv(FAULT_ENV, "0:1:raise")  # the rank stops after its first batch
    with pytest.raises(RuntimeError, match="injected failure"):
        _run(checkpoint, "qwen2_5_vl", demo_split, tmp_path / "resumed", True)
    monkeypatch.delenv(FAULT_ENV)
    resumed, manifest, ids = _run(checkpoint, "qwen2_5_vl", demo_split, tmp_path / "resumed", True)
    assert manifest["runner"]["resumed"] is True and len(ids) == len(_without_timing(whole)) - BATCH
    assert _without_timing(resumed) == _without_timing(whole)
