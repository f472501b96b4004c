"""The fixed-shape decode step: no host syncs inside, same values as the older formulas,
compilable whole, and the periodic finish check does not change results."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from padt_eval.models.padt.adapter import load_padt
from padt_eval.models.padt.decode_step import penalise_seen, seen_table
from padt_eval.models.padt.generation import generate, repetition_penalty, start_decoding
from padt_eval.testing.op_counter import OpCounter


def _images(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = [(64, 48), (40, 72), (56, 56), (90, 30)]
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in sizes[:n]]


def _batch(checkpoint, n: int = 3, **settings):
    adapter = load_padt(str(checkpoint), max_new_tokens=settings.pop("max_new_tokens", 12))
    pipe = adapter.pipeline
    pipe.settings = dataclasses.replace(pipe.settings, **settings)
    prompts = ["Please find the red cup.", "Where is the dog?", "Locate every chair in the room."][:n]
    inputs = pipe.processor.batch([pipe.processor.prepare_image(im) for im in _images(n)], prompts)
    enc = pipe.encode(inputs)
    ids = pipe.global_ids(inputs.input_ids, inputs.image_grid_thw)
    args = (pipe.model, enc.vocab, enc.vision.merged, ids, inputs.attention_mask, inputs.image_grid_thw, pipe.settings)
    return pipe, args


def test_counter_sees_the_syncs_of_the_older_formulas():
    x = torch.randn(6)
    with OpCounter() as c:
        bool((x > 0).any())
        x[x > 0]
        int(x.argmax())
    assert c.syncs == 3 and c.ops >= 6


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_a_decode_step_never_syncs_with_the_host(tiny_checkpoint, penalty):
    _, args = _batch(tiny_checkpoint, repetition_penalty=penalty)
    dec = start_decoding(*args)
    for _ in range(3):
        with torch.inference_mode(), OpCounter() as c:  # the step's buffers are inference tensors
            dec.step()
        assert c.syncs == 0, dict(c.sync_names)
        assert c.ops > 50  # the text model really ran under the counter


def test_penalty_table_equals_gather_scatter():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 40, (3, 9), generator=g)
    scores = torch.randn(3, 40, generator=g)
    scores[0, 5] = float("-inf")
    expected = repetition_penalty(ids, scores, 1.7)
    assert torch.equal(penalise_seen(scores, seen_table(ids, 40), 1.7), expected)


def test_padded_vocabulary_gives_the_same_embeddings_and_logits(tiny_checkpoint):
    _, args = _batch(tiny_checkpoint)
    vocab = args[1]
    padded = vocab.padded(bucket=64)
    assert (padded.width - vocab.vocab_size) % 64 == 0 and padded.width >= vocab.size
    ids = torch.tensor([[0, 5, vocab.vocab_size, vocab.size - 1]] * vocab.mask.shape[0])
    assert torch.equal(padded.embed_ids(ids), vocab.embed_ids(ids))
    hidden = torch.randn(vocab.mask.shape[0], vocab.embed.shape[1])
    ours = padded.logits(hidden)
    torch.testing.assert_close(ours[:, : vocab.size], vocab.logits(hidden), rtol=1e-6, atol=1e-6)
    assert torch.isinf(ours[:, vocab.size :]).all()


def test_finish_check_interval_does_not_change_results(tiny_checkpoint):
    _, args = _batch(tiny_checkpoint, max_new_tokens=20, repetition_penalty=1.2)
    every = generate(*args, check_every=1, record_logits=True)
    sparse = generate(*args, check_every=8, record_logits=True)
    assert torch.equal(every.sequences, sparse.sequences)
    assert torch.equal(every.finished, sparse.finished)
    assert torch.equal(every.step_hidden, sparse.step_hidden)
    assert torch.equal(every.step_logits, sparse.step_logits)


def test_early_stop_cuts_at_the_last_finished_row(tiny_checkpoint):
    # make the first step's argmax an eos id for every row: generation ends after 1 token
    pipe, args = _batch(tiny_checkpoint, max_new_tokens=20)
    first = generate(*args)
    eos_first = dataclasses.replace(pipe.settings, eos_token_ids=sorted(set(first.sequences[:, first.prompt_length].tolist())))
    out = generate(*args[:-1], eos_first)
    assert out.num_steps == 1 and bool(out.finished.all())


def _compiled_matches_eager(checkpoint, backend: str) -> None:
    _, args = _batch(checkpoint, repetition_penalty=1.2, max_new_tokens=10)
    with torch.inference_mode():
        eager, other = start_decoding(*args), start_decoding(*args)
        step = torch.compile(other.step.__call__, fullgraph=True, dynamic=False, backend=backend)
        for _ in range(9):
            eager.step()
            step()
    a, b = eager.step.state, other.step.state
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.finished_at, b.finished_at)
    torch.testing.assert_close(b.hidden, a.hidden, rtol=1e-5, atol=1e-5)
    assert int(b.step) == 9  # the compiled step really advanced the state


def test_decode_step_compiles_as_one_graph(tiny_checkpoint):
    # aot_eager traces the whole step with dynamo (fullgraph: any graph break fails) and
    # runs the captured graph; fast enough for every run of the suite
    _compiled_matches_eager(tiny_checkpoint, "aot_eager")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None, reason="inductor on the CPU needs a C compiler")
def test_decode_step_compiles_with_inductor(tiny_checkpoint):
    _compiled_matches_eager(tiny_checkpoint, "inductor")


def test_generate_with_compile_gives_the_same_result(tiny_checkpoint, monkeypatch):
    from padt_eval.models.padt import generation

    monkeypatch.setattr(generation, "COMPILE_BACKEND", "aot_eager")
    _, args = _batch(tiny_checkpoint, max_new_tokens=12)
    eager = generate(*args)
    compiled = generate(*args, compile_step=True)
    assert torch.equal(eager.sequences, compiled.sequences)


@pytest.mark.parametrize("penalise_padding", [True, False])
def test_reference_strategy_gives_the_same_tokens(tiny_checkpoint, penalise_padding):
    from padt_eval.testing.reference_strategy import generate_reference_strategy

    _, args = _batch(tiny_checkpoint, max_new_tokens=16, repetition_penalty=1.1)
    ours = generate(*args, penalise_padding=penalise_padding, record_logits=True)
    ref = generate_reference_strategy(*args, penalise_padding=penalise_padding, record_logits=True)
    assert torch.equal(ours.sequences, ref.sequences) and torch.equal(ours.finished, ref.finished)
    torch.testing.assert_close(ours.step_hidden, ref.step_hidden, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.step_logits, ref.step_logits, rtol=1e-5, atol=1e-4)
    assert len(ref.all_layer_states) == ref.num_steps  # prefill + one per fed token


def test_flash_attention_models_decode_through_sdpa(tiny_checkpoint):
    from padt_eval.models.padt.decode_step import DecodeStep, attention_for_decoding

    _, args = _batch(tiny_checkpoint)
    model = args[0]
    cfg = model.language_model.config
    before = cfg._attn_implementation
    cfg._attn_implementation = "flash_attention_2"  # flash-attn is not installed: only the switch is checked
    try:
        with attention_for_decoding(model):
            assert cfg._attn_implementation == "sdpa"
        assert cfg._attn_implementation == "flash_attention_2"
        assert DecodeStep(model, None).attn_impl == "sdpa"
    finally:
        cfg._attn_implementation = before
