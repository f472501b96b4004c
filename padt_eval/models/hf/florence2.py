"""Florence-2 through transformers' native `Florence2ForConditionalGeneration` (`florence-community/Florence-2-*`).

Florence-2 is prompted with task tokens, which its processor expands into instructions
(`<OD>` → "Locate the objects with category name in the image."). It is an
encoder-decoder, so the generated text is the decoder output alone. RES uses
`<REFERRING_EXPRESSION_SEGMENTATION>`, whose polygons become a mask. RIC is Florence-2's
documented cascade: `<DETAILED_CAPTION>` writes the caption, then
`<CAPTION_TO_PHRASE_GROUNDING>` grounds that caption's phrases; the caption of the first
stage is the RIC caption, the grounded phrases of the second its objects.
The original `microsoft/Florence-2-*` repositories need remote code and are refused.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core.caption_text import clean_caption
from padt_eval.core.types import ModelRequest, ParseStatus, Prediction, Task
from padt_eval.models.hf.adapter import HFTextBoxAdapter

GROUND = "<CAPTION_TO_PHRASE_GROUNDING>"


class Florence2Adapter(HFTextBoxAdapter):
    def chat_text(self, req: ModelRequest) -> str:
        return req.prompt or ""

    def run_batch(self, task: Task, requests: list[ModelRequest], images: list[Any]) -> list[Prediction]:
        if task != Task.RIC:
            return super().run_batch(task, requests, images)
        first, _ = self.generate(task, [self.chat_text(r) for r in requests], images, requests)
        captions = [clean_caption(g.text) for g in first]
        grounded = super().run_batch(task, [_with_prompt(r, GROUND + c) for r, c in zip(requests, captions)], images)
        for pred, caption, gen in zip(grounded, captions, first):
            pred.meta.update(caption=caption, caption_stage_text=gen.text, caption_stage_stopped=gen.stopped)
            if caption and pred.parse_status == ParseStatus.FAILED:
                pred.parse_status = ParseStatus.OK
        return grounded

    def processor_settings(self) -> dict[str, Any]:
        ip = self.processor.image_processor
        return {
            "image_processor": type(ip).__name__,
            "size": dict(ip.size) if getattr(ip, "size", None) else None,
            "image_seq_length": getattr(self.processor, "num_image_tokens", None),
        }


def _with_prompt(req: ModelRequest, prompt: str) -> ModelRequest:
    from dataclasses import replace

    return replace(req, prompt=prompt)
