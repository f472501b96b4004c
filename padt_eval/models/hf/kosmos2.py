"""Kosmos-2 through transformers' `Kosmos2ForConditionalGeneration`.

Kosmos-2 has no chat template: its REC prompt `<grounding><phrase>{expr}</phrase>` is a
text the model continues (unilm's refcoco evaluation), and its grounded caption starts
from `<grounding>An image of`. The prompt is kept in front of the generated text (`echo`),
so the stored answer reads as Kosmos-2's own output does
(`<grounding><phrase>the man</phrase><object><patch_index_…>…</object>`) and the phrase
labels its box. Confidence covers generated tokens only.

Generation runs one sample at a time: transformers' Kosmos-2 recomputes the position of
each generated token from the cache length, left padding included (it drops the
`position_ids` generate would pass), so in a left-padded batch a padded row's new tokens
sit at shifted positions and greedy output changes with the batch. Kosmos-2 is small;
exactness wins over batching.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core.types import ModelRequest
from padt_eval.models.hf.adapter import HFTextBoxAdapter


class Kosmos2Adapter(HFTextBoxAdapter):
    def __init__(self, model: Any, processor: Any, **kwargs: Any) -> None:
        super().__init__(model, processor, **kwargs)
        self.tokenizer.padding_side = "left"

    def chat_text(self, req: ModelRequest) -> str:
        return req.prompt or ""

    def echo(self, req: ModelRequest) -> str:
        return req.prompt or ""

    def generate(self, task, texts, images, requests):
        gens = []
        for text, image, req in zip(texts, images, requests):
            g, _ = super().generate(task, [text], [image], [req])
            gens += g
        return gens, None

    def encode(self, texts, images, requests):
        n = int(self.model.config.latent_query_num)
        return self.processor(text=texts, images=images, padding=True, num_image_tokens=n, return_tensors="pt")

    def processor_settings(self) -> dict[str, Any]:
        ip = self.processor.image_processor
        return {
            "image_processor": type(ip).__name__,
            "size": dict(ip.size) if getattr(ip, "size", None) else None,
            "latent_query_num": int(self.model.config.latent_query_num),
        }
