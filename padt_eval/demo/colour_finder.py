"""`colour-finder`: a tiny, deterministic, CPU-only model for the demo and the runner tests.

It is a real model in the only sense the suite cares about: it sees the image and the
question (never the answer) and returns boxes and masks in the canonical frame. It finds
the pixels whose colour is named in the referring expression ("the red circle on the
left") — so it answers the synthetic demo data well, imperfectly when two objects share a
colour, and not at all on real photographs. It needs no weights (`--model colour-finder`).

Its preprocessor reads the image into an array in DataLoader workers, exercising the
runner's prefetch path exactly as a large model's image processor would. Two load options
script its speed for runner tests and benchmarks: `delay_s` (model time per sample) and
`prep_delay_s` (preprocessing time per sample, a slow image decoder).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from padt_eval.core import rle
from padt_eval.core.images import open_rgb
from padt_eval.core.types import ModelRequest, ObjectPred, ParseStatus, Prediction, Task
from padt_eval.demo.synthetic import COLOURS
from padt_eval.models.base import ModelAdapter, ModelFamily, refuse_unknown_options, register_family

NAME = "colour-finder"
_WORD = re.compile(r"[a-z]+")


def load_image_array(request: ModelRequest, delay_s: float = 0.0) -> np.ndarray:
    if delay_s:
        time.sleep(delay_s)
    return np.asarray(open_rgb(request.image))


class ColourFinder(ModelAdapter):
    family = NAME

    def __init__(self, delay_s: float = 0.0, prep_delay_s: float = 0.0) -> None:
        self.delay_s = float(delay_s)
        self.prep_delay_s = float(prep_delay_s)

    def preprocessor(self):
        return functools.partial(load_image_array, delay_s=self.prep_delay_s) if self.prep_delay_s else load_image_array

    def predict(self, requests: Sequence[ModelRequest], prepared: Sequence[Any]) -> list[Prediction]:
        out = []
        # A sample whose image cannot be read is the runner's ERROR (runner/prepare.py) and
        # never reaches here.
        for req, pixels in zip(requests, prepared):
            out.append(self._answer(req, pixels))
            if self.delay_s:
                time.sleep(self.delay_s)
        return out

    def _answer(self, req: ModelRequest, pixels: np.ndarray) -> Prediction:
        words = _WORD.findall((req.expression or "").lower())
        colour = next((w for w in words if w in COLOURS), None)
        if colour is None:
            return Prediction(req.sample_id, text="no colour named", parse_status=ParseStatus.OK)
        mask = np.all(pixels == np.array(COLOURS[colour], dtype=pixels.dtype), axis=-1)
        if not mask.any():
            return Prediction(req.sample_id, text=f"no {colour} pixels", parse_status=ParseStatus.OK)
        ys, xs = np.nonzero(mask)
        box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
        obj = ObjectPred(bbox=box, score=float(mask.mean()), label=colour)
        if req.task in (Task.RES, Task.GRES, Task.OVD, Task.RIC):
            obj.mask = rle.encode(mask)
        return Prediction(req.sample_id, text=f"the {colour} object", objects=[obj], parse_status=ParseStatus.OK)

    def describe(self) -> dict[str, Any]:
        return {
            "family": NAME,
            "name": NAME,
            "delay_s": self.delay_s,
            **({"prep_delay_s": self.prep_delay_s} if self.prep_delay_s else {}),
        }


def _load(model: str, *, device: str = "cpu", delay_s: float = 0.0, prep_delay_s: float = 0.0, **_ignored: Any) -> ColourFinder:
    return ColourFinder(delay_s=delay_s, prep_delay_s=prep_delay_s)


register_family(
    ModelFamily(
        name=NAME,
        description="demo/test model: finds the colour named in the expression (synthetic data only)",
        coordinate_frame="original-image pixels (computed from the image)",
        output_format="boxes and masks directly (no text to parse)",
        loader=_load,
        requirements=("numpy",),
        detect=lambda config, model: model == NAME,
        check_options=lambda options: refuse_unknown_options(NAME, options, ("delay_s", "prep_delay_s")),
    )
)
