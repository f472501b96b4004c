"""Builders shared by tests: random masks, samples and predictions."""

from __future__ import annotations

import numpy as np

from padt_eval.core import rle
from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, ParseStatus, Prediction, Sample, Task


def random_mask(rng: np.random.Generator, h: int, w: int, empty_p: float = 0.05) -> np.ndarray:
    """A union of 1-3 random ellipses, or empty with probability `empty_p`."""
    m = np.zeros((h, w), dtype=bool)
    if rng.random() < empty_p:
        return m
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1, h / 2), rng.uniform(1, w / 2)
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m


def random_box(rng: np.random.Generator, h: int, w: int) -> list[float]:
    """Mostly ordinary boxes, plus zero-area, outside-the-image and reversed (x1 > x2) ones."""
    kind = rng.random()
    x1, x2 = sorted(rng.uniform(-0.2 * w, 1.2 * w, 2))
    y1, y2 = sorted(rng.uniform(-0.2 * h, 1.2 * h, 2))
    if kind < 0.08:
        x2 = x1  # zero width
    elif kind < 0.14:
        x1, x2 = x2, x1  # reversed
    elif kind < 0.20:
        x1, x2 = w + 5.0, w + 50.0  # entirely outside the image
    return [float(x1), float(y1), float(x2), float(y2)]


def sample(sid: str, h: int, w: int, box: list[float], mask: np.ndarray | None, task: Task = Task.REC) -> Sample:
    return Sample(
        sample_id=sid,
        task=task,
        image=ImageRef(path=f"/nonexistent/{sid}.png", width=w, height=h),
        expression=f"object {sid}",
        objects=[GroundTruthObject(bbox=box, mask=rle.encode(mask) if mask is not None else None)],
    )


def prediction(sid: str, objects: list[ObjectPred] | None = None, status: ParseStatus = ParseStatus.OK) -> Prediction:
    return Prediction(sample_id=sid, objects=objects or [], parse_status=status)


def run_colour_finder(split: dict, out, nproc: int = 1, *, options=None, overwrite=False, protocol="standard", loader_workers=0):
    """`api.run_model` of the colour-finder on RES, batch 4 (the runner tests' model run);
    `split`: {"split": name, "data_root": folder}."""
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions, ScoringOptions

    return api.run_model(
        Task.RES,
        split["split"],
        ModelOptions("colour-finder", options=options or {}),
        data=DataOptions(data_root=split["data_root"]),
        run=RunOptions(nproc, batch_size=4, loader_workers=loader_workers, overwrite=overwrite),
        scoring=ScoringOptions(protocol),
        output=OutputOptions(out),
    )
