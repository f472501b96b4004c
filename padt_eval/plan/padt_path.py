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

from .fake import host_to_device, on_host
from .shapes import BatchShape
from .tracker import MemoryTracker

TEXT_TOKEN_ID = 1000  # any ordinary text id: the plan needs the prompt's shape, not its words


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


def run_padt(model, shape: BatchShape, tracker: MemoryTracker, mode, *, steps: int = 3, settings=None) -> PathRun:
    from padt_eval.models.padt.decode_step import DecodeStep, attention_for_decoding
    from padt_eval.models.padt.generation import GenerationSettings, _initial_state, pad_id
    from padt_eval.models.padt.postprocess import mask_probability
    from padt_eval.models.padt.rope import rope_index
    from padt_eval.models.padt.vocab import ExtendedVocab, logit_mask

    cfg = model.cfg
    b, run = shape.batch, PathRun()
    settings = settings or GenerationSettings(max_new_tokens=shape.max_new_tokens, eos_token_ids=[151645], pad_token_id=151643)

    # host: what the DataLoader workers and the processor compute from ints
    tracker.phase = "inputs"
    with on_host():
        grid = torch.tensor([list(shape.grid)] * b, dtype=torch.long)
        row = [TEXT_TOKEN_ID] * (shape.text_tokens // 2)
        row += [cfg.image_token_id] * shape.image_tokens + [TEXT_TOKEN_ID] * (shape.text_tokens - shape.text_tokens // 2)
        ids = torch.tensor([row] * b, dtype=torch.long)
        attention = torch.ones_like(ids)
        positions, deltas = rope_index(ids, attention, grid, image_token_id=cfg.image_token_id, merge_size=cfg.merge_size)
        mask = logit_mask(grid, cfg.merge_size, cfg.vocab_size)
        slots = (ids == cfg.image_token_id).flatten().nonzero().squeeze(1)
    ids_d, attention_d, grid_d = (host_to_device(mode, t) for t in (ids, attention, grid))
    positions_d, deltas_d, mask_d, slots_d = (host_to_device(mode, t) for t in (positions, deltas, mask, slots))
    channels = 3 * model.visual.config.temporal_patch_size * model.visual.config.patch_size**2
    pixels = torch.empty((b * shape.patches, channels), dtype=torch.float32)  # the processor's float32 patches

    # vision
    tracker.phase = "vision"
    st = run.stage("vision")
    try:
        vis, prototypes = model.encode_images(pixels, grid_d)
        merged, high, cos, sin = vis.merged, vis.high_res, vis.cos, vis.sin
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        st.status, st.error = "shape-only", describe_error(exc)
        vc = model.visual.config
        head_dim = vc.hidden_size // vc.num_heads
        merged = torch.empty((b * shape.image_tokens, cfg.hidden_size))
        high = torch.empty((b * shape.patches, vc.hidden_size))
        cos = torch.empty((b * shape.patches, head_dim), dtype=torch.float32)
        sin = torch.empty((b * shape.patches, head_dim), dtype=torch.float32)
        from padt_eval.models.padt.vocab import project_prototypes

        prototypes = project_prototypes(model.vis_norm, model.vis_proj, merged)
    del pixels

    # prefill: the prompt's embeddings (image rows from the vision tower), the text model, last logits
    tracker.phase = "prefill"
    st = run.stage("prefill")
    from transformers.cache_utils import DynamicCache

    vocab = ExtendedVocab(
        model.language_model.embed_tokens.weight, model.output_text_rows(), prototypes, mask_d, image_patches=[shape.patches] * b
    )
    embeds = torch.nn.functional.embedding(ids_d, vocab.embed)
    embeds.view(-1, embeds.shape[-1]).index_copy_(0, slots_d, merged.to(embeds.dtype))
    cache = DynamicCache(config=model.language_model.config)
    hidden, _ = model.run_language_model(embeds, attention_d, positions_d, cache)
    del embeds
    last_hidden = hidden[:, -1].clone()
    del hidden
    last_logits = vocab.logits(last_hidden)

    # decode: preallocated buffers, then the steps
    tracker.phase = "decode setup"
    st = run.stage("decode")
    padded = vocab.padded()
    state = _initial_state(padded, cache, ids_d, attention_d, deltas_d, settings, pad_id(settings), False, False)
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

    # the PaDT decoder on step states, then the masks
    if shape.objects:
        tracker.phase = "decoder"
        st = run.stage("decoder")
        grids = [shape.grid] * b
        feats = [state.hidden[i, s * shape.vrts : (s + 1) * shape.vrts] for i in range(b) for s in range(shape.objects)]
        owner = [i for i in range(b) for _ in range(shape.objects)]
        unit = cfg.merge_size**2
        p, m = shape.patches, shape.patches // unit
        low = [prototypes[i * m : (i + 1) * m] for i in range(b)]
        high_rows = [high[i * p : (i + 1) * p] for i in range(b)]
        pe = [(cos[i * p : (i + 1) * p], sin[i * p : (i + 1) * p]) for i in range(b)]
        try:
            boxes, scores, masks, hw = model.decode_objects(feats, owner, low, high_rows, pe, grids)
        except Exception as exc:  # noqa: BLE001
            st.status, st.error = "failed", describe_error(exc)
            masks = None
        if masks is not None:
            tracker.phase = "masks"
            st = run.stage("masks")
            w, h = shape.image_wh
            valid = (shape.grid[1], shape.grid[2])  # the decoder's valid_hw: the patch grid
            try:
                probs = [mask_probability(masks[j], valid, w, h) for j in range(masks.shape[0])]
                # masks_rle's device half: threshold where they are, one flat bool tensor for the host copy
                flat = torch.cat([(q > 0.5).flatten() for q in probs])
                del probs, flat
            except Exception as exc:  # noqa: BLE001
                st.status, st.error = "failed", describe_error(exc)
    tracker.phase = "done"
    return run
