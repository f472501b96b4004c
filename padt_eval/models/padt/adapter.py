"""`PadtAdapter`: PaDT behind padt-eval's model interface, and the `load_padt` factory.

Each `predict` call is one batched model call (left padded, one image per sample), so the
runner's `-b N` is the batch that runs; an explicit `batch_size` load option splits it further.
A sample whose image cannot be opened or preprocessed never gets here: the runner makes it
an ERROR with the reason (runner/prepare.py); the other samples run normally. A completion that
cannot be read gets `ParseStatus.FAILED` with the parser's reason (see `parsing`).

Deliberate differences from the reference evaluation script (all modes):
* images smaller than 28 px are left to the image processor's own resize (the script
  upscaled them first and then reported boxes in the *upscaled* image's pixels); boxes are
  always in the original image's pixels;
* an unreadable image or a failing sample is reported per sample instead of stopping the run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from padt_eval.core.answer_cost import cost_meta
from padt_eval.core.types import ModelRequest, ParseStatus, Prediction, PromptKey
from padt_eval.models.base import ModelAdapter

from . import IMPLEMENTATION_VERSION
from .processor import ImagePreparer

_STRIP = ("<|endoftext|>", "<|im_end|>")


class PadtAdapter(ModelAdapter):
    family = "padt"
    prompt_key = PromptKey("padt")  # tasks.prompts.PADT_PROMPTS

    def __init__(self, *, pipeline, resolved, dtype: str, device: str, attn: str, batch_size: int | None = None, notes=()):
        self.pipeline = pipeline
        self.resolved = resolved
        self.dtype = dtype
        self.device = device
        self.attn = attn
        self.batch_size = max(1, int(batch_size)) if batch_size else None  # None: the batch as given
        self.notes = list(notes)
        self._weights_sha256: dict[str, str] | None = None
        self.weight_stats: dict[str, Any] | None = None  # load_padt: do the weights look untrained?

    @property
    def compat(self) -> bool:
        return self.pipeline.compat

    # -- ModelAdapter ----------------------------------------------------------------------
    def preprocessor(self) -> ImagePreparer:
        return ImagePreparer(self.pipeline.processor.image_processor)

    def predict(self, requests: Sequence[ModelRequest], prepared: Sequence[Any]) -> list[Prediction]:
        """`prepared[i]`: `preprocessor()`'s image for `requests[i]`, prepared by the runner's
        DataLoader workers (a sample that cannot be prepared, or has no prompt, never gets
        here: runner/prepare.py)."""
        out: list[Prediction | None] = [None] * len(requests)
        ready = [(i, image, req.prompt) for i, (req, image) in enumerate(zip(requests, prepared))]
        size = self.batch_size or max(1, len(ready))
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            t0 = time.perf_counter()
            run = self.pipeline.run([c[1] for c in chunk], [c[2] for c in chunk])
            seconds = (time.perf_counter() - t0) / len(chunk)
            for b, (i, _, _) in enumerate(chunk):
                out[i] = self._prediction(requests[i].sample_id, run, b, seconds)
        return [p for p in out if p is not None]

    def predict_stream(self, batches):
        """Continuous batching across the runner's batches (`stream`); compat mode and
        `continuous=false` run them as static batches through `predict`."""
        if not self.pipeline.streams():
            yield from super().predict_stream(batches)
            return
        from .stream import stream_predictions

        yield from stream_predictions(self, batches)

    def _prediction(self, sample_id: str, run, b: int, seconds: float) -> Prediction:
        parse = run.parses[b]
        gen = run.generation
        text = parse.text
        for marker in _STRIP:
            text = text.replace(marker, "")
        post = run.objects[b]
        # the batch's host copies (pipeline.run) when there; else read from the device
        finished = run.finished_rows[b] if run.finished_rows is not None else bool(gen.finished[b]) if gen is not None else True
        grid = run.encoded.grids[b] if run.encoded.grids is not None else run.inputs.image_grid_thw[b].tolist()
        t, h, w = (int(v) for v in grid)
        tokens = run.prompt_tokens[b] if run.prompt_tokens is not None else int(run.inputs.attention_mask[b].sum())
        completion = run.completion_rows[b] if run.completion_rows is not None else run.completion_ids[b].tolist()
        patch = self.pipeline.processor.image_processor.patch_size
        merge = self.pipeline.processor.merge_size
        meta: dict[str, Any] = {
            # an unfinished row ran every one of max_new_tokens steps (answer_cost.py)
            **cost_meta(tokens, _completion_length(completion, self.pipeline.settings.eos_token_ids), hit_max=not finished),
            "generated_steps": int(run.completion_ids.shape[1]),
            "image_grid_thw": [t, h, w],
            "resized_wh": [w * patch, h * patch],
            "finished": finished,
            "truncated": parse.truncated,
            "vrt_per_object": [len(o.vrt_ids) for o in parse.objects],
            # which merged image patch each object's VRTs point at (row-major index in the
            # vrt_grid_hw grid laid over the whole image): the diff report draws them
            "vrt_patches": [[int(i) for i in o.vrt_ids] for o in parse.objects],
            "vrt_grid_hw": [h // merge, w // merge],
            "parser": "reference-compat" if self.compat else "default",
            "seconds": round(seconds, 6),
        }
        if self.compat:
            meta["compat_xywh"] = [p.compat_xywh for p in post]
        return Prediction(
            sample_id=sample_id,
            text=text,
            objects=[p.pred for p in post],
            parse_status=ParseStatus.OK if parse.ok else ParseStatus.FAILED,
            parse_reason=parse.reason,
            meta=meta,
        )

    def describe(self) -> dict[str, Any]:
        from padt_eval.core.fileio import cached_sha256

        if self._weights_sha256 is None:
            self._weights_sha256 = {f.name: cached_sha256(f) for f in self.resolved.weight_files}
        proc = self.pipeline.processor
        return {
            "family": self.family,
            "prompt_key": str(self.prompt_key),
            "model": self.resolved.model_id,
            "path": str(self.resolved.folder),
            "revision": self.resolved.revision,
            "weights_sha256": self._weights_sha256,
            "dtype": self.dtype,
            "device": self.device,
            "attn": self.attn,
            "generation": self.pipeline.settings.to_json(),
            "min_pixels": proc.min_pixels,
            "max_pixels": proc.max_pixels,
            **({"batch_size": self.batch_size} if self.batch_size else {}),  # else the runner records its -b
            "compat": self.compat,
            "compile": self.pipeline.compile_step,
            "continuous": self.pipeline.streams(),  # continuous batching (False: static batches)
            "implementation": IMPLEMENTATION_VERSION,
            "load_notes": self.notes,
            **({"weight_stats": self.weight_stats} if self.weight_stats is not None else {}),
        }

    def close(self) -> None:
        import gc

        import torch

        self.pipeline = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _completion_length(ids: list[int], eos_ids: list[int]) -> int:
    """Generated tokens up to and including the first eos id (all of them when none)."""
    eos = set(eos_ids)
    for i, t in enumerate(ids):
        if t in eos:
            return i + 1
    return len(ids)


def load_padt(
    model: str,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    attn: str = "sdpa",
    compat: bool = False,
    max_new_tokens: int = 1024,
    batch_size: int | None = None,
    revision: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    repetition_penalty: float | None = None,
    compile: bool = False,
    continuous: bool = True,
) -> PadtAdapter:
    """Load a PaDT checkpoint (folder or hub id) as a `PadtAdapter`.

    Generation is greedy with the checkpoint's generation_config (repetition penalty, eos,
    pad) as the reference evaluation runs it; `repetition_penalty` overrides the file.
    `compat=True` reproduces the reference's parser and box rounding exactly.
    `compile=True` runs the decode step through `torch.compile(fullgraph=True)` (greedy
    decoding only; same tokens). `continuous=False` keeps static batches (compat always does).
    """
    from padt_eval.models.weight_stats import initializer_range_of, weight_stats

    from .checkpoint import build_model, resolve
    from .generation import GenerationSettings
    from .pipeline import PadtPipeline
    from .processor import PadtProcessor
    from .tokenizer import PadtTokenizer

    resolved = resolve(model, revision=revision)
    net, notes = build_model(resolved, dtype=dtype, device=device, attn=attn)
    tokenizer = PadtTokenizer.from_folder(resolved.folder)
    processor = PadtProcessor.from_folder(
        resolved.folder, tokenizer, net.cfg.merge_size, min_pixels=min_pixels, max_pixels=max_pixels
    )
    settings = GenerationSettings.from_checkpoint(
        resolved.folder, max_new_tokens=max_new_tokens, repetition_penalty=repetition_penalty
    )
    if settings.pad_token_id is None:
        settings.pad_token_id = tokenizer.pad_id
    if not settings.eos_token_ids:
        settings.eos_token_ids = [tokenizer.eos_id]
    pipeline = PadtPipeline(net, processor, settings, compat=compat)
    pipeline.compile_step = bool(compile)
    pipeline.continuous = bool(continuous)
    adapter = PadtAdapter(
        pipeline=pipeline, resolved=resolved, dtype=dtype, device=device, attn=attn, batch_size=batch_size, notes=notes
    )
    adapter.weight_stats = weight_stats(net, initializer_range_of(net.cfg.raw))
    return adapter
