"""Batched generation gives the batch-1 answers, repetition penalty included."""

from __future__ import annotations

import pytest
import torch

from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.models.hf.generation import own_tokens_repetition_penalty
from padt_eval.models.loading import load_model
from padt_eval.runner.batching import check_batching
from padt_eval.tasks.registry import get_task


def test_penalty_counts_only_each_rows_own_tokens():
    from transformers import RepetitionPenaltyLogitsProcessor

    torch.manual_seed(0)
    real = torch.tensor([[5, 6, 7, 6]])
    padded = torch.tensor([[0, 0, 5, 6, 7, 6]])  # pad id 0 is a token the row never wrote
    scores = torch.randn(1, 10)
    want = RepetitionPenaltyLogitsProcessor(1.3)(real, scores.clone())
    got = own_tokens_repetition_penalty(1.3, torch.tensor([2]))(padded, scores.clone())
    assert torch.equal(got, want)
    stock = RepetitionPenaltyLogitsProcessor(1.3)(padded, scores.clone())
    assert not torch.equal(stock[:, 0], want[:, 0])  # stock counts the padding


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen2_vl", "qwen3_vl", "internvl", "kosmos2", "florence2"])
def test_batch_of_4_equals_batch_of_1_with_a_repetition_penalty(family, tiny, demo_split):
    adapter = load_model(str(tiny(family)), device="cpu", max_new_tokens=12)
    adapter.model.generation_config.repetition_penalty = 1.5
    reader = PadtRefcocoJsonlReader(demo_split.rec_split, demo_split.images, Task.REC)
    report = check_batching(reader, adapter, get_task(Task.REC), 8, 4)
    assert report.n_text_differs == 0 and report.n_objects_differ == 0, report.examples
    assert adapter.describe()["generation"]["repetition_penalty"] == 1.5
