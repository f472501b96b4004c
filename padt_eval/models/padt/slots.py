"""Decode slots: the fixed-shape, sync-free step of PaDT's continuous batching.

The static loop (`decode_step`) runs one batch from its prefill to its last row's end, so a
row that finished early keeps costing a full row of compute. Here the B rows are *slots*:
when a sample ends, its slot takes the next sample (`continuous.ContinuousDecoder`), so
every row of a step holds its own sample at its own point. What that changes in the state:

* **per-row positions**: each slot has its own step, its own cache column to write next
  (`write_pos`, a (B,) tensor: `StaticKVCache` scatters per row) and its own rope deltas;
* **per-slot vocabulary**: each slot owns a block of `k_cap` prototype rows
  (`protos` (B, k_cap, D)) and a mask of the rows that are real (`vrt_ok`), so a sample's
  VRTs are its LOCAL ids E + i in any slot, and the logits are (B, E + k_cap): text columns,
  then the slot's own prototypes (the static layout's E + K columns minus every other
  sample's masked ones: the same dot products, the same first-max order);
* **a live flag per row**: a step advances only live rows; the others (finished, out of
  budget, or empty) write to a scratch column of the token buffer and of the cache, which
  no live row attends to, so their buffers keep what the host will read.

Sampling draws Gumbel noise from a hash of (the sample's seed, its step, the column)
instead of a shared generator, so a sampled answer depends on the sample alone, not on
its slot or on what else runs beside it.

Nothing in a step reads a value on the host; shapes change only when a sample needs more
prototype rows or cache columns than allocated (`SlotState.fit`), which is rare.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .decode_step import _DECODE_ATTENTION, penalise_seen
from .static_cache import CACHE_LENGTH_BUCKET, StaticKVCache, attention_mask_for, bucketed

# Prototype rows per slot are rounded up to this, so that a new sample rarely needs more.
SLOT_VRT_BUCKET = 512

_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (two multiply-xorshift rounds) on int64 values below 2**32;
    products stay below 2**59, so no int64 overflow."""
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _MASK32
    return (x >> 16) ^ x


def gumbel_noise(seeds: torch.Tensor, steps: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) Gumbel(0, 1) noise, a pure function of (seed, step, column) per row."""
    cols = torch.arange(width, device=seeds.device)
    h = _mix32(_mix32(_mix32(seeds & _MASK32)[:, None] ^ steps[:, None]) ^ cols[None, :])
    u = ((h >> 8).to(torch.float32) + 0.5) / float(1 << 24)  # 24 bits: exact in float32, inside (0, 1)
    return -torch.log(-torch.log(u))


def slot_logits(hidden: torch.Tensor, out_text: torch.Tensor, protos: torch.Tensor, vrt_ok: torch.Tensor) -> torch.Tensor:
    """(B, E + k_cap) logits of last-position states (B, D): every text column, then the
    slot's own prototypes, rows past its image's count masked to -inf."""
    text = hidden @ out_text.T
    vrt = torch.bmm(protos.to(hidden.dtype), hidden[:, :, None]).squeeze(2)
    return torch.cat((text, vrt.masked_fill(~vrt_ok, float("-inf"))), dim=1)


def embed_local(ids: torch.Tensor, embed: torch.Tensor, protos: torch.Tensor) -> torch.Tensor:
    """(B, 1, D) embeddings of LOCAL ids (B, 1): text rows, or the slot's own prototype."""
    vocab = embed.shape[0]
    text = torch.nn.functional.embedding(ids.clamp(max=vocab - 1), embed)
    rows = (ids - vocab).clamp(0, protos.shape[1] - 1)
    vrt = protos.gather(1, rows[:, :, None].expand(-1, -1, protos.shape[2])).to(text.dtype)
    return torch.where((ids >= vocab)[..., None], vrt, text)


@dataclass
class SlotState:
    embed: torch.Tensor  # (E, D) input rows
    out_text: torch.Tensor  # (E, D) output rows
    protos: torch.Tensor  # (B, k_cap, D) each slot's prototypes, zero past its count
    vrt_ok: torch.Tensor  # (B, k_cap) bool: real prototype rows
    cache: StaticKVCache  # (B, H, S, D) per layer; its write_pos is `col`
    keep: torch.Tensor  # (B, S) bool: cache columns a row may attend to
    deltas: torch.Tensor  # (B,) long rope deltas
    write_pos: torch.Tensor  # (B,) long: cache column of the row's next fed token
    col: torch.Tensor  # (B,) long: the column this step writes (write_pos, or the scratch column)
    step: torch.Tensor  # (B,) long: index of the token chosen last
    tokens: torch.Tensor  # (B, T + 1) long LOCAL ids; column T is scratch
    hidden: torch.Tensor  # (B, T + 1, D) the state that produced each token
    seen: torch.Tensor | None  # (B, E + k_cap) bool, None without a penalty
    live: torch.Tensor  # (B,) bool: occupied, no eos yet, budget left
    finished_at: torch.Tensor  # (B,) long: step of the eos, T when none
    seeds: torch.Tensor  # (B,) long: each sample's sampling seed
    eos: torch.Tensor  # (n,) long
    pad_id: int
    penalty: float
    max_steps: int  # T

    @property
    def slots(self) -> int:
        return self.tokens.shape[0]

    @property
    def k_cap(self) -> int:
        return self.protos.shape[1]

    @property
    def cache_len(self) -> int:
        return self.keep.shape[1]

    @classmethod
    def allocate(cls, *, slots, prefill_cache, embed, out_text, prompt_len, k, settings, pad) -> SlotState:
        """Empty slots shaped after one prefill (layers, heads, dtypes): room for prompts of
        `prompt_len` tokens and `k` prototypes, both rounded up to their buckets."""
        dev, steps = embed.device, settings.max_new_tokens
        s = bucketed(prompt_len + steps + 1, CACHE_LENGTH_BUCKET)  # + 1: the scratch column
        col = torch.full((slots,), s - 1, dtype=torch.long, device=dev)

        def buffer(t):  # (slots, kv heads, s, head dim), like a prefill layer's keys or values
            return t.new_zeros((slots, t.shape[1], s, t.shape[3]))

        keys = [buffer(layer.keys) for layer in prefill_cache.layers]
        values = [buffer(layer.values) for layer in prefill_cache.layers]
        k_cap = bucketed(max(k, 1), SLOT_VRT_BUCKET)
        keep = torch.zeros((slots, s), dtype=torch.bool, device=dev)
        keep[:, -1] = True  # an empty slot attends to its scratch column: no all-masked row, no NaN
        long = dict(dtype=torch.long, device=dev)
        return cls(
            embed=embed,
            out_text=out_text,
            protos=embed.new_zeros((slots, k_cap, embed.shape[1])),
            vrt_ok=torch.zeros((slots, k_cap), dtype=torch.bool, device=dev),
            cache=StaticKVCache(keys, values, col),
            keep=keep,
            deltas=torch.zeros((slots,), **long),
            write_pos=torch.full((slots,), s - 1, **long),
            col=col,
            step=torch.zeros((slots,), **long),
            tokens=torch.full((slots, steps + 1), pad, **long),
            hidden=embed.new_zeros((slots, steps + 1, embed.shape[1])),
            seen=torch.zeros((slots, embed.shape[0] + k_cap), dtype=torch.bool, device=dev)
            if settings.repetition_penalty != 1.0
            else None,
            live=torch.zeros((slots,), dtype=torch.bool, device=dev),
            finished_at=torch.full((slots,), steps, **long),
            seeds=torch.zeros((slots,), **long),
            eos=torch.cat([torch.full((1,), e, **long) for e in settings.eos_token_ids or [-1]]),  # fills, no upload
            pad_id=int(pad),
            penalty=float(settings.repetition_penalty),
            max_steps=steps,
        )

    def fit(self, prompt_len: int, k: int) -> None:
        """Grow the cache (columns) or the prototype blocks when a new sample needs more.
        The scratch column moves to the new end; live rows keep their columns."""
        need = prompt_len + self.max_steps + 1
        if need > self.cache_len:
            s = bucketed(need, CACHE_LENGTH_BUCKET)
            grow = s - self.cache_len
            pad = (0, 0, 0, grow)  # the column axis of (B, H, S, D)
            self.cache.keys = [torch.nn.functional.pad(t, pad) for t in self.cache.keys]
            self.cache.values = [torch.nn.functional.pad(t, pad) for t in self.cache.values]
            old_scratch = self.cache_len - 1
            keep = torch.nn.functional.pad(self.keep, (0, grow))
            keep[:, old_scratch] = False
            keep[:, -1] = ~self.live  # the scratch column: never for a live row
            self.keep = keep
            self.write_pos.masked_fill_(self.write_pos == old_scratch, s - 1)
        if k > self.k_cap:
            grow = bucketed(k, SLOT_VRT_BUCKET) - self.k_cap
            self.protos = torch.nn.functional.pad(self.protos, (0, 0, 0, grow))
            self.vrt_ok = torch.nn.functional.pad(self.vrt_ok, (0, grow))
            if self.seen is not None:
                self.seen = torch.nn.functional.pad(self.seen, (0, grow))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return slot_logits(hidden, self.out_text, self.protos, self.vrt_ok)


class SlotStep:
    """One decode step over every slot (compilable as a whole, like `decode_step.DecodeStep`)."""

    def __init__(self, model, state: SlotState, *, pick=None):
        self.model = model
        self.state = state
        self.pick = pick  # (scores, seeds, steps) -> ids; None = greedy
        impl = model.language_model.config._attn_implementation
        self.attn_impl = _DECODE_ATTENTION.get(impl, impl)

    def choose(self, raw_logits: torch.Tensor, hidden: torch.Tensor, update: torch.Tensor) -> None:
        """Pick each `update` row's token at its `step` and record it; other rows write to
        the scratch column and keep their state."""
        s = self.state
        at = torch.where(update, s.step, s.max_steps)[:, None]
        scores = raw_logits.float()
        scores = penalise_seen(scores, s.seen, s.penalty) if s.seen is not None else scores
        nxt = self.pick(scores, s.seeds, s.step) if self.pick is not None else torch.argmax(scores, dim=-1)
        nxt = torch.where(update, nxt, torch.full_like(nxt, s.pad_id))
        s.tokens.scatter_(1, at, nxt[:, None])
        s.hidden.scatter_(1, at[:, :, None].expand(-1, 1, s.hidden.shape[2]), hidden[:, None].to(s.hidden.dtype))
        if s.seen is not None:
            s.seen.scatter_(1, nxt[:, None], s.seen.gather(1, nxt[:, None]) | update[:, None])
        hit = (nxt[:, None] == s.eos[None, :]).any(dim=1) & update
        s.finished_at.copy_(torch.where(hit, s.step, s.finished_at))
        s.live.logical_and_(~hit & (s.step < s.max_steps - 1))

    def __call__(self) -> None:
        """Feed each live row's last token at its own column and position; choose the next."""
        s = self.state
        live = s.live.clone()
        fed = s.tokens.gather(1, s.step[:, None])  # (B, 1)
        s.col.copy_(torch.where(live, s.write_pos, s.cache_len - 1))
        s.keep.scatter_(1, s.col[:, None], True)
        positions = (s.col + s.deltas).view(1, -1, 1).expand(3, -1, -1)
        out = self.model.language_model(
            inputs_embeds=embed_local(fed, s.embed, s.protos),
            attention_mask=attention_mask_for(s.keep, self.attn_impl, self.model.dtype),
            position_ids=positions,
            cache=s.cache,
            use_cache=True,
        )
        last = out.last_hidden_state[:, -1]
        s.write_pos.add_(live.long())
        s.step.add_(live.long())
        self.choose(s.logits(last), last, live)
