"""A coordinate-text baseline's `generate` on fake CUDA (Qwen2-VL / Qwen2.5-VL / VLM-R1).

transformers' `generate` keeps a `DynamicCache` that grows by one column per step (each
layer's keys and values are concatenated, so a step briefly holds a layer's old and new
buffers), computes the last position's logits (`logits_to_keep=1`) and copies them to
float32. Its loop reads "are all rows done?" on the host after every step, so it cannot
run as a whole under fake CUDA; the plan runs its parts:

  vision     the stock vision tower on the batch's patches
  prefill    the text model over the prompt into a `DynamicCache`, last logits in float32
  decode     the cache grown to prompt + max_new_tokens - 1 columns (the last step's
             length), then one decode step through the model's forward: the step with the
             largest cache, i.e. the decode phase's peak

The KV cache is therefore measured at its final length, not extrapolated.
"""

from __future__ import annotations

import torch

from .padt_path import PathRun, describe_error
from .shapes import BatchShape
from .tracker import MemoryTracker

MODEL_CLASSES = {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration", "qwen2_vl": "Qwen2VLForConditionalGeneration"}
TEXT_TOKEN_ID = 0  # any ordinary text id (inside every vocabulary): the plan needs the prompt's shape, not its words


def build_hf(raw_config: dict, family: str, dtype: str, mode):
    """The transformers model on the harness's fake CUDA (`models.hf.fake_run.hf_config`)."""
    import transformers

    from padt_eval.models.fake_device import fake_cuda
    from padt_eval.models.hf.fake_run import hf_config

    model_type = raw_config.get("model_type", family)
    cls = getattr(transformers, MODEL_CLASSES.get(model_type, MODEL_CLASSES["qwen2_5_vl"]))
    with fake_cuda(dtype, mode):
        model = cls(hf_config(raw_config)).eval()
        torch.nn.Module.requires_grad_(model, False)
    return model


def run_hf(model, shape: BatchShape, tracker: MemoryTracker, mode, *, steps: int = 1) -> PathRun:
    """Under `with mode:` (a `FakeCuda` whose observers include the tracker)."""
    from transformers.cache_utils import DynamicCache

    from padt_eval.models.fake_device import FakeRunError
    from padt_eval.models.padt.rope import rope_index

    from .fake import on_host

    cfg = model.config
    dev = model.device
    b, run = shape.batch, PathRun()
    image_token = cfg.image_token_id
    merge = cfg.vision_config.spatial_merge_size

    tracker.phase = "inputs"
    with on_host():
        grid = torch.tensor([list(shape.grid)] * b, dtype=torch.long)
        half = shape.text_tokens // 2
        row = [TEXT_TOKEN_ID] * half + [image_token] * shape.image_tokens + [TEXT_TOKEN_ID] * (shape.text_tokens - half)
        ids = torch.tensor([row] * b, dtype=torch.long)
        attention = torch.ones_like(ids)
        positions, _ = rope_index(ids, attention, grid, image_token_id=image_token, merge_size=merge)
        slots = (ids == image_token).flatten().nonzero().squeeze(1)
    ids, attention, positions, slots, grid_d = (t.to(dev) for t in (ids, attention, positions, slots, grid))
    vc = model.model.visual.config if hasattr(model.model, "visual") else cfg.vision_config
    channels = 3 * vc.temporal_patch_size * vc.patch_size**2
    pixels = torch.empty((b * shape.patches, channels), dtype=torch.float32, device=dev)

    tracker.phase = "vision"
    st = run.stage("vision")
    text_model = model.model.language_model
    dim = text_model.config.hidden_size
    try:
        with mode.stage("vision"):
            out = model.model.visual(pixels.to(model.dtype), grid_thw=grid_d)
            image_embeds = out.pooler_output if hasattr(out, "pooler_output") else out
    except FakeRunError as exc:  # transformers' vision tower reads grid_thw on the host: the finding
        st.status, st.error = "shape-only", describe_error(exc)
        image_embeds = torch.empty((b * shape.image_tokens, dim), dtype=model.dtype, device=dev)
    del pixels

    tracker.phase = "prefill"
    run.stage("prefill")
    with mode.stage("prefill"):
        embeds = text_model.embed_tokens(ids)
        embeds.view(-1, dim).index_copy_(0, slots, image_embeds.to(embeds.dtype))
        del image_embeds
        cache = DynamicCache(config=text_model.config)
        hidden = text_model(inputs_embeds=embeds, attention_mask=attention, position_ids=positions, cache=cache, use_cache=True)
        logits = model.lm_head(hidden.last_hidden_state[:, -1:]).float()
        del hidden, embeds, logits

    tracker.phase = "decode setup"
    st = run.stage("decode")
    grow = shape.max_new_tokens - 1  # columns the earlier steps added
    for layer in cache.layers:
        k, v = layer.keys, layer.values
        layer.keys = torch.cat((k, k.new_zeros(k.shape[:2] + (grow, k.shape[3]))), dim=2)
        layer.values = torch.cat((v, v.new_zeros(v.shape[:2] + (grow, v.shape[3]))), dim=2)
        del k, v
    tracker.mark("kv_cache", *(t for layer in cache.layers for t in (layer.keys, layer.values)))
    seq = shape.prompt_tokens + grow
    full_mask = torch.ones((b, seq + 1), dtype=attention.dtype, device=dev)
    tokens = torch.zeros((b, seq + 1), dtype=torch.long, device=dev)  # generate's growing input_ids
    tracker.mark("decode_buffers", full_mask, tokens)
    step_pos = (positions[:, :, -1:] + grow + 1).expand(3, b, 1).contiguous()
    tracker.phase = "decode"
    try:
        for i in range(steps):
            tracker.count_reads = i == steps - 1
            with mode.stage(f"decode step {i + 1}"):
                out = text_model(
                    inputs_embeds=text_model.embed_tokens(tokens[:, -1:]),
                    attention_mask=full_mask,
                    position_ids=step_pos,
                    cache=cache,
                    use_cache=True,
                )
                nxt = model.lm_head(out.last_hidden_state[:, -1:]).float().argmax(-1)
                del out, nxt
    except FakeRunError as exc:
        st.status, st.error = "failed", describe_error(exc)
    finally:
        tracker.count_reads = False
    run.kv_positions = cache.layers[0].keys.shape[2]
    run.kv_bytes = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    tracker.phase = "done"
    return run
