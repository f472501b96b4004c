"""The vision tower's batched attention (one SDPA call per block) equals the stock blocks
(one call per window) within float rounding."""

from __future__ import annotations

import torch
from test_padt_decode_step import _images

from padt_eval.models.padt.adapter import load_padt
from padt_eval.models.padt.vision import vision_forward
from padt_eval.testing.op_counter import OpCounter


def _sdpa_calls(counter: OpCounter) -> int:
    return sum(
        n
        for name, n in counter.by_name.items()
        if name.startswith("_scaled_dot_product") or name == "scaled_dot_product_attention"
    )


def test_batched_vision_attention_equals_the_stock_blocks(tiny_checkpoint):
    pipe = load_padt(str(tiny_checkpoint)).pipeline
    images = [pipe.processor.prepare_image(im) for im in _images(4)]  # four sizes: ragged windows and images
    inputs = pipe.processor.batch(images, ["a"] * 4)
    visual = pipe.model.visual
    with torch.inference_mode():
        with OpCounter() as stock_ops:
            stock = vision_forward(visual, inputs.pixel_values, inputs.image_grid_thw, batched_attention=False)
        with OpCounter() as ours_ops:
            ours = vision_forward(visual, inputs.pixel_values, inputs.image_grid_thw)
    for name in ("merged", "high_res", "cos", "sin"):
        torch.testing.assert_close(getattr(ours, name), getattr(stock, name), rtol=1e-5, atol=1e-5)
    assert torch.equal(ours.window_index, stock.window_index)
    depth = len(visual.blocks)
    assert _sdpa_calls(ours_ops) == depth < _sdpa_calls(stock_ops)
