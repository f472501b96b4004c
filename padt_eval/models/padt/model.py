"""The PaDT module tree: stock Qwen2.5-VL vision tower and text model + PaDT's own parts.

Attribute names are chosen so that our state-dict keys are the checkpoint's legacy (4.50)
keys with one rename, `model.` -> `language_model.` (see `checkpoint.map_key`):

  visual.*          Qwen2_5_VisionTransformerPretrainedModel (stock)
  language_model.*  Qwen2_5_VLTextModel (stock: embed_tokens, layers, norm, rotary)
  lm_head.weight    only when the embeddings are not tied
  vis_norm, vis_proj  prototype projection (absent with use_visual_prototype_projection=false)
  vl_decoder.*      the PaDT decoder (ours)

The causal-LM wrapper class of transformers is not used: PaDT's output matrix is
[text rows; this batch's prototypes] and changes with every batch, so logits are
computed here (`vocab.ExtendedVocab`) from the text model's final hidden states.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import PadtConfig
from .decoder import PadtDecoder
from .family import ATTN_CHOICES, check_attn  # noqa: F401 - checked here too when a model is built
from .vision import VisionOutputs, vision_forward
from .vocab import ExtendedVocab, logit_mask_for_counts, project_prototypes, prototype_layers


class PadtModel(nn.Module):
    def __init__(self, cfg: PadtConfig, attn: str = "sdpa") -> None:
        super().__init__()
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
            Qwen2_5_VisionTransformerPretrainedModel,
            Qwen2_5_VLTextModel,
        )

        check_attn(attn)
        self.cfg = cfg
        self.attn = attn
        self.visual = Qwen2_5_VisionTransformerPretrainedModel(cfg.vision_config(attn))
        self.language_model = Qwen2_5_VLTextModel(cfg.text_config(attn))
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.use_visual_prototype_projection:
            self.vis_norm, self.vis_proj = prototype_layers(cfg.hidden_size)
        else:
            self.vis_norm = self.vis_proj = None
        self.vl_decoder = PadtDecoder(cfg.decoder)
        # flash-attn has no fp32 kernel; the decoder falls back to SDPA there (same maths)
        self.vl_decoder.set_attention(attn)

    # -- pieces of a forward pass --------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.language_model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.language_model.embed_tokens.weight.dtype

    def output_text_rows(self) -> torch.Tensor:
        """W_text: lm_head.weight, or the embedding table when the embeddings are tied."""
        return self.language_model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def encode_images(
        self, pixel_values: torch.Tensor, grid_thw: torch.Tensor, layout=None
    ) -> tuple[VisionOutputs, torch.Tensor]:
        """`layout`: the batch's `host_meta.VisionLayout` on this device (then no host sync)."""
        vis = vision_forward(self.visual, pixel_values, grid_thw, layout=layout)
        return vis, project_prototypes(self.vis_norm, self.vis_proj, vis.merged)

    def extended_vocab(self, prototypes: torch.Tensor, grid_thw: torch.Tensor, grids=None) -> ExtendedVocab:
        """`grids`: the (t, h, w) ints of the batch's images; read from `grid_thw` when None."""
        from .host_meta import host_grids

        grids = host_grids(grid_thw) if grids is None else grids
        counts = [t * h * w // self.cfg.merge_size**2 for t, h, w in grids]
        mask = logit_mask_for_counts(counts, self.cfg.vocab_size, device=prototypes.device)
        if mask.shape[1] != self.cfg.vocab_size + prototypes.shape[0]:
            raise ValueError("number of prototypes does not match the image grids")
        return ExtendedVocab(
            self.language_model.embed_tokens.weight,
            self.output_text_rows(),
            prototypes,
            mask,
            image_patches=[t * h * w for t, h, w in grids],
        )

    def prompt_embeds(
        self, ids_global: torch.Tensor, vocab: ExtendedVocab, merged: torch.Tensor, image_slots: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Embed global ids and overwrite image placeholders, in order, with the merged
        vision embeddings (not the prototypes: those are only for VRTs).

        `image_slots` (the placeholders' flat indices, `host_meta.PromptLayout`, checked on
        the host) makes this sync-free; without it the placeholders are found and checked
        here, reading the ids back."""
        if image_slots is not None:
            embeds = vocab.embed_ids(ids_global, check=False)  # range checked on the host
            embeds.view(-1, embeds.shape[-1]).index_copy_(0, image_slots, merged.to(embeds.dtype))
            return embeds
        embeds = vocab.embed_ids(ids_global)
        is_image = ids_global == self.cfg.image_token_id
        # PaDT's VRT offsets and logit mask assume row b holds image b and nothing else
        per_row = is_image.sum(dim=1).tolist()
        expected = [c // self.cfg.merge_size**2 for c in vocab.image_patches]
        if per_row != expected:
            raise ValueError(
                f"PaDT needs exactly one image per batch row: image tokens per row {per_row}, merged tokens per image {expected}"
            )
        embeds[is_image] = merged.to(embeds.dtype)
        return embeds

    def run_language_model(
        self,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache=None,
        all_hidden_states: bool = False,
    ):
        """Final (post-norm) hidden states; with `all_hidden_states` also every layer's."""
        out = self.language_model(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=cache is not None,
            output_hidden_states=all_hidden_states,
        )
        return out.last_hidden_state, (out.hidden_states if all_hidden_states else None)

    def decode_objects(self, *args, **kwargs):
        return self.vl_decoder(*args, **kwargs)


def restore_rotary_buffers(model: PadtModel, device: torch.device) -> None:
    """Rebuild the rotary embedding modules, whose (non-persistent) frequency buffers are not
    in any checkpoint; used after constructing on the meta device. Built in float32 like
    transformers does, whatever the weight dtype."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
        Qwen2_5_VLRotaryEmbedding,
        Qwen2_5_VLVisionRotaryEmbedding,
    )

    with torch.device(device):
        model.visual.rotary_pos_emb = Qwen2_5_VLVisionRotaryEmbedding(model.visual.config)
        model.language_model.rotary_emb = Qwen2_5_VLRotaryEmbedding(model.language_model.config)
    leftovers = [n for n, b in model.named_buffers() if b.is_meta]
    if leftovers:
        raise RuntimeError(f"buffers left uninitialised after loading: {leftovers}")
