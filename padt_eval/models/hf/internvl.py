"""InternVL2.5 / InternVL3 through transformers' native `InternVLForConditionalGeneration` (the `-hf` checkpoints).

The image is tiled by the processor (448-px crops plus a thumbnail); boxes are 0-1000 of
the whole image, so tiling does not enter the frame. The original `OpenGVLab/InternVL3-*`
repositories need remote code and are refused (use the `-hf` ones, or score their output
with `--format internvl`).
"""

from __future__ import annotations

from typing import Any

from padt_eval.models.hf.adapter import HFTextBoxAdapter


class InternVLAdapter(HFTextBoxAdapter):
    def __init__(self, model: Any, processor: Any, **kwargs: Any) -> None:
        super().__init__(model, processor, **kwargs)
        self.tokenizer.padding_side = "left"

    def encode(self, texts, images, requests):
        return self.processor(text=texts, images=images, padding=True, padding_side="left", return_tensors="pt")

    def processor_settings(self) -> dict[str, Any]:
        ip = self.processor.image_processor
        return {
            "image_processor": type(ip).__name__,
            "tile_size": dict(ip.size) if getattr(ip, "size", None) is not None else None,
            "crop_to_patches": getattr(ip, "crop_to_patches", None),
            "max_patches": getattr(ip, "max_patches", None),
            "image_seq_length": getattr(self.processor, "image_seq_length", None),
        }
