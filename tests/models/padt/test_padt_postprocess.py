"""The batch's masks are thresholded together and copied once: same RLEs as one at a time."""

from __future__ import annotations

import torch

from padt_eval.core import rle
from padt_eval.models.padt.postprocess import mask_rle, masks_rle


def test_masks_of_a_batch_equal_the_masks_one_by_one():
    g = torch.Generator().manual_seed(0)
    probs = [torch.rand((h, w), generator=g) for h, w in ((5, 7), (1, 1), (13, 4), (8, 8))]
    probs.append(torch.full((3, 6), 0.5))  # exactly 0.5 is background
    together = masks_rle(probs)
    assert together == [mask_rle(p) for p in probs]
    for p, r in zip(probs, together):
        assert (rle.decode(r).astype(bool) == (p > 0.5).numpy()).all()
    assert masks_rle([]) == []
