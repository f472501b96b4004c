"""Our PaDT decoding loop.

What it does, and why it is not `model.generate`:

* A generated VRT is fed back as its *prototype* (the extended vocabulary's input row),
  and every step's logits span E + K columns under the per-sample mask. transformers'
  generate cannot express a per-batch vocabulary, so the loop is ours.
* The checkpoint's `generation_config` is honoured the way the reference's call honours
  it: `do_sample=False` (greedy) by default, yet the repetition penalty still applies, on
  the *extended* vocabulary (already-emitted VRT ids and prompt tokens, left padding
  included, are penalised); eos ids end a row; finished rows are filled with the pad id.
  Sampling (temperature / top-k / top-p) is available when asked for.
* Batched with left padding and a KV cache; logits are computed at the last position only,
  and only the final layer's hidden state of each step is kept (the decoder's input), not
  every layer at every step.
* `reference_memory=True` reproduces the reference's strategy (all layers' hidden states at
  every step, logits for every prompt position) for the benchmark; the tokens are the same.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .rope import decode_positions, rope_index
from .vocab import ExtendedVocab

# generation_config.json keys we act on; anything else is recorded as ignored
_USED_KEYS = {"eos_token_id", "pad_token_id", "bos_token_id", "repetition_penalty", "do_sample", "temperature",
              "top_k", "top_p", "max_new_tokens", "transformers_version", "_from_model_config"}


@dataclass
class GenerationSettings:
    max_new_tokens: int = 1024
    eos_token_ids: list[int] = field(default_factory=list)
    pad_token_id: int | None = None
    repetition_penalty: float = 1.0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    ignored_config_keys: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, folder: str | Path, **overrides) -> "GenerationSettings":
        """Read generation_config.json. Greedy unless `do_sample=True` is passed explicitly:
        the reference evaluation calls generate(do_sample=False) whatever the file says."""
        path = Path(folder) / "generation_config.json"
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        eos = raw.get("eos_token_id", [])
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        s = cls(
            eos_token_ids=[int(e) for e in eos],
            pad_token_id=raw.get("pad_token_id"),
            repetition_penalty=float(raw.get("repetition_penalty", 1.0) or 1.0),
            temperature=float(raw.get("temperature", 1.0) or 1.0),
            top_k=int(raw.get("top_k", 0) or 0),
            top_p=float(raw.get("top_p", 1.0) or 1.0),
            ignored_config_keys=sorted(k for k in raw if k not in _USED_KEYS),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(s, key, value)
        return s


@dataclass
class GenerationResult:
    sequences: torch.Tensor  # (B, L + T) prompt + completion, GLOBAL VRT ids
    step_hidden: torch.Tensor  # (B, T, D) final-layer state that produced each new token
    finished: torch.Tensor  # (B,) bool: the row emitted an eos id
    prompt_length: int
    prompt_hidden: torch.Tensor | None = None  # (B, L, D) when asked for (compat parsing)
    step_logits: torch.Tensor | None = None  # (B, T, E + K) raw masked logits when recorded
    all_layer_states: list | None = None  # reference_memory mode only

    @property
    def num_steps(self) -> int:
        return self.sequences.shape[1] - self.prompt_length


def repetition_penalty(ids: torch.Tensor, scores: torch.Tensor, penalty: float) -> torch.Tensor:
    """Divide positive / multiply negative scores of every id already in `ids` (-inf stays -inf)."""
    if penalty == 1.0:
        return scores
    seen = torch.gather(scores, 1, ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, ids, seen)


def _padding_as_first_token(ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """`ids` with each row's padded positions replaced by that row's first real token.

    The penalty then sees exactly the row's real tokens: a token that is already in the
    row gains nothing from appearing again (gather/scatter of a repeated index is
    idempotent), and the pad id is no longer counted."""
    first_real = attention_mask.long().argmax(dim=1)  # left padding: the first 1
    fill = ids.gather(1, first_real[:, None]).expand_as(ids)
    return torch.where(attention_mask.bool(), ids, fill)


def _sample(scores: torch.Tensor, s: GenerationSettings, gen: torch.Generator | None) -> torch.Tensor:
    scores = scores / max(s.temperature, 1e-6)
    if s.top_k and s.top_k > 0:
        kth = torch.topk(scores, min(s.top_k, scores.shape[-1]), dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        cum = sorted_scores.softmax(-1).cumsum(-1)
        drop = cum <= (1 - s.top_p)
        drop[:, -1] = False  # always keep the most likely token
        scores = scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    probs = scores.softmax(-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)


@torch.inference_mode()
def generate(
    model,
    vocab: ExtendedVocab,
    merged: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    grid_thw: torch.Tensor,
    settings: GenerationSettings,
    *,
    keep_prompt_hidden: bool = False,
    record_logits: bool = False,
    reference_memory: bool = False,
    penalise_padding: bool = True,
) -> GenerationResult:
    """Greedy (or sampled) decoding from GLOBAL-id prompts (B, L), left padded.

    `penalise_padding=True` is the reference (and stock `generate`) behaviour: the
    repetition penalty counts every id in the row, left padding included. The pad token
    of Qwen-style checkpoints is `<|endoftext|>`, which is also an eos id, so a padded row
    is less likely to stop there than the same sample run alone: greedy outputs then
    depend on what else is in the batch. With False, padding is not counted as "seen",
    and a sample's output no longer depends on its batch (up to float noise).
    """
    from transformers.cache_utils import DynamicCache

    cfg = model.cfg
    pad = settings.pad_token_id if settings.pad_token_id is not None else (settings.eos_token_ids or [0])[0]
    eos = torch.tensor(settings.eos_token_ids or [-1], device=input_ids.device)
    b, prompt_len = input_ids.shape
    positions, deltas = rope_index(
        input_ids, attention_mask, grid_thw, image_token_id=cfg.image_token_id, merge_size=cfg.merge_size
    )
    cache = DynamicCache(config=model.language_model.config)
    embeds = model.prompt_embeds(input_ids, vocab, merged)
    hidden, layers = model.run_language_model(embeds, attention_mask, positions, cache, all_hidden_states=reference_memory)
    all_layer_states = [layers] if reference_memory else None
    if reference_memory:
        last_logits = vocab.logits(hidden)[:, -1]  # the reference scores every prompt position
    else:
        last_logits = vocab.logits(hidden[:, -1])
    last_hidden = hidden[:, -1]
    prompt_hidden = hidden if keep_prompt_hidden else None
    del hidden, embeds

    gen = None
    if settings.do_sample:
        gen = torch.Generator(device=input_ids.device).manual_seed(settings.seed)
    seqs = input_ids
    penalty_ids = input_ids if penalise_padding else _padding_as_first_token(input_ids, attention_mask)
    unfinished = torch.ones(b, dtype=torch.bool, device=input_ids.device)
    step_hidden, step_logits = [], []
    mask = attention_mask
    for step in range(settings.max_new_tokens):
        raw = last_logits.float()
        if record_logits:
            step_logits.append(raw)
        scores = repetition_penalty(penalty_ids, raw, settings.repetition_penalty)
        nxt = _sample(scores, settings, gen) if settings.do_sample else torch.argmax(scores, dim=-1)
        nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad))
        seqs = torch.cat((seqs, nxt[:, None]), dim=1)
        penalty_ids = seqs if penalise_padding else torch.cat((penalty_ids, nxt[:, None]), dim=1)
        step_hidden.append(last_hidden)
        unfinished = unfinished & ~torch.isin(nxt, eos)
        if not bool(unfinished.any()) or step == settings.max_new_tokens - 1:
            break
        mask = torch.cat((mask, mask.new_ones((b, 1))), dim=1)
        pos = decode_positions(seqs.shape[1] - 1, deltas)
        hidden, layers = model.run_language_model(
            vocab.embed_ids(nxt[:, None]), mask, pos, cache, all_hidden_states=reference_memory
        )
        if reference_memory:
            all_layer_states.append(layers)
        last_hidden = hidden[:, -1]
        last_logits = vocab.logits(last_hidden)
    return GenerationResult(
        sequences=seqs,
        step_hidden=torch.stack(step_hidden, dim=1),
        finished=~unfinished,
        prompt_length=prompt_len,
        prompt_hidden=prompt_hidden,
        step_logits=torch.stack(step_logits, dim=1) if record_logits else None,
        all_layer_states=all_layer_states,
    )


@torch.inference_mode()
def teacher_forced_states(
    model,
    vocab: ExtendedVocab,
    merged: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    grid_thw: torch.Tensor,
    prompt_length: int,
    *,
    with_logits: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One forward over prompt + completion (GLOBAL ids); the final-layer states at positions
    prompt_length-1 ... end-1, i.e. the state that predicts each completion token."""
    cfg = model.cfg
    positions, _ = rope_index(
        input_ids, attention_mask, grid_thw, image_token_id=cfg.image_token_id, merge_size=cfg.merge_size
    )
    embeds = model.prompt_embeds(input_ids, vocab, merged)
    hidden, _ = model.run_language_model(embeds, attention_mask, positions, None)
    shifted = hidden[:, prompt_length - 1 : -1]
    return shifted, (vocab.logits(shifted) if with_logits else None)
