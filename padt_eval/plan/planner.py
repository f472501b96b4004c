"""`plan(...)`: a model's memory and decode-step floor on a card, from config.json alone.

The model is built on fake CUDA in the run's dtype and one batch runs through the
adapter's path (`padt_path` for PaDT, `hf_path` for the Qwen-family baselines) under a
`MemoryTracker`. The result: the peak split into parts, the KV cache, the bytes a decode
step reads and their time at the card's bandwidth, each stage's status, the host syncs and
device mismatches of a decode step, and the largest batch that fits the card.

Largest batch: peak memory is affine in the batch size for a fixed image and prompt (every
activation, cache and buffer has the batch as one dimension; the weights do not), so two
measured batches give the line `peak(b) = fixed + per_sample * b`; the largest b under
the card's usable memory (`cards.usable_bytes`) is then measured too, and while it does
not fit (or b + 1 fits) the line is refitted through the nearest measured points.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task

from .cards import Card, usable_bytes
from .shapes import OBJECTS, TYPICAL_IMAGE, VRTS_PER_OBJECT, BatchShape, count_tokens, image_grid, prompt_text
from .tracker import MemoryTracker

QWEN_FAMILIES = ("qwen2_5_vl", "qwen2_vl", "vlm_r1")
PLANNABLE = ("padt", *QWEN_FAMILIES)
MAX_BATCH = 1024
SCHEMA_VERSION = 1


@dataclass
class Measured:
    batch: int
    peak_bytes: int
    peak_phase: str
    parts: dict[str, int]  # the peak split by part
    phase_peaks: dict[str, int]
    kv_bytes: int
    kv_positions: int
    decode_read_bytes: int
    decode_read_parts: dict[str, int]
    stages: list[dict[str, Any]]
    decode_errors: list[dict[str, str]]


@dataclass
class Plan:
    model: str
    family: str
    task: str
    dtype: str
    card: dict[str, Any]
    shape: dict[str, Any]
    batch: int
    batch_requested: str  # the -b given: a number or "auto"
    weights_bytes: int
    parameters: int
    measured: Measured
    at_largest: Measured | None  # the same path measured at the largest batch
    usable_bytes: int
    fits: bool
    largest_batch: int
    largest_batch_method: str
    floor_ms_per_step: float | None
    seconds: float
    notes: list[str] = field(default_factory=list)
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- the model's files ------------------------------------------------------------------------
def model_files(model: str) -> tuple[dict, Path | None]:
    """(config.json dict, folder or None) of a folder, a config.json path, or a cached hub id."""
    from padt_eval.models.loading import read_config

    path = Path(model).expanduser()
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8")), path.parent
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: not a JSON config ({exc})") from None
    config = read_config(model)
    if config is None:
        raise UsageError(
            f"{model!r}: no config.json in the folder or in the local Hugging Face cache; the plan reads it offline "
            f"(huggingface-cli download {model} config.json preprocessor_config.json)"
        )
    if path.is_dir():
        return config, path
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        return config, Path(cached).parent if isinstance(cached, str) else None
    except Exception:  # noqa: BLE001
        return config, None


def pixel_budget(folder: Path | None, family: str) -> tuple[dict, str]:
    from padt_eval.models.released_files import preprocessor_config

    if folder is not None and (folder / "preprocessor_config.json").is_file():
        return json.loads((folder / "preprocessor_config.json").read_text(encoding="utf-8")), "checkpoint"
    released = "qwen2_vl" if family == "qwen2_vl" else "qwen2_5_vl"
    return preprocessor_config(released), f"released {released} processor"


def batch_shape(
    config: dict, folder: Path | None, family: str, task: Task, batch: int, max_new_tokens: int, image_wh: tuple[int, int] | None
) -> tuple[BatchShape, list[str]]:
    from padt_eval.models.base import prompt_key_of

    notes = []
    # PaDT: the released budget, the one the harness's run resizes with (models/padt/fake_run.py)
    proc, source = pixel_budget(folder if family != "padt" else None, family)
    vision = config.get("vision_config", {})
    patch = int(proc.get("patch_size", vision.get("patch_size", 14)))
    merge = int(proc.get("merge_size", vision.get("spatial_merge_size", 2)))
    size = proc.get("size") or {}
    lo = int(proc.get("min_pixels") or size.get("shortest_edge") or 3136)
    hi = int(proc.get("max_pixels") or size.get("longest_edge") or 12845056)
    w, h = image_wh or TYPICAL_IMAGE[task]
    grid = image_grid(w, h, patch, merge, int(proc.get("temporal_patch_size", 2)), lo, hi)
    notes.append(f"image {w}x{h} -> {grid[2] * patch}x{grid[1] * patch} px ({source}: pixels {lo}..{hi})")
    template = _chat(family, prompt_text(task, prompt_key_of(family)))
    text_tokens, how = count_tokens(template, folder)
    objects = OBJECTS[task]
    return BatchShape(batch, (w, h), grid, merge, text_tokens, how, max_new_tokens, objects, VRTS_PER_OBJECT, patch), notes


def _chat(family: str, prompt: str) -> str:
    """The Qwen2-VL chat template around one image and the prompt (PaDT uses the same one)."""
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    return system + "<|im_start|>user\n<|vision_start|><|vision_end|>" + prompt + "<|im_end|>\n<|im_start|>assistant\n"


# -- running the path -------------------------------------------------------------------------
class Session:
    """`measure(b)`: one batch of b through the family's path on the harness's fake CUDA.

    PaDT: `models.padt.fake_run.run_fake_padt` (it builds the model each time, seconds at
    released sizes); the Qwen baselines: the model built once, `hf_path.run_hf` per batch."""

    def __init__(self, config: dict, family: str, dtype: str, shape: BatchShape, steps: int = 2):
        self.config, self.family, self.dtype, self.shape, self.steps = config, family, dtype, shape, steps
        self.cache: dict[int, Measured] = {}
        self.parameters = 0
        self.weights_bytes = 0
        self.mode = self.model = None
        if family != "padt":
            from padt_eval.models.fake_device import FakeCuda

            from .hf_path import build_hf

            self.mode = FakeCuda()
            self._observer = None
            self.mode.observers.append(self._observe)
            self.model = build_hf(config, family, dtype, self.mode)
            self._set_weights(self.model)

    def _set_weights(self, model) -> None:
        params = list(model.parameters())
        self.parameters = sum(p.numel() for p in params)
        self.weights_bytes = sum(p.numel() * p.element_size() for p in params)

    def _observe(self, *args) -> None:
        if self._observer is not None:
            self._observer.observe(*args)

    def close(self) -> None:
        self.model = self.mode = None

    def measure(self, batch: int) -> Measured:
        import torch

        if batch in self.cache:
            return self.cache[batch]
        shape = self.shape.with_batch(batch)
        tracker = MemoryTracker(phase="setup")
        if self.family == "padt":
            from .padt_path import run_padt

            run = run_padt(self.config, shape, tracker, dtype=self.dtype, steps=self.steps)
            self.parameters = run.parameters or self.parameters
            self.weights_bytes = self.parameters * torch.empty((), dtype=_torch_dtype(self.dtype)).element_size()
        else:
            from .fake import FusedAttention
            from .hf_path import run_hf

            tracker.mark("weights", *self.model.parameters())
            tracker.mark("buffers", *self.model.buffers())
            self._observer = tracker
            try:
                with self.mode, torch.no_grad(), FusedAttention():
                    run = run_hf(self.model, shape, tracker, self.mode)
            finally:
                self._observer = None
        reads = tracker.read_split()
        m = Measured(
            batch=batch,
            peak_bytes=tracker.peak,
            peak_phase=tracker.peak_phase,
            parts=tracker.peak_split(),
            phase_peaks=dict(tracker.phase_peak),
            kv_bytes=run.kv_bytes,
            kv_positions=run.kv_positions,
            decode_read_bytes=sum(reads.values()),
            decode_read_parts=reads,
            stages=[asdict(s) for s in run.stages],
            decode_errors=[
                {"stage": s.name, "error": s.error} for s in run.stages if s.name.startswith("decode") and s.status == "failed"
            ],
        )
        self.cache[batch] = m
        return m


def _torch_dtype(name: str):
    from padt_eval.models.padt.checkpoint import torch_dtype

    return torch_dtype(name)


def largest_batch(measure, usable: int, first: Measured, probe: int) -> tuple[int, str]:
    """The largest b with peak(b) <= usable, from the affine fit (see the module docstring)."""
    points = {first.batch: first.peak_bytes}
    other = probe if probe != first.batch else max(1, first.batch // 2) if first.batch > 1 else 2
    points[other] = measure(other).peak_bytes
    tried = []
    for _ in range(6):
        (b1, p1), (b2, p2) = sorted(points.items(), key=lambda kv: abs(kv[1] - usable))[:2]
        slope = (p2 - p1) / (b2 - b1) if b2 != b1 else 0
        if slope <= 0:
            return MAX_BATCH, f"peak does not grow with the batch; capped at {MAX_BATCH}"
        guess = int((usable - (p1 - slope * b1)) // slope)
        guess = max(0, min(MAX_BATCH, guess))
        tried.append(guess)
        if guess == 0:
            if 1 not in points:
                points[1] = measure(1).peak_bytes
            if points[1] > usable:
                return 0, "even batch 1 does not fit"
            guess = 1
        if guess not in points:
            points[guess] = measure(guess).peak_bytes
        if points[guess] > usable:
            continue
        if guess == MAX_BATCH:
            return guess, f"capped at {MAX_BATCH}"
        # the next batch up, on the line through the two measured points nearest it
        (c1, q1), (c2, q2) = sorted(points.items(), key=lambda kv: abs(kv[0] - guess))[:2]
        next_peak = q1 + (q2 - q1) / (c2 - c1) * (guess + 1 - c1)
        if next_peak > usable:
            per = (q2 - q1) / (c2 - c1) / 2**30
            return guess, (
                f"affine fit peak(b) = fixed + {per:.3f} GiB x b through measured batches {sorted(points)}; "
                f"{guess} measured to fit, {guess + 1} predicted not to"
            )
        points[guess + 1] = measure(guess + 1).peak_bytes
        if points[guess + 1] > usable:
            return guess, f"measured {guess} fits and {guess + 1} does not"
    fits = [b for b, p in points.items() if p <= usable]
    return (max(fits) if fits else 0), f"best measured batch after refits {tried}"


def plan(
    model: str,
    *,
    task: Task,
    batch: int | str,
    max_new_tokens: int,
    card: Card,
    family: str | None = None,
    dtype: str | None = None,
    image_wh: tuple[int, int] | None = None,
    free_bytes: int | None = None,
    search: bool = True,
) -> Plan:
    """Plan one run. `batch` an int or "auto" (the largest batch that fits); `free_bytes`:
    plan against this many free bytes (a rank's `mem_get_info`) instead of the card's total."""
    from padt_eval.models.base import resolved_dtype_of
    from padt_eval.models.loading import family_of

    t0 = time.perf_counter()
    config, folder = model_files(model)
    family = family or family_of(config, model)
    if family not in PLANNABLE:
        raise UsageError(f"padt-eval plan runs the paths of {', '.join(PLANNABLE)}; {model!r} is {family!r}")
    if config.get("model_type") not in (None, "qwen2_5_vl", "qwen2_vl") and family != "padt":
        raise UsageError(f"{model!r}: model_type {config.get('model_type')!r} is not a Qwen2-VL / Qwen2.5-VL config")
    dtype = dtype or resolved_dtype_of(family, "cuda", {}) or "bfloat16"
    auto = str(batch) == "auto"
    probe = 8
    shape, notes = batch_shape(config, folder, family, task, probe if auto else int(batch), max_new_tokens, image_wh)
    usable = usable_bytes(free_bytes, context=False) if free_bytes is not None else usable_bytes(card.memory_bytes)
    session = Session(config, family, dtype, shape)
    try:
        first = session.measure(shape.batch)
        if search or auto:
            best, how = largest_batch(session.measure, usable, first, 1 if shape.batch != 1 else 2)
        else:
            best, how = -1, "not searched"
        at_largest = session.measure(best) if best > 0 else None
        chosen = session.measure(max(best, 1)) if auto else first
        weights, params = session.weights_bytes, session.parameters
    finally:
        session.close()
    floor = card.floor_ms(chosen.decode_read_bytes) if card.bandwidth_gbs else None
    if auto and best == 0:
        notes.append("batch 1 does not fit: the plan shows batch 1")
    return Plan(
        model=model,
        family=family,
        task=task.value,
        dtype=dtype,
        card={"name": card.name, "memory_bytes": card.memory_bytes, "bandwidth_gbs": card.bandwidth_gbs},
        shape=shape.with_batch(chosen.batch).to_json(),
        batch=chosen.batch,
        batch_requested=str(batch),
        weights_bytes=weights,
        parameters=params,
        measured=chosen,
        at_largest=at_largest,
        usable_bytes=usable,
        fits=chosen.peak_bytes <= usable,
        largest_batch=best,
        largest_batch_method=how,
        floor_ms_per_step=floor,
        seconds=round(time.perf_counter() - t0, 1),
        notes=notes,
    )
