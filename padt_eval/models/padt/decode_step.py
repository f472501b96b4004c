"""One PaDT decode step with fixed shapes and no host synchronisation.

Everything a step reads or writes lives in preallocated device tensors (`DecodeState`):
the static KV cache and its (B, S) mask, the token / hidden-state / logits buffers
(B, T, ...), the "already seen" table of the repetition penalty, the finished flags, and
the step counter itself as a 0-d tensor. A step

  1. feeds the token chosen last (a gather from the token buffer at `step`) through the
     text model: its embedding is a gather over the padded prototype table + `torch.where`
     (`vocab.PaddedVocab`), the cache column is written at `write_pos` (`StaticKVCache`);
  2. scores the last position over E + K_padded columns (padding masked to -inf);
  3. chooses the next token (penalty via the seen table, argmax or sampling), writes it,
     the state that produced it and optionally the raw logits at `step` with `index_copy_`,
     and updates the finished flags and the step at which each row finished.

No `.item()`, `.any()` to Python, boolean indexing or `nonzero` runs inside; whether every
row is done is read by the caller every few steps (`generation.generate`). Since shapes and
control flow do not depend on values, `torch.compile(step, fullgraph=True)` captures it
whole, and on CUDA it could be replayed as a graph.

The arithmetic is the one the older loop did (same dot products, same penalty formula,
first-max argmax), so greedy tokens are the same.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .static_cache import StaticKVCache, attention_mask_for
from .vocab import PaddedVocab


def seen_table(ids: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) bool: True where the id occurs in the row of `ids`."""
    seen = torch.zeros((ids.shape[0], width), dtype=torch.bool, device=ids.device)
    return seen.scatter_(1, ids, True)


def penalise_seen(scores: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """The repetition penalty as an elementwise select: the same values as gathering the seen
    ids' scores, dividing positive / multiplying negative ones, and scattering them back."""
    if penalty == 1.0:
        return scores
    return torch.where(seen, torch.where(scores < 0, scores * penalty, scores / penalty), scores)


# transformers' flash-attn path unpads by the 2-D mask (host syncs) and takes no static 4-D
# mask, so decode steps of a flash-attn model attend through SDPA (same maths)
_DECODE_ATTENTION = {"flash_attention_2": "sdpa"}


@contextmanager
def attention_for_decoding(model):
    """Switch the text model's attention kernel to the decode steps' one for the block."""
    cfg = model.language_model.config
    before = cfg._attn_implementation
    cfg._attn_implementation = _DECODE_ATTENTION.get(before, before)
    try:
        yield
    finally:
        cfg._attn_implementation = before


@dataclass
class DecodeState:
    vocab: PaddedVocab
    cache: StaticKVCache
    keep: torch.Tensor  # (B, S) bool: key columns a query may attend to
    deltas: torch.Tensor  # (B, 1) rope deltas
    step: torch.Tensor  # 0-d long: index in the token buffer of the token chosen last
    write_pos: torch.Tensor  # 0-d long: cache column of the next fed token (= prompt length + step)
    tokens: torch.Tensor  # (B, T) long, pad where not generated
    hidden: torch.Tensor  # (B, T, D) the final-layer state that produced each token
    logits: torch.Tensor | None  # (B, T, E + K_padded) raw masked logits, when recorded
    seen: torch.Tensor | None  # (B, E + K_padded) bool, None without a penalty
    unfinished: torch.Tensor  # (B,) bool
    finished_at: torch.Tensor  # (B,) long: step of the row's eos, T when none yet
    eos: torch.Tensor  # (n,) long
    pad_id: int
    penalty: float


class DecodeStep:
    """Callable decode step over one batch's `DecodeState` (compilable as a whole)."""

    def __init__(self, model, state: DecodeState, *, sampler=None):
        self.model = model
        self.state = state
        self.sampler = sampler  # (scores) -> ids; None = greedy
        impl = model.language_model.config._attn_implementation
        self.attn_impl = _DECODE_ATTENTION.get(impl, impl)

    def choose(self, raw_logits: torch.Tensor, hidden: torch.Tensor) -> None:
        """Pick the token at `state.step` from that step's logits and record it."""
        s = self.state
        at = s.step.view(1)
        raw = raw_logits.float()
        if s.logits is not None:
            s.logits.index_copy_(1, at, raw[:, None])
        scores = penalise_seen(raw, s.seen, s.penalty) if s.seen is not None else raw
        nxt = self.sampler(scores) if self.sampler is not None else torch.argmax(scores, dim=-1)
        nxt = torch.where(s.unfinished, nxt, torch.full_like(nxt, s.pad_id))
        s.tokens.index_copy_(1, at, nxt[:, None])
        s.hidden.index_copy_(1, at, hidden[:, None].to(s.hidden.dtype))
        if s.seen is not None:
            s.seen.scatter_(1, nxt[:, None], True)
        hit = (nxt[:, None] == s.eos[None, :]).any(dim=1) & s.unfinished
        s.finished_at.copy_(torch.where(hit, s.step, s.finished_at))
        s.unfinished.logical_and_(~hit)

    def __call__(self) -> None:
        """Feed the token chosen last, then choose the next one."""
        s = self.state
        fed = s.tokens.index_select(1, s.step.view(1))  # (B, 1)
        s.keep.index_fill_(1, s.write_pos.view(1), True)
        positions = (s.write_pos + s.deltas).view(1, -1, 1).expand(3, -1, -1)
        out = self.model.language_model(
            inputs_embeds=s.vocab.embed_ids(fed),
            attention_mask=attention_mask_for(s.keep, self.attn_impl, self.model.dtype),
            position_ids=positions,
            cache=s.cache,
            use_cache=True,
        )
        last = out.last_hidden_state[:, -1]
        s.write_pos.add_(1)
        s.step.add_(1)
        self.choose(s.vocab.logits(last), last)
