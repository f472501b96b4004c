"""Default-mode PaDT decoding does not depend on what else is in the batch."""

from __future__ import annotations

import torch

from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.models.padt.adapter import load_padt
from padt_eval.models.padt.generation import _padding_as_first_token, repetition_penalty
from padt_eval.runner.batching import check_batching
from padt_eval.tasks.registry import get_task


def test_penalty_ignores_left_padding():
    pad = 9
    padded = torch.tensor([[pad, pad, 3, 4, 3]])
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    alone = torch.tensor([[3, 4, 3]])
    scores = torch.randn(1, 12)
    fixed = repetition_penalty(_padding_as_first_token(padded, mask), scores, 1.5)
    assert torch.equal(fixed, repetition_penalty(alone, scores, 1.5))
    # the reference behaviour penalises the pad id too
    ref = repetition_penalty(padded, scores, 1.5)
    assert not torch.equal(ref[0, pad], scores[0, pad]) and torch.equal(fixed[0, pad], scores[0, pad])


def test_default_mode_texts_do_not_depend_on_the_batch(tiny_checkpoint, synth_root):
    reader = open_split("refcoco_val", Task.REC, data_root=synth_root, layout="padt-jsonl")
    adapter = load_padt(str(tiny_checkpoint), max_new_tokens=16)
    report = check_batching(reader, adapter, get_task(Task.REC), n_samples=16, batch_size=8)
    assert report.n_samples == 16 and report.n_text_differs == 0, report.examples
