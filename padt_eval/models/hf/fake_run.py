"""The coordinate-text baselines' models on fake CUDA (`models.fake_device`), from a config.json.

`run_fake_hf(config, "Qwen2_5_VLForConditionalGeneration")` builds the transformers model
under fake CUDA in the run's dtype and runs, as stages of the `FakeCuda` mode:

  prefill        the model's forward over a batch of synthetic prompts *with images*
                 (shaped as each family's processor makes them). Not strict: transformers'
                 own multimodal code reads some values on the host (Qwen's vision tower
                 and rope index read `grid_thw`); the first such read stops the stage and
                 is kept in `HfFakeRun.prefill_read` (op and frame). A decoder-only model
                 then prefills the same prompt without its image, to reach the decode steps.
  decode step k  one forward of one new token per row over the cache: what `generate`
                 calls at every step. Strict: no host sync, no device mismatch.

What `generate`'s own loop adds around the forward (the stop check, reading whether every
row is finished, once per step) is not a model op; it is counted on real tiny
checkpoints instead (tests/models/hf/test_hf_fake_cuda.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from padt_eval.models.fake_device import Event, FakeCuda, FakeRunError, fake_cuda, parameter_bytes

TEXT = 1000  # an ordinary token id in every family's vocabulary


@dataclass
class HfFakeRun:
    mode: FakeCuda
    model: Any
    batch: int
    weight_bytes: int
    prefill_read: Event | None = None  # the first host read of the image prefill, if any
    stage_ops: dict[str, int] = field(default_factory=dict)


def hf_config(raw: dict, text_layers: int | None = None, vision_layers: int | None = None):
    """The transformers config of a released config.json, optionally with fewer blocks."""
    import transformers

    cfg = transformers.CONFIG_MAPPING[raw["model_type"]](**json.loads(json.dumps(raw)))
    text = cfg.get_text_config()
    if text_layers is not None:
        for key in ("num_hidden_layers", "layers", "encoder_layers", "decoder_layers"):
            if isinstance(getattr(text, key, None), int):
                setattr(text, key, text_layers)
        if getattr(text, "layer_types", None):
            text.layer_types = text.layer_types[:text_layers]
    vision = getattr(cfg, "vision_config", None)
    if vision_layers is not None and vision is not None:
        for key in ("depth", "num_hidden_layers"):
            if isinstance(getattr(vision, key, None), int):
                setattr(vision, key, vision_layers)
        if getattr(vision, "fullatt_block_indexes", None):
            vision.fullatt_block_indexes = [vision_layers - 1]
        if getattr(vision, "deepstack_visual_indexes", None):
            vision.deepstack_visual_indexes = [vision_layers - 1]
    cfg._attn_implementation = "sdpa"
    return cfg


def synthetic_inputs(model, batch: int, prompt_tokens: int, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """CPU model inputs of the shapes each family's processor makes for `batch` images of
    `image_size` (width, height) and a prompt of `prompt_tokens` text tokens."""
    cfg = model.config
    kind = cfg.model_type
    text = [TEXT + i for i in range(prompt_tokens)]
    if kind in ("qwen2_vl", "qwen2_5_vl", "qwen3_vl"):
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        vis = cfg.vision_config
        patch, merge, temporal = vis.patch_size, vis.spatial_merge_size, vis.temporal_patch_size
        h, w = smart_resize(image_size[1], image_size[0], factor=patch * merge, min_pixels=3136, max_pixels=12845056)
        grid = (1, h // patch, w // patch)
        tokens = grid[1] * grid[2] // merge**2
        row = [cfg.vision_start_token_id] + [cfg.image_token_id] * tokens + [cfg.vision_end_token_id] + text
        ids = torch.tensor([row] * batch)
        return dict(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            pixel_values=torch.zeros((batch * grid[1] * grid[2], 3 * temporal * patch**2)),
            image_grid_thw=torch.tensor([grid] * batch),
            mm_token_type_ids=(ids == cfg.image_token_id).long(),
        )
    if kind == "internvl":
        size = cfg.vision_config.image_size[0]
        row = [TEXT] + [cfg.image_token_id] * cfg.image_seq_length + text
        ids = torch.tensor([row] * batch)
        return dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=torch.zeros((batch, 3, size, size)))
    if kind == "kosmos-2":
        size, n = cfg.vision_config.image_size, cfg.latent_query_num
        row = [0, 64003] + [TEXT] * n + [64004] + text  # <s> <image> latents </image> text
        ids = torch.tensor([row] * batch)
        where = torch.zeros_like(ids, dtype=torch.bool)
        where[:, 2 : 2 + n] = True
        return dict(
            input_ids=ids, attention_mask=torch.ones_like(ids), image_embeds_position_mask=where,
            pixel_values=torch.zeros((batch, 3, size, size)),
        )  # fmt: skip
    if kind == "florence2":
        ids = torch.tensor([[0] + text + [2]] * batch)
        return dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=torch.zeros((batch, 3, 768, 768)))
    raise KeyError(f"no synthetic inputs for model_type {kind!r}")


def _cache(out):
    """The step's cache: `cache` in transformers 5 outputs (`past_key_values` before)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def run_fake_hf(
    config: str | Path | dict,
    model_class: str,
    *,
    batch: int = 2,
    image_size: tuple[int, int] = (640, 480),
    prompt_tokens: int = 16,
    decode_steps: int = 3,
    dtype="bfloat16",
    text_layers: int | None = None,
    vision_layers: int | None = None,
    mode: FakeCuda | None = None,
) -> HfFakeRun:
    import transformers
    from transformers.modeling_outputs import BaseModelOutput

    from padt_eval.models.padt.fake_run import load_config_dict

    cfg = hf_config(load_config_dict(config), text_layers, vision_layers)
    with fake_cuda(dtype, mode) as mode:
        model = getattr(transformers, model_class)(cfg).eval()
        torch.nn.Module.requires_grad_(model, False)
    run = HfFakeRun(mode, model, batch, parameter_bytes(model))
    inputs = synthetic_inputs(model, batch, prompt_tokens, image_size)
    encoder_decoder = bool(cfg.is_encoder_decoder)
    with mode:  # the processor's output moved to the device once, as the backend does
        dev = {k: v.to("cuda") for k, v in inputs.items()}
        dev = {k: v.to(model.dtype) if v.is_floating_point() else v for k, v in dev.items()}
    with mode, torch.inference_mode():
        extra = {"decoder_input_ids": dev["input_ids"][:, :1]} if encoder_decoder else {}
        out = None
        try:
            with mode.stage("prefill", strict=False):
                out = model(**dev, use_cache=True, **extra)
        except FakeRunError as exc:
            run.prefill_read = exc.event
            if encoder_decoder:
                raise
            text = {k: dev[k] for k in ("input_ids", "attention_mask")}
            with mode.stage("prefill without image", strict=True):
                out = model(**text, use_cache=True)
        mask = dev["attention_mask"]
        # Kosmos-2 takes its image embeddings at every step (generate passes them along)
        image = out.image_outputs.pooler_output if cfg.model_type == "kosmos-2" else None
        keep = {"image_embeds": image} if image is not None else {}
        for k in range(1, decode_steps + 1):
            with mode.stage(f"decode step {k}"):
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
                if encoder_decoder:  # the encoder's output (image + text) is attended in full
                    memory = BaseModelOutput(last_hidden_state=out.encoder_last_hidden_state)
                    out = model(encoder_outputs=memory, decoder_input_ids=nxt, cache=_cache(out), use_cache=True)
                else:
                    mask = torch.cat((mask, mask[:, :1]), dim=1)
                    out = model(input_ids=nxt, attention_mask=mask, cache=_cache(out), use_cache=True, **keep)
    run.stage_ops = {name: rep.ops for name, rep in mode.stages.items()}
    return run
