"""PaDT's real device path on fake CUDA (`models.fake_device`), from a config.json alone.

`run_fake_padt(config, batch=32, image_size=(640, 480))` builds the model under fake CUDA
in the run's dtype and runs, each as a stage of the `FakeCuda` mode:

  vision        the vision tower and prototype projection (`PadtPipeline.encode`)
  prefill       prompt embedding, the text model over the prompt, the static KV cache,
                the first token (`generation.start_decoding`)
  decode step k one fixed-shape decode step (`decode_step.DecodeStep`), k = 1..decode_steps
  decoder       the PaDT decoder on synthetic parses (`PadtPipeline.features` + `vl_decode`)
  postprocess   boxes, scores and masks at the original image size, up to the host copy
                (`PadtPipeline.stage_outputs`)

Inputs are synthetic but shaped as the processor makes them: each image resized by the
Qwen2.5-VL rule (multiple of 28, within min/max pixels), a chat prompt of
`prompt_tokens` text tokens around the image's merged tokens, left padded. Host metadata
is built on the CPU exactly as `PadtPipeline.prepare` builds it. Every stage is strict:
a host sync or a device mismatch raises `FakeRunError` naming the op and the frame.
(Parsing, the periodic "all rows finished?" check and the host copies of the results
read values by design; they run after the stages above, on real runs only.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from padt_eval.models.fake_device import FakeCuda, fake_cuda, parameter_bytes

from .config import PadtConfig, parse_config
from .host_meta import Grid, host_meta
from .parsing import ParsedObject, ParseResult

# released Qwen2.5-VL preprocessor_config.json values (padt_eval/models/released/)
PATCH, MERGE, TEMPORAL = 14, 2, 2
MIN_PIXELS, MAX_PIXELS = 3136, 12845056
# a few released special ids the synthetic prompt uses (Qwen2 tokenizer)
IM_START, IM_END, NEWLINE, TEXT = 151644, 151645, 198, 1000


@dataclass
class PadtFakeRun:
    """What a fake run built and what its stages did."""

    config: PadtConfig
    mode: FakeCuda
    model: Any
    batch: int
    grids: list[Grid]
    prompt_length: int
    cache_length: int  # KV-cache positions allocated per row (bucketed prompt + new tokens)
    weight_bytes: int
    stage_ops: dict[str, int] = field(default_factory=dict)
    decoding: Any = None  # generation.Decoding after the decode steps (its state: the static buffers)

    def syncs(self, stage: str) -> int:
        return len(self.mode.stages[stage].syncs)


def load_config_dict(config: str | Path | dict) -> dict:
    """A config.json path, a folder holding one, or the parsed dict."""
    if isinstance(config, dict):
        return config
    path = Path(config)
    path = path / "config.json" if path.is_dir() else path
    return json.loads(path.read_text(encoding="utf-8"))


def resized_grid(width: int, height: int, *, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> Grid:
    """(t, h, w) patches of one still image after the processor's resize."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=PATCH * MERGE, min_pixels=min_pixels, max_pixels=max_pixels)
    return (1, h // PATCH, w // PATCH)


def with_layers(raw: dict, text_layers: int | None, vision_layers: int | None) -> dict:
    """The config with fewer text / vision blocks (every other size as released): for tests
    where the depth is not the point. Vision full-attention blocks are kept in range."""
    raw = json.loads(json.dumps(raw))
    if text_layers is not None:
        raw["num_hidden_layers"] = text_layers
        raw["max_window_layers"] = min(raw.get("max_window_layers", text_layers), text_layers)
    if vision_layers is not None:
        vis = raw["vision_config"]
        vis["depth"] = vision_layers
        full = [i for i in vis.get("fullatt_block_indexes", []) if i < vision_layers]
        vis["fullatt_block_indexes"] = full or [vision_layers - 1]
    return raw


def synthetic_prompts(cfg: PadtConfig, grids: list[Grid], prompt_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded (ids, mask) like the chat template's: system/user text, the image's merged
    tokens between vision start/end, the instruction, the assistant header. Rows differ in
    length by a few tokens so that padding is exercised."""
    rows = []
    for b, (t, h, w) in enumerate(grids):
        image = [cfg.vision_start_token_id] + [cfg.image_token_id] * (t * h * w // MERGE**2)
        image += [cfg.vision_end_token_id] if cfg.vision_end_token_id is not None else []
        text = [TEXT + i for i in range(prompt_tokens + b % 3)]
        rows.append([IM_START, TEXT, NEWLINE] + image + text + [IM_END, NEWLINE, IM_START, TEXT, NEWLINE])
    return left_padded(rows, IM_END)


def left_padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of id rows left padded with `pad` to the longest, as the processor pads."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, width - len(r) :] = torch.tensor(r)
        mask[b, width - len(r) :] = 1
    return ids, mask


def synthetic_parses(grids: list[Grid], steps: int, objects: int, vrts: int) -> list[ParseResult]:
    """`objects` objects per sample, each a run of `vrts` VRTs at consecutive steps < `steps`."""
    out = []
    for t, h, w in grids:
        m = t * h * w // MERGE**2
        objs = []
        for k in range(objects):
            at = [min((k * vrts + j), steps - 1) for j in range(vrts)]
            ids = [(k * 7 + j * 3) % m for j in range(vrts)]
            objs.append(ParsedObject(label=f"object {k}", vrt_text="", vrt_ids=ids, steps=at))
        out.append(ParseResult(objects=objs))
    return out


def build_fake_padt(raw: dict, dtype="bfloat16", attn: str = "sdpa", mode: FakeCuda | None = None):
    """(mode, cfg, model): the PaDT module tree built on fake CUDA from a config dict."""
    from .model import PadtModel

    cfg = parse_config(raw)
    with fake_cuda(dtype, mode) as m:
        model = PadtModel(cfg, attn=attn).eval()
        torch.nn.Module.requires_grad_(model, False)
    return m, cfg, model


def run_fake_padt(
    config: str | Path | dict,
    *,
    batch: int = 2,
    image_size: tuple[int, int] = (640, 480),
    max_new_tokens: int = 128,
    decode_steps: int = 3,
    prompt_tokens: int = 24,
    objects: int = 2,
    vrts_per_object: int = 4,
    dtype="bfloat16",
    repetition_penalty: float = 1.05,
    text_layers: int | None = None,
    vision_layers: int | None = None,
    mode: FakeCuda | None = None,
) -> PadtFakeRun:
    """Run the stages listed in the module docstring; raise `FakeRunError` on a host sync or
    device mismatch in any of them. `image_size` is the original (width, height) of every
    image; `mode` lets a caller bring its own `FakeCuda` (e.g. one with observers)."""
    from .generation import GenerationSettings, start_decoding
    from .pipeline import PadtPipeline
    from .static_cache import CACHE_LENGTH_BUCKET, bucketed
    from .vocab import to_global

    raw = with_layers(load_config_dict(config), text_layers, vision_layers)
    mode, cfg, model = build_fake_padt(raw, dtype, mode=mode)
    grids = [resized_grid(*image_size)] * batch
    ids, mask = synthetic_prompts(cfg, grids, prompt_tokens)
    meta = host_meta(model, grids, ids, mask)  # on the host, as PadtPipeline.prepare does
    patches = sum(t * h * w for t, h, w in grids)
    settings = GenerationSettings(
        max_new_tokens=max_new_tokens, eos_token_ids=[IM_END], pad_token_id=IM_END, repetition_penalty=repetition_penalty
    )
    pipe = PadtPipeline(model, None, settings)
    run = PadtFakeRun(
        cfg, mode, model, batch, grids, ids.shape[1], bucketed(ids.shape[1] + max_new_tokens, CACHE_LENGTH_BUCKET),
        parameter_bytes(model),
    )  # fmt: skip
    # the stages run as a real run does: no default device or dtype, only the fake mode
    with mode:
        # the batch's one move to the device (BatchInputs.to; outside inference mode, where
        # fake tensors cannot take in real ones); pixels are born on the device
        dev = torch.device("cuda")
        meta_d, ids_d, mask_d = meta.to(dev), ids.to(dev), mask.to(dev)
        grid_d = torch.tensor([list(g) for g in grids]).to(dev)
        pixels = torch.empty((patches, 3 * TEMPORAL * PATCH**2), dtype=torch.float32, device=dev)
    with mode, torch.inference_mode():
        with mode.stage("vision"):
            from .pipeline import Encoded

            vis, protos = model.encode_images(pixels, grid_d, layout=meta_d.vision)
            enc = Encoded(vis, protos, model.extended_vocab(protos, grid_d, grids=grids), grids)
        with mode.stage("prefill"):
            gids = to_global(ids_d, grid_d, cfg.merge_size, cfg.vocab_size)
            dec = start_decoding(model, enc.vocab, vis.merged, gids, mask_d, grid_d, settings, prompt=meta_d.prompt)
        for k in range(1, decode_steps + 1):
            with mode.stage(f"decode step {k}"):
                dec.step()
        with mode.stage("decoder"):
            parses = synthetic_parses(grids, max_new_tokens, objects, vrts_per_object)
            feats = pipe.features(parses, dec.step.state.hidden, None)
            decoded = pipe.vl_decode(feats, enc, grid_d)
        with mode.stage("postprocess"):
            pipe.stage_outputs(decoded, [image_size] * batch)
    run.stage_ops = {name: rep.ops for name, rep in mode.stages.items()}
    run.decoding = dec
    return run


def run_fake_continuous(config: str | Path | dict, *, batch: int = 2, decode_steps: int = 3, **sizes) -> PadtFakeRun:
    """Continuous batching's device path (`continuous.ContinuousDecoder`), strict stages:

      admit        vision, prefill and the copy into `batch` empty slots, first tokens
      slot step k  one fixed-shape step over every slot, k = 1..decode_steps
      readmit      a new sample with a prompt 100 tokens longer into slot 0 while the others
                   decode (the cache grows by a bucket)
      slot step after readmit

    The host's periodic read of the live flags and the harvest run on real runs only.
    `sizes`: image_size (640, 480), text_layers, vision_layers (None: as released); bf16,
    128 new tokens, prompts of 24 text tokens, repetition penalty 1.05."""
    from .continuous import ContinuousDecoder, StreamItem
    from .generation import GenerationSettings
    from .pipeline import PadtPipeline
    from .processor import BatchInputs

    image_size, prompt_tokens = sizes.get("image_size", (640, 480)), 24
    raw = with_layers(load_config_dict(config), sizes.get("text_layers"), sizes.get("vision_layers"))
    mode, cfg, model = build_fake_padt(raw, "bfloat16")
    grids = [resized_grid(*image_size)] * batch
    settings = GenerationSettings(max_new_tokens=128, eos_token_ids=[IM_END], pad_token_id=IM_END, repetition_penalty=1.05)
    decoder = ContinuousDecoder(PadtPipeline(model, None, settings), batch)
    held: list = [None] * batch

    def inputs_for(gs: list[Grid], tokens: int) -> BatchInputs:
        ids, mask = synthetic_prompts(cfg, gs, tokens)
        meta = host_meta(model, gs, ids, mask)
        with mode:  # the batch's one move to the device; pixels are born there
            dev = torch.device("cuda")
            patches = sum(t * h * w for t, h, w in gs)
            pixels = torch.empty((patches, 3 * TEMPORAL * PATCH**2), dtype=torch.float32, device=dev)
            grid = torch.tensor([list(g) for g in gs]).to(dev)
            return BatchInputs(ids.to(dev), mask.to(dev), pixels, grid, [], [image_size] * len(gs), meta.to(dev))

    first, second = inputs_for(grids, prompt_tokens), inputs_for(grids[:1], prompt_tokens + 100)
    run = PadtFakeRun(cfg, mode, model, batch, grids, first.input_ids.shape[1], 0, parameter_bytes(model))
    with mode, torch.inference_mode():
        with mode.stage("admit"):
            decoder.admit_inputs(held, list(range(batch)), [StreamItem(b, None, "") for b in range(batch)], first)
        for k in range(1, decode_steps + 1):
            with mode.stage(f"slot step {k}"):
                decoder.run_step()
        held[0] = None
        with mode.stage("readmit"):
            decoder.admit_inputs(held, [0], [StreamItem(batch, None, "")], second)
        with mode.stage("slot step after readmit"):
            decoder.run_step()
    run.stage_ops = {name: rep.ops for name, rep in mode.stages.items()}
    run.cache_length = decoder.state.cache_len
    run.decoding = decoder
    return run
