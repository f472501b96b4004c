"""Length-aware order: the plan's sort key, so that prompts of similar length share a batch.

A batch is padded to its longest prompt, so samples of very different prompt lengths in
one batch compute padding. The key is each sample's prompt length in tokens, estimated
before the model is loaded and without opening an image:

    image tokens   the image's merged patches after the family's own resize rule (Qwen2-VL
                   `smart_resize` to multiples of patch x merge inside [min_pixels,
                   max_pixels]: the checkpoint's preprocessor_config.json or
                   processor_config.json, `-O min_pixels=` / `max_pixels=` over it),
                   from the split's recorded width and height.
                   PaDT and the Qwen-family baselines only; other families resize every
                   image to one size (Florence-2, Kosmos-2) or tile it (InternVL), and
                   count 0 here.
    text tokens    the task's prompt for the family, tokenised by the checkpoint's
                   tokenizer.json when its folder has one, else 1 per 4 characters. The
                   chat template around it is the same for every sample and left out.

Ties keep the size order (pixels, then id). The key changes which samples share a batch,
not an answer: each row of a batch is computed as it would be alone (in float32 the tiny
baselines write identical predictions either way, and PaDT the same text with boxes equal
to 0.01 px: tests/models/test_length_order.py). `--no-length-order` keeps the order by
image size alone.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from padt_eval.core.types import PromptKey, Sample
from padt_eval.runner.job import RunJob

#: Families whose processor is Qwen2-VL's (image tokens from `smart_resize`).
QWEN_STYLE = ("padt", "qwen2_5_vl", "qwen2_vl", "vlm_r1", "qwen3_vl")
CHARS_PER_TOKEN = 4
KEY_NAME = "prompt tokens (image tokens from the size and pixel budget + prompt text tokens)"


class PromptLength:
    """`key(sample) -> int`: the sample's estimated prompt tokens (module doc)."""

    def __init__(self, task, prompt_key: PromptKey | None, family: str, model: str, options: dict[str, Any]) -> None:
        self.task, self.prompt_key = task, prompt_key
        folder = Path(model).expanduser()
        folder = folder if folder.is_dir() else None
        self._image_tokens = _image_tokens_rule(family, folder, options)
        self._text_tokens, self.counted_by = _text_counter(folder)

    def __call__(self, sample: Sample) -> int:
        try:
            prompt = self.task.prompt(self.prompt_key, sample) if self.prompt_key is not None else None
        except Exception:  # noqa: BLE001 — a sample the task cannot prompt errors in its batch, not here
            prompt = None
        text = self._text_tokens(prompt) if prompt else 0
        return text + self._image_tokens(sample.image.width, sample.image.height)

    def describe(self) -> dict[str, Any]:
        return {"key": KEY_NAME, "text_tokens_counted_by": self.counted_by}


def _image_tokens_rule(family: str, folder: Path | None, options: dict[str, Any]) -> Callable[[int, int], int]:
    if family not in QWEN_STYLE:
        return lambda w, h: 0
    from padt_eval.models.coords.qwen2_5_vl import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, smart_resize

    proc = _image_processor_config(folder)
    size = proc.get("size") or {}
    patch = int(proc.get("patch_size") or 14)
    merge = int(proc.get("merge_size") or 2)
    lo = int(options.get("min_pixels") or proc.get("min_pixels") or size.get("shortest_edge") or DEFAULT_MIN_PIXELS)
    hi = int(options.get("max_pixels") or proc.get("max_pixels") or size.get("longest_edge") or DEFAULT_MAX_PIXELS)

    def tokens(width: int, height: int) -> int:
        try:
            h, w = smart_resize(height, width, patch * merge, lo, hi)
        except ValueError:  # an aspect ratio the processor refuses: that sample errors anyway
            return 0
        return (h // patch) * (w // patch) // merge**2

    return tokens


def _image_processor_config(folder: Path | None) -> dict[str, Any]:
    """The checkpoint's image processor settings: preprocessor_config.json (the released
    checkpoints), else the `image_processor` of processor_config.json (transformers 5
    saves them there); {} without either (the family's defaults apply)."""
    if folder is None:
        return {}
    if (folder / "preprocessor_config.json").is_file():
        return json.loads((folder / "preprocessor_config.json").read_text(encoding="utf-8"))
    if (folder / "processor_config.json").is_file():
        doc = json.loads((folder / "processor_config.json").read_text(encoding="utf-8"))
        return dict(doc.get("image_processor") or {})
    return {}


def _text_counter(folder: Path | None) -> tuple[Callable[[str], int], str]:
    if folder is not None and (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))

        @functools.lru_cache(maxsize=4096)  # OVD and RIC prompts repeat: one encode each
        def count(text: str) -> int:
            return len(tok.encode(text, add_special_tokens=False).ids)

        return count, "checkpoint tokenizer"
    return (lambda text: math.ceil(len(text) / CHARS_PER_TOKEN)), f"estimate ({CHARS_PER_TOKEN} characters a token)"


SIZE_ORDER = "image pixels, then sample id"


def plan_order(job: RunJob) -> tuple[Callable[[Sample], int] | None, dict[str, Any]]:
    """(the length key or None, the order as the plan summary records it) for a run. A
    key that cannot be built (an unreadable preprocessor_config.json ...) costs only the
    ordering: the run goes on in size order, and the summary says why."""
    if not job.run.length_order:
        return None, {"length_order": False, "key": SIZE_ORDER}
    from padt_eval.models.base import prompt_key_of
    from padt_eval.tasks.registry import get_task

    try:
        length = PromptLength(
            get_task(job.task), prompt_key_of(job.family, job.options), job.family, job.model.model, job.options
        )
    except Exception as exc:  # noqa: BLE001 — the order is an optimisation, never a reason to fail
        return None, {"length_order": False, "key": SIZE_ORDER, "why": f"no length key: {type(exc).__name__}: {exc}"}
    return length, {"length_order": True, **length.describe(), "then": SIZE_ORDER}
