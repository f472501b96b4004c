"""Continuous batching (`continuous`, `slots`, `stream`): every sample's answer is its
batch-1 answer, in any order of arrival, with any number of slots and any check interval;
freed slots really take the next samples; a step never reads a value on the host."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch
from PIL import Image

from padt_eval.core.types import ParseStatus, Task
from padt_eval.data.registry import open_split
from padt_eval.models.padt import slots as slots_mod
from padt_eval.models.padt.adapter import load_padt
from padt_eval.models.padt.continuous import ContinuousDecoder, StreamItem
from padt_eval.models.padt.slots import gumbel_noise
from padt_eval.runner.prepare import predict_prepared, prepare
from padt_eval.tasks.registry import get_task
from padt_eval.testing.op_counter import OpCounter

SIZES = [(64, 48), (40, 72), (56, 56), (90, 30), (100, 80), (33, 47), (70, 70)]
PROMPTS = [
    "Please find the red cup.",
    "Where is the dog?",
    "Locate every chair in the room.",
    "a",
    "Find all the things on the table, left to right.",
    "x y z",
    "the cat",
]
MAX_NEW = 20


@pytest.fixture(scope="module")
def padt(tiny_checkpoint):
    """The tiny PaDT with end-of-turn ids chosen so that its answers end at different
    steps (the random model alone runs every answer to the token limit)."""
    pipe = load_padt(str(tiny_checkpoint), max_new_tokens=MAX_NEW, repetition_penalty=1.1).pipeline
    rng = np.random.default_rng(3)
    images = [pipe.processor.prepare_image(Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))) for w, h in SIZES]
    free = [pipe.run([im], [p]).completion_rows[0] for im, p in zip(images, PROMPTS)]
    pipe.settings = dataclasses.replace(pipe.settings, eos_token_ids=sorted({free[0][2], free[2][7], free[4][12]}))
    return pipe, images


def _batch1(pipe, images):
    return [pipe.run([im], [p]) for im, p in zip(images, PROMPTS)]


def _stream(pipe, images, order, slots, **options):
    items = [StreamItem(i, images[i], PROMPTS[i], seed=1000 + i) for i in order]
    return dict(pipe.run_stream(items, slots, **options))


def _assert_same_answer(a, b):
    assert a.completion_rows == b.completion_rows and a.finished_rows == b.finished_rows
    assert a.token_strings == b.token_strings and a.parses[0].text == b.parses[0].text
    assert a.completion_ids.shape == b.completion_ids.shape  # generated_steps in meta
    boxes = [[o.pred.bbox for o in run.objects[0]] for run in (a, b)]
    scores = [[o.pred.score for o in run.objects[0]] for run in (a, b)]
    assert len(boxes[0]) == len(boxes[1])
    np.testing.assert_allclose(np.array(boxes[1]).reshape(-1), np.array(boxes[0]).reshape(-1), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(scores[1], scores[0], rtol=1e-5, atol=1e-5)


def test_answers_end_at_different_lengths(padt):
    # the premise of every other test here
    lengths = [len(run.completion_rows[0]) for run in _batch1(*padt)]
    assert len(set(lengths)) >= 3 and min(lengths) < MAX_NEW, lengths


@pytest.mark.parametrize(
    "order, slots, check_every",
    [(list(range(7)), 3, 4), (list(range(7))[::-1], 2, 1), (random.Random(5).sample(range(7), 7), 4, 3)],
)
def test_every_answer_equals_its_batch1_answer_in_any_arrival_order(padt, order, slots, check_every):
    pipe, images = padt
    single = _batch1(pipe, images)
    streamed = _stream(pipe, images, order, slots, check_every=check_every)
    assert sorted(streamed) == list(range(7))
    for i in range(7):
        _assert_same_answer(single[i], streamed[i])
    stats = pipe.last_stream.stats
    assert stats.prefills > 1 and stats.samples == 7  # freed slots took later samples
    # independent count: each sample decodes its batch-1 length - 1 steps after the prefill
    assert stats.useful_row_steps == sum(len(r.completion_rows[0]) - 1 for r in single)
    assert stats.row_steps == stats.steps * slots


def test_growing_slots_for_larger_images_and_longer_prompts(padt, monkeypatch):
    # buckets of 1: every larger later sample makes the slots grow (cache columns, prototype rows)
    monkeypatch.setattr(slots_mod, "SLOT_VRT_BUCKET", 1)
    monkeypatch.setattr(slots_mod, "CACHE_LENGTH_BUCKET", 1)
    pipe, images = padt
    order = [5, 3, 1, 0, 2, 6, 4]  # smallest image first
    streamed = _stream(pipe, images, order, 2, check_every=2)
    single = _batch1(pipe, images)
    for i in range(7):
        _assert_same_answer(single[i], streamed[i])
    state = pipe.last_stream.state
    counts = [len(r.encoded.prototypes) for r in single]
    assert state.k_cap == max(counts) > counts[5]


def test_sampled_answers_depend_on_the_sample_only(padt):
    pipe, images = padt
    greedy = pipe.settings
    pipe.settings = dataclasses.replace(greedy, do_sample=True, temperature=1.5, top_k=50, top_p=1.0)
    try:
        a = _stream(pipe, images, list(range(7)), 3, check_every=2)
        b = _stream(pipe, images, [6, 2, 4, 0, 5, 1, 3], 1, check_every=5)
        other_seeds = dict(pipe.run_stream([StreamItem(i, images[i], PROMPTS[i], seed=7 + i) for i in range(7)], 3))
    finally:
        pipe.settings = greedy
    for i in range(7):
        assert a[i].completion_rows == b[i].completion_rows
    greedy_rows = [r.completion_rows for r in _batch1(pipe, images)]
    assert any(a[i].completion_rows != greedy_rows[i] for i in range(7))  # it really sampled
    assert any(a[i].completion_rows != other_seeds[i].completion_rows for i in range(7))  # the seed matters


def test_gumbel_argmax_samples_the_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0])
    n = 40000
    seeds = torch.arange(n, dtype=torch.long) * 7919
    steps = torch.arange(n, dtype=torch.long) % 13
    picks = torch.argmax(logits[None, :] + gumbel_noise(seeds, steps, 4), dim=-1)
    freq = torch.bincount(picks, minlength=4).double() / n
    torch.testing.assert_close(freq, logits.double().softmax(-1), atol=0.01, rtol=0)
    # a pure function of (seed, step, column): one row computed alone is the same row
    assert torch.equal(gumbel_noise(seeds[5:6], steps[5:6], 4), gumbel_noise(seeds, steps, 4)[5:6])


def test_a_slot_step_never_syncs_with_the_host(padt):
    pipe, images = padt
    dec = ContinuousDecoder(pipe, 3)
    held = [None] * 3
    with torch.inference_mode():
        dec._admit(held, [0, 2], [StreamItem(i, images[i], PROMPTS[i]) for i in (0, 1)])
        for _ in range(3):
            with OpCounter() as c:
                dec.run_step()
            assert c.syncs == 0, dict(c.sync_names)
            assert c.ops > 50
        assert dec.state.step.tolist()[1] == 0  # the empty slot did not advance


def _requests(synth_root, adapter, n):
    reader = open_split("refcoco_val", Task.REC, data_root=synth_root, layout="padt-jsonl")
    task = get_task(Task.REC)
    samples = [s for _, s in zip(range(n), reader)]
    return [s.request(prompt=task.prompt(adapter.prompt_key, s)) for s in samples]


def test_runner_batches_come_back_in_order_with_static_answers(tiny_checkpoint, synth_root):
    streaming = load_padt(str(tiny_checkpoint), max_new_tokens=12)
    static = load_padt(str(tiny_checkpoint), max_new_tokens=12, continuous=False)
    assert streaming.describe()["continuous"] and not static.describe()["continuous"]
    assert not load_padt(str(tiny_checkpoint), max_new_tokens=4, compat=True).pipeline.streams()
    requests = _requests(synth_root, streaming, 7)
    requests[4] = dataclasses.replace(requests[4], prompt=None)
    pre = streaming.preprocessor()
    batches = [requests[0:3], requests[3:6], requests[6:7]]

    def feed():
        for b in batches:
            yield b, [prepare(r, pre, takes_prompt=True) for r in b]

    got = list(predict_prepared(streaming, feed()))
    want = list(predict_prepared(static, feed()))
    assert [r for r, _ in got] == batches
    for (_, ps), (_, qs) in zip(got, want):
        assert [p.sample_id for p in ps] == [q.sample_id for q in qs]
        for p, q in zip(ps, qs):
            assert (p.text, p.parse_status, len(p.objects)) == (q.text, q.parse_status, len(q.objects))
            assert p.meta.get("completion_tokens") == q.meta.get("completion_tokens")
    assert got[1][1][1].parse_status == ParseStatus.ERROR and "no prompt" in got[1][1][1].parse_reason


def test_continuous_slots_run_on_fake_cuda_with_no_host_sync():
    # PaDT-3B's widths (2 text and 2 vision blocks): admission, steps, and a re-admission of
    # a longer prompt into one slot while the others decode (the cache grows there)
    from pathlib import Path

    from padt_eval.models.padt.fake_run import load_config_dict, run_fake_continuous

    raw = load_config_dict(Path(__file__).resolve().parents[2] / "fixtures" / "configs" / "padt_rec_3b.json")
    run = run_fake_continuous(raw, batch=3, text_layers=2, vision_layers=2)
    stages = ["admit", "slot step 1", "slot step 2", "slot step 3", "readmit", "slot step after readmit"]
    assert list(run.mode.stages) == stages
    for stage in stages:
        rep = run.mode.stages[stage]
        assert rep.syncs == [] and rep.mismatches == [] and rep.uploads == [], (stage, [str(e) for e in rep.syncs + rep.uploads])
    assert run.stage_ops["slot step 2"] > 100
    state = run.decoding.state
    heads, kv = raw["num_attention_heads"], raw["num_key_value_heads"]
    assert tuple(state.cache.keys[0].shape) == (3, kv, run.cache_length, raw["hidden_size"] // heads)
    # grown for the re-admitted prompt (98 tokens longer than the first batch's widest row):
    # its length + 128 new tokens + the scratch column, in buckets of 128
    first, second = run.prompt_length, run.prompt_length + 98
    assert run.cache_length == -(-(second + 129) // 128) * 128 > -(-(first + 129) // 128) * 128


@pytest.mark.slow
def test_compiled_slot_step_gives_the_batch1_answers(padt, monkeypatch):
    # aot_eager: dynamo captures the whole slot step (fullgraph) without a C++ build
    from padt_eval.models.padt import generation

    monkeypatch.setattr(generation, "COMPILE_BACKEND", "aot_eager")
    pipe, images = padt
    monkeypatch.setattr(pipe, "compile_step", True)
    streamed = _stream(pipe, images, [4, 0, 2, 6, 1, 3, 5], 3, check_every=4)
    assert pipe.last_stream.run_step is not pipe.last_stream.step  # the compiled callable ran
    single = _batch1(pipe, images)
    for i in range(7):
        _assert_same_answer(single[i], streamed[i])
