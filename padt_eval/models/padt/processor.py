"""Images and prompts -> the model's padded inputs, as the reference's processor call makes them.

* Images go through transformers' PIL-backed `Qwen2VLImageProcessor` (the slow one the
  reference used: PIL bicubic resize to a multiple of 28 within min/max pixels, CLIP
  normalisation, patches emitted in 2x2 merge-block order). It reproduces the fixture's
  `pixel_values` bit for bit. Each image is processed on its own so that one bad image can
  be reported without losing the batch.
* The prompt is the chat template with one image; its single `<|image_pad|>` is expanded
  to the image's M_b merged tokens; ids are left padded with the pad token.
* The tokenizer learns the VRT tokens of the largest image of the call (lazily, as in the
  reference), so `<|VRT_i|>` strings in completions tokenise to local ids E + i.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from padt_eval.core.images import open_rgb

from .tokenizer import PadtTokenizer

IMAGE_PAD = "<|image_pad|>"


@dataclass
class PreparedImage:
    pixel_values: torch.Tensor  # (P, 3*t*14*14)
    grid_thw: tuple[int, int, int]
    size: tuple[int, int]  # original (width, height)


@dataclass
class BatchInputs:
    input_ids: torch.Tensor  # (B, L) local ids (prompts hold no VRTs), left padded
    attention_mask: torch.Tensor  # (B, L)
    pixel_values: torch.Tensor  # (sum P, C)
    image_grid_thw: torch.Tensor  # (B, 3)
    prompt_texts: list[str]
    image_sizes: list[tuple[int, int]]  # original (width, height) per sample
    meta: Any = None  # host_meta.HostMeta: grid-derived indices built on the host (PadtPipeline.prepare)

    def to(self, device) -> BatchInputs:
        """To `device`; on CUDA the pixel values (the one large tensor) go through pinned
        memory with a non-blocking copy, which the vision tower's kernels queue behind.
        The host metadata, when attached, moves with the batch, once."""
        pixels = self.pixel_values
        cuda = torch.device(device).type == "cuda"
        if cuda and pixels.device.type == "cpu":
            pixels = pixels.pin_memory()
        return BatchInputs(
            input_ids=self.input_ids.to(device),
            attention_mask=self.attention_mask.to(device),
            pixel_values=pixels.to(device, non_blocking=cuda),
            image_grid_thw=self.image_grid_thw.to(device),
            prompt_texts=self.prompt_texts,
            image_sizes=self.image_sizes,
            meta=self.meta.to(device) if self.meta is not None else None,
        )


def prepare_image(image_processor, image) -> PreparedImage:
    """Resize and patchify one PIL image (a module-level function so DataLoader workers can run it)."""
    out = image_processor(images=[image], return_tensors="pt")
    t, h, w = (int(v) for v in out["image_grid_thw"][0].tolist())
    return PreparedImage(out["pixel_values"], (t, h, w), tuple(image.size))


class ImagePreparer:
    """The runner's preprocessor for PaDT: opens a request's image and prepares it.

    Holds only the image processor, so it pickles cheaply into DataLoader workers."""

    def __init__(self, image_processor) -> None:
        self.image_processor = image_processor

    def __call__(self, request) -> PreparedImage:
        return prepare_image(self.image_processor, open_rgb(request.image))


class PadtProcessor:
    def __init__(self, tokenizer: PadtTokenizer, image_processor, merge_size: int):
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.merge_size = merge_size

    @classmethod
    def from_folder(cls, folder: str | Path, tokenizer: PadtTokenizer, merge_size: int, **overrides) -> PadtProcessor:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        path = Path(folder) / "preprocessor_config.json"
        cfg: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        cfg = {k: v for k, v in cfg.items() if k not in ("image_processor_type", "processor_class", "auto_map")}
        for key, value in overrides.items():
            if value is not None:
                cfg[key] = value
                if key in ("min_pixels", "max_pixels"):
                    cfg.setdefault("size", {})
                    cfg["size"]["shortest_edge" if key == "min_pixels" else "longest_edge"] = value
        return cls(tokenizer, Qwen2VLImageProcessorPil(**cfg), merge_size)

    @property
    def min_pixels(self) -> int | None:
        return self._pixels("min_pixels", "shortest_edge")

    @property
    def max_pixels(self) -> int | None:
        return self._pixels("max_pixels", "longest_edge")

    def _pixels(self, attr: str, size_key: str) -> int | None:
        # transformers 5 keeps the pixel budget in `size` (shortest_edge = min_pixels,
        # longest_edge = max_pixels); older processors had min_pixels/max_pixels attributes
        value = getattr(self.image_processor, attr, None)
        if value is None:
            size = getattr(self.image_processor, "size", None)
            value = getattr(size, size_key, None) if size is not None else None
        return int(value) if value is not None else None

    def prepare_image(self, image) -> PreparedImage:
        return prepare_image(self.image_processor, image)

    def merged_tokens(self, grid: Sequence[int]) -> int:
        t, h, w = grid
        return t * h * w // self.merge_size**2

    def batch(self, images: Sequence[PreparedImage], prompts: Sequence[str]) -> BatchInputs:
        tok = self.tokenizer
        texts, rows = [], []
        for img, prompt in zip(images, prompts):
            text = tok.render_prompt(prompt)
            if text.count(IMAGE_PAD) != 1:
                raise ValueError(f"chat template produced {text.count(IMAGE_PAD)} image placeholders, expected 1")
            text = text.replace(IMAGE_PAD, IMAGE_PAD * self.merged_tokens(img.grid_thw))
            texts.append(text)
            rows.append(tok.encode(text))
        tok.ensure_vrts(max(self.merged_tokens(i.grid_thw) for i in images))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[b, width - len(r) :] = 1
        return BatchInputs(
            input_ids=ids,
            attention_mask=mask,
            pixel_values=torch.cat([i.pixel_values for i in images], dim=0),
            image_grid_thw=torch.tensor([list(i.grid_thw) for i in images], dtype=torch.long),
            prompt_texts=texts,
            image_sizes=[i.size for i in images],
        )

    def completions(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenise completions (local VRT ids), right padded: (ids, mask)."""
        rows = [self.tokenizer.encode(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[b, : len(r)] = 1
        return ids, mask
