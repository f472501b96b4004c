"""Qwen2.5-VL (and VLM-R1 checkpoints), Qwen2-VL and Qwen3-VL through transformers.

All four share the Qwen chat template and processor shape; they differ in box syntax and
frame (see `models/coords`). Qwen2.5-VL and VLM-R1 answer in pixels of the resized input,
so their frame is read from the processor's actual grid: w' = grid_w · patch_size,
h' = grid_h · patch_size (the cookbook's and VLM-R1's own rule), never recomputed.
`--min-pixels/--max-pixels` are passed to the processor and recorded in the manifest.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core.types import ModelRequest
from padt_eval.models.coords import Frame
from padt_eval.models.coords.qwen2_5_vl import smart_resize
from padt_eval.models.hf.adapter import HFTextBoxAdapter


class QwenAdapter(HFTextBoxAdapter):
    """Chat template + image processor with a dynamic resize; left padding. Qwen2-VL and
    Qwen3-VL as they are (their boxes are relative 0-1000: the frame is the image)."""

    def __init__(self, model: Any, processor: Any, **kwargs: Any) -> None:
        super().__init__(model, processor, **kwargs)
        self.tokenizer.padding_side = "left"

    def processor_settings(self) -> dict[str, Any]:
        ip = self.processor.image_processor
        size = getattr(ip, "size", None) or {}
        get = size.get if isinstance(size, dict) else (lambda k: getattr(size, k, None))
        return {
            "image_processor": type(ip).__name__,
            "min_pixels": get("shortest_edge"),
            "max_pixels": get("longest_edge"),
            "patch_size": getattr(ip, "patch_size", None),
            "merge_size": getattr(ip, "merge_size", None),
            "chat_template_sha256": _sha(self.processor.chat_template),
        }

    def frame_inputs(self, requests: list[ModelRequest], limits: dict[str, Any]) -> dict:
        """The processor's `image_grid_thw`, computed without running it: the same resize
        rule (`smart_resize`) with the limits the backend gave its processor, else ours."""
        ip = getattr(self.processor, "image_processor", None)
        patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
        if not patch or not merge:
            return {}
        settings = self.processor_settings()
        lo = limits.get("min_pixels") or settings.get("min_pixels")
        hi = limits.get("max_pixels") or settings.get("max_pixels")
        grid = []
        for r in requests:
            h, w = smart_resize(r.image.height, r.image.width, factor=patch * merge, min_pixels=lo, max_pixels=hi)
            grid.append((1, h // patch, w // patch))
        return {"image_grid_thw": grid}


class Qwen25VLAdapter(QwenAdapter):
    """Qwen2.5-VL and VLM-R1: boxes in pixels of the resized input, read from the grid."""

    def frame(self, i: int, req: ModelRequest, inputs: dict) -> Frame:
        _, gh, gw = (int(v) for v in inputs["image_grid_thw"][i])
        patch = int(self.processor.image_processor.patch_size)
        return Frame(req.image.width, req.image.height, gw * patch, gh * patch)


def _sha(text: str | None) -> str | None:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] if text else None
