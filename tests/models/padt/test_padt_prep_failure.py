"""A PaDT run whose image preprocessing raises something other than the errors an image
usually raises (DataError, ValueError, OSError: the three the adapter once caught itself)
records that sample as an ERROR with its reason and goes on: the runner's data side is the
one place where a preprocessing failure becomes a prediction (runner/prepare.py)."""

from __future__ import annotations

import json

from padt_eval import api
from padt_eval.core.types import ParseStatus, Prediction, Task
from padt_eval.models.padt import processor
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
from padt_eval.results.run_folder import RunFolder


class ResamplerCrashed(RuntimeError):
    """Not a DataError, ValueError or OSError."""


def test_an_unexpected_preprocessing_error_is_that_samples_error_and_the_run_goes_on(
    synth_root, tiny_checkpoint, tmp_path, monkeypatch
):
    real = processor.prepare_image
    broken_size = []

    def prepare_image(image_processor, image):
        if not broken_size:
            broken_size.append(image.size)  # the first image the run prepares: its samples fail
        if image.size == broken_size[0]:
            raise ResamplerCrashed(f"resampler crashed on a {image.size[0]}x{image.size[1]} image")
        return real(image_processor, image)

    monkeypatch.setattr(processor, "prepare_image", prepare_image)
    out = tmp_path / "run"
    result = api.run_model(
        Task.REC,
        "refcoco_val",
        ModelOptions(str(tiny_checkpoint), "padt", {"max_new_tokens": 4}),
        data=DataOptions(data_root=synth_root),
        run=RunOptions(1, batch_size=4, loader_workers=0),  # the loader in this process, where the patch is
        output=OutputOptions(out, report=False),
    )
    preds = [Prediction.from_json(json.loads(x)) for x in RunFolder(out).predictions.read_text().splitlines()]
    failed = [p for p in preds if p.parse_status == ParseStatus.ERROR]
    assert failed and len(failed) < len(preds)  # some samples failed, the rest ran
    w, h = broken_size[0]
    for p in failed:
        assert "could not be prepared: ResamplerCrashed: resampler crashed on a" in p.parse_reason
        assert f"{w}x{h} image" in p.parse_reason and ".png" in p.parse_reason  # names the image file
    assert all(p.parse_status in (ParseStatus.OK, ParseStatus.FAILED) for p in preds if p not in failed)
    assert result.counts["n_samples"] == len(preds)
