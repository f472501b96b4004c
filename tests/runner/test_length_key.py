"""The length-aware order's key (runner/length_order.py) on its own: image tokens follow the
Qwen2-VL resize rule of the checkpoint's pixel budget, text tokens the prompt, and a key
that cannot be built leaves the run in size order, saying why."""

from __future__ import annotations

import json

from padt_eval.core.types import ImageRef, Sample, Task
from padt_eval.models.coords.qwen2_5_vl import smart_resize
from padt_eval.options import ModelOptions, RunOptions
from padt_eval.runner.job import RunJob
from padt_eval.runner.length_order import CHARS_PER_TOKEN, plan_order
from padt_eval.runner.plan import assign
from padt_eval.tasks.registry import get_task


def _sample(sid: str, w: int, h: int, expression: str) -> Sample:
    return Sample(sid, Task.REC, ImageRef(f"{sid}.jpg", w, h), expression=expression)


def _job(folder, tmp_path, **run) -> RunJob:
    return RunJob(
        "rec", "split", ModelOptions(str(folder), "qwen2_5_vl"), tmp_path / "run", run=RunOptions(loader_workers=0, **run)
    )


def test_key_is_image_tokens_of_the_budget_plus_prompt_tokens(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"min_pixels": 3136, "max_pixels": 200704, "patch_size": 14, "merge_size": 2})
    )
    length, order = plan_order(_job(folder, tmp_path))
    assert order["length_order"] is True and order["text_tokens_counted_by"].startswith("estimate")
    s = _sample("1", 640, 480, "the man in the red shirt on the left")
    prompt = get_task(Task.REC).prompt(length.prompt_key, s)
    h, w = smart_resize(480, 640, 28, 3136, 200704)
    assert length(s) == (h // 14) * (w // 14) // 4 + -(-len(prompt) // CHARS_PER_TOKEN)
    # -O max_pixels over the checkpoint's budget
    small, _ = plan_order(
        RunJob(
            "rec",
            "split",
            ModelOptions(str(folder), "qwen2_5_vl", {"max_pixels": 50176}),
            tmp_path / "r2",
            run=RunOptions(loader_workers=0),
        )
    )
    h2, w2 = smart_resize(480, 640, 28, 3136, 50176)
    assert length(s) - small(s) == (h // 14) * (w // 14) // 4 - (h2 // 14) * (w2 // 14) // 4 > 0


def test_plan_sorts_by_the_key_then_size_and_deals_round_robin(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    length, _ = plan_order(_job(folder, tmp_path))
    samples = [
        _sample("0", 640, 480, "a very long expression about the man in the red shirt standing on the far left side"),
        _sample("1", 640, 480, "dog"),
        _sample("2", 320, 240, "dog"),
        _sample("3", 640, 480, "the cat on the sofa"),
    ]
    by_length = assign(samples, set(), 1, length)[0]
    assert by_length == sorted(by_length, key=lambda sid: length(samples[int(sid)]))
    assert by_length[0] == "2" and by_length[-1] == "0"
    assert assign(samples, set(), 1)[0] == ["2", "0", "1", "3"]  # size order: pixels, then id
    assert assign(samples, {"1"}, 2, length) == [["2", "0"], ["3"]]


def test_no_length_order_and_an_unreadable_config_keep_the_size_order(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    assert plan_order(_job(folder, tmp_path, length_order=False)) == (
        None,
        {"length_order": False, "key": "image pixels, then sample id"},
    )
    (folder / "preprocessor_config.json").write_text("{not json")
    length, order = plan_order(_job(folder, tmp_path))
    assert length is None and order["length_order"] is False and "JSONDecodeError" in order["why"]
