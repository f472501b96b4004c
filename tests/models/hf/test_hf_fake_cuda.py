"""The coordinate-text baselines on fake CUDA at the released widths, and the host syncs
their transformers code does per generated token.

Fake CUDA (`models.hf.fake_run`): every family's model builds from its released
config.json in bf16 on "cuda", prefills a batch with images, and runs decode steps, each
step strict (no host sync, no device mismatch). Depth is cut to 2 text and 2 vision blocks
(the blocks repeat; the widths, vocabularies and image sizes are the released ones).
The prefill is lenient and its host reads are asserted where they are: transformers'
own multimodal code, not ours.

Per-step syncs of `generate` itself (its loop, not the model): counted on the real tiny
checkpoints on the CPU, where a value read is visible as `_local_scalar_dense` & co.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from padt_eval.models.fake_device import sync_kind
from padt_eval.models.hf.fake_run import run_fake_hf

CONFIGS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"

# (released config, transformers class, where its image prefill first reads a value on the host)
RELEASED = [
    ("qwen2_5_vl_3b_instruct.json", "Qwen2_5_VLForConditionalGeneration", "vision_utils.py:112 in get_vision_position_ids"),
    ("qwen2_5_vl_7b_instruct.json", "Qwen2_5_VLForConditionalGeneration", "vision_utils.py:112 in get_vision_position_ids"),
    ("qwen2_vl_7b_instruct.json", "Qwen2VLForConditionalGeneration", "vision_utils.py:112 in get_vision_position_ids"),
    ("qwen3_vl_4b_instruct.json", "Qwen3VLForConditionalGeneration", "in get_vision_interpolation_indices_and_weights"),
    ("qwen3_vl_8b_instruct.json", "Qwen3VLForConditionalGeneration", "in get_vision_interpolation_indices_and_weights"),
    ("internvl3_2b_hf.json", "InternVLForConditionalGeneration", "in torch_compilable_check"),
    ("kosmos2_patch14_224.json", "Kosmos2ForConditionalGeneration", "in forward_embedding"),  # boolean-mask write
    ("florence2_base.json", "Florence2ForConditionalGeneration", "in torch_compilable_check"),
]


@pytest.mark.parametrize(("fixture", "model_class", "first_read"), RELEASED, ids=[r[0][:-5] for r in RELEASED])
def test_released_baseline_decodes_on_fake_cuda(fixture, model_class, first_read):
    run = run_fake_hf(CONFIGS / fixture, model_class, batch=2, image_size=(640, 480), text_layers=2, vision_layers=2)
    params = list(run.model.parameters())
    assert {p.device.type for p in params} == {"cuda"} and {p.dtype for p in params} == {torch.bfloat16}
    for k in (1, 2, 3):
        rep = run.mode.stages[f"decode step {k}"]
        assert rep.syncs == [] and rep.mismatches == [] and rep.ops > 50, (k, [str(e) for e in rep.syncs])
        assert rep.uploads == [], [str(e) for e in rep.uploads]
    prefill = run.mode.stages["prefill"]
    assert prefill.mismatches == []
    reads = [str(e) for e in prefill.syncs]
    assert reads and first_read in reads[0] and "transformers/" in reads[0], reads
    if run.prefill_read is not None:  # a value read stopped the image prefill (Qwen)
        assert run.mode.stages["prefill without image"].syncs == []


def _step_reads(adapter, n: int) -> tuple[int, list[str]]:
    """Value reads of one greedy_generate of exactly `n` tokens for one image (eos disabled),
    and where each happened."""
    from PIL import Image

    from padt_eval.core.types import ImageRef, ModelRequest, Task
    from padt_eval.models.fake_device import calling_frame
    from padt_eval.models.hf.generation import greedy_generate

    img = Image.new("RGB", (64, 48), (200, 30, 30))
    req = ModelRequest("s", Task.REC, ImageRef("x.png", 64, 48), expression="the red square", prompt="Find the red square.")
    inputs = dict(adapter.encode([adapter.chat_text(req)], [img], [req]))
    frames: list[str] = []

    class Reads(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            why = sync_kind(func, args, kwargs or {}, device_only=False)
            if why is not None:
                frames.append(f"{why} at {calling_frame()}")
            return func(*args, **(kwargs or {}))

    cfg = adapter.model.generation_config
    eos, cfg.eos_token_id = cfg.eos_token_id, None
    try:
        with Reads():
            greedy_generate(adapter.model, inputs, max_new_tokens=n, eos_ids=set(), tokenizer=adapter.tokenizer)
    finally:
        cfg.eos_token_id = eos
    return len(frames), frames


STOP_CHECK = "generation/utils.py in __call__"  # StoppingCriteriaList: is every row finished?
MASK_CHECKS = {"masking_utils.py in _ignore_causal_mask_sdpa", "masking_utils.py in _ignore_bidirectional_mask_sdpa"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "per_token"),
    [
        ("qwen2_5_vl", {STOP_CHECK}),
        ("qwen2_vl", {STOP_CHECK}),
        ("qwen3_vl", {STOP_CHECK}),
        ("internvl", {STOP_CHECK}),
        ("kosmos2", {STOP_CHECK}),
        # encoder-decoder: the decoder's causal and cross-attention masks are rebuilt per
        # token, and transformers checks on the host whether each may be skipped
        ("florence2", {STOP_CHECK} | MASK_CHECKS),
    ],
)
def test_generate_reads_per_token_are_the_stop_check(tiny, family, per_token):
    """What transformers' generate reads on the host per generated token, on the real tiny
    checkpoint: the reads of a 6-token run minus those of a 3-token run (the prefill's
    cancel out), checked against a 9-token run, and where each one happens."""
    import re
    from collections import Counter

    from padt_eval.models.loading import load_model

    adapter = load_model(str(tiny(family)), device="cpu", max_new_tokens=8)
    n3, frames3 = _step_reads(adapter, 3)
    n6, frames6 = _step_reads(adapter, 6)
    n9, _ = _step_reads(adapter, 9)
    assert (n6 - n3) == (n9 - n6) == 3 * len(per_token), (n3, n6, n9)
    added = Counter(frames6) - Counter(frames3)
    where = {re.sub(r"^.* at (?:transformers/)?([\w/]+\.py):\d+ (in \w+).*$", r"\1 \2", f) for f in added}
    assert where == per_token and set(added.values()) == {3}, added
