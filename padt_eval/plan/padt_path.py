"""PaDT's own path on fake CUDA, stage by stage, with the adapter's real functions.

  host       grid, prompt ids, M-RoPE positions, logit mask: CPU, before device code
  inputs     pixel values and ids copied to the device
  vision     `PadtModel.encode_images` (vision tower + prototype projection)
  prefill    the text model over the prompt with a `DynamicCache`, last-position logits
  decode     the static KV cache and decode buffers (`generation._initial_state`), then
             `DecodeStep` run `steps` times, exactly as `generation.generate` runs it
  decoder    `PadtModel.decode_objects` on `objects` x `vrts` step states per sample
  masks      `postprocess.mask_probability` per object (resize + sigmoid on the device)

Every buffer of the decode phase is allocated at its final size when decoding starts
(the static cache holds `bucketed(prompt + max_new_tokens, 128)` columns; the token and
state buffers `max_new_tokens` rows) and a step's shapes never change, so a few steps
measure the whole decode phase: nothing is extrapolated.

A stage that cannot run under fake CUDA (a host read of a device value, a device
mismatch) is recorded with the operator and frame (`Stage.error`); where a later stage
needs its outputs, stand-ins of the right shapes take their place and the stage is
reported "shape-only".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .fake import on_host
from .shapes import BatchShape
from .tracker import MemoryTracker

TEXT_TOKEN_ID = 0  # any ordinary text id (inside every vocabulary): the plan needs the prompt's shape, not its words


@dataclass
class Stage:
    name: str
    status: str = "ran"  # "ran" | "shape-only" | "failed"
    error: str | None = None


@dataclass
class PathRun:
    stages: list[Stage] = field(default_factory=list)
    kv_positions: int = 0  # cache columns per row (what the KV cache is sized for)
    kv_bytes: int = 0

    def stage(self, name: str) -> Stage:
        s = Stage(name)
        self.stages.append(s)
        return s


def describe_error(exc: BaseException) -> str:
    """`ExceptionType (op) at file:line in function`, the frame being the innermost one outside torch."""
    import traceback

    from .tracker import caller_frame

    where = caller_frame(traceback.extract_tb(exc.__traceback__))
    msg = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__} ({msg}) at {where}"


def build_padt(raw_config: dict, attn: str = "sdpa"):
    """The PaDT module tree under the caller's fake mode (parameters in the default dtype)."""
    from padt_eval.models.padt.config import parse_config
    from padt_eval.models.padt.model import PadtModel

    model = PadtModel(parse_config(raw_config), attn=attn)
    return model.eval().requires_grad_(False)


def _stage_runner(model, settings):
    """A `PadtPipeline` for its stage methods (encode, global_ids, vl_decode, stage_outputs),
    which read only the model, its config and the settings: no tokenizer is needed."""
    from padt_eval.models.padt.pipeline import PadtPipeline

    pipe = PadtPipeline.__new__(PadtPipeline)
    pipe.model, pipe.cfg, pipe.settings, pipe.compat = model, model.cfg, settings, False
    pipe.reference_memory, pipe.compile_step = False, False
    return pipe


def run_padt(model, shape: BatchShape, tracker: MemoryTracker, mode, *, steps: int = 3, settings=None) -> PathRun:
    from padt_eval.models.padt.decode_step import DecodeStep, attention_for_decoding
    from padt_eval.models.padt.generation import GenerationSettings, _initial_state, pad_id, prefill
    from padt_eval.models.padt.host_meta import host_meta
    from padt_eval.models.padt.processor import BatchInputs

    cfg = model.cfg
    dev = model.device  # fake "cuda" for the plan, a real device in benchmarks/bench_plan_memory.py
    b, run = shape.batch, PathRun()
    settings = settings or GenerationSettings(max_new_tokens=shape.max_new_tokens, eos_token_ids=[151645], pad_token_id=151643)

    # host: what the DataLoader workers and `PadtPipeline.prepare` compute from ints
    tracker.phase = "inputs"
    grids = [shape.grid] * b
    with on_host():
        half = shape.text_tokens // 2
        row = [TEXT_TOKEN_ID] * half + [cfg.image_token_id] * shape.image_tokens + [TEXT_TOKEN_ID] * (shape.text_tokens - half)
        ids = torch.tensor([row] * b, dtype=torch.long)
        attention = torch.ones_like(ids)
        grid = torch.tensor([list(g) for g in grids], dtype=torch.long)
        meta = host_meta(model, grids, ids, attention)
    # `BatchInputs.to`: one copy of each (real CPU -> fake CUDA)
    ids, attention, grid = ids.to(dev), attention.to(dev), grid.to(dev)
    meta = meta.to(dev)
    channels = 3 * model.visual.config.temporal_patch_size * model.visual.config.patch_size**2
    pixels = torch.empty((b * shape.patches, channels), dtype=torch.float32, device=dev)  # the processor's patches

    # vision (`PadtPipeline.encode`)
    tracker.phase = "vision"
    st = run.stage("vision")
    pipe = _stage_runner(model, settings)
    inputs = BatchInputs(ids, attention, pixels, grid, [], [shape.image_wh] * b, meta=meta)
    try:
        enc = pipe.encode(inputs)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        st.status, st.error = "failed", describe_error(exc)
        return run
    del pixels, inputs

    # prefill (`generation.start_decoding`'s first half): the prompt through the text model
    tracker.phase = "prefill"
    st = run.stage("prefill")
    ids_global = pipe.global_ids(ids, grid)
    hidden, _, cache, deltas = prefill(model, enc.vocab, enc.vision.merged, ids_global, attention, grid, prompt=meta.prompt)
    last_logits = enc.vocab.logits(hidden[:, -1])
    last_hidden = hidden[:, -1]
    del hidden
    vocab = enc.vocab

    # decode: preallocated buffers, then the steps
    tracker.phase = "decode setup"
    st = run.stage("decode")
    padded = vocab.padded()
    state = _initial_state(padded, cache, ids_global, attention, deltas, settings, pad_id(settings), False, False)
    del cache
    tracker.mark("kv_cache", *state.cache.keys, *state.cache.values)
    buffers = (state.keep, state.tokens, state.hidden, state.logits, state.seen, state.unfinished, state.finished_at)
    tracker.mark("decode_buffers", *buffers, state.step, state.write_pos, state.eos, padded.prototypes, padded.mask)
    run.kv_positions, run.kv_bytes = state.cache.max_len, state.cache.nbytes()
    step = DecodeStep(model, state)
    fill = last_logits.new_full((b, padded.width - vocab.size), float("-inf"))
    step.choose(torch.cat((last_logits, fill), dim=1), last_hidden)
    del last_logits, fill, last_hidden
    tracker.phase = "decode"
    before = len(tracker.events)
    try:
        with attention_for_decoding(model):
            for i in range(steps):
                tracker.count_reads = i == steps - 1  # the last step's reads: the bandwidth floor
                step()
    except Exception as exc:  # noqa: BLE001
        st.status, st.error = "failed", describe_error(exc)
    finally:
        tracker.count_reads = False
    if len(tracker.events) > before and st.error is None:
        st.status, st.error = "failed", "; ".join(f"{e.kind} {e.op} at {e.frame}" for e in tracker.events[before:])

    # the PaDT decoder on step states (`PadtPipeline.vl_decode`), then the masks' device half (`stage_outputs`)
    if shape.objects:
        tracker.phase = "decoder"
        st = run.stage("decoder")
        v = shape.vrts
        feats = [[state.hidden[i, s * v : (s + 1) * v] for s in range(shape.objects)] for i in range(b)]
        try:
            dec = pipe.vl_decode(feats, enc, grid)
            tracker.phase = "masks"
            st = run.stage("masks")
            outputs = pipe.stage_outputs(dec, [shape.image_wh] * b)
            del outputs
        except Exception as exc:  # noqa: BLE001
            st.status, st.error = "failed", describe_error(exc)
    tracker.phase = "done"
    return run
