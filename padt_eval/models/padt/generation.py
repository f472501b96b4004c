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
* Batched with left padding; the prompt fills a KV cache once, then every decode step runs
  on preallocated, fixed-shape buffers (static KV cache, prototype table padded to a
  bucket) without host syncs (`decode_step`). Logits are computed at the last position only,
  and only the final layer's hidden state of each step is kept (the decoder's input), not
  every layer at every step.
* The reference's strategy (growing cache, all layers' hidden states at every step, logits
  for every prompt position) lives in `padt_eval.testing.reference_strategy`, the benchmarks' anchor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .decode_step import DecodeState, DecodeStep, attention_for_decoding, seen_table
from .rope import rope_index
from .static_cache import CACHE_LENGTH_BUCKET, StaticKVCache, bucketed
from .vocab import ExtendedVocab

# generation_config.json keys we act on; anything else is recorded as ignored
_USED_KEYS = {
    "eos_token_id",
    "pad_token_id",
    "bos_token_id",
    "repetition_penalty",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "max_new_tokens",
    "transformers_version",
    "_from_model_config",
}


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
    def from_checkpoint(cls, folder: str | Path, **overrides) -> GenerationSettings:
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
    all_layer_states: list | None = None  # the reference strategy (benchmarks) only
    steps_run: int = 0  # decode steps the loop ran (each one a step of every row), for bench_continuous

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
    probs = sampling_scores(scores, s).softmax(-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)


def sampling_scores(scores: torch.Tensor, s: GenerationSettings) -> torch.Tensor:
    """Scores divided by the temperature, with what top-k / top-p leave out at -inf."""
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
    return scores


# The host reads "is every row done?" once per this many steps (the only sync of the loop).
FINISH_CHECK_EVERY = 8


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
    compile_step: bool = False,
    check_every: int = FINISH_CHECK_EVERY,
    **options,
) -> GenerationResult:
    """Greedy (or sampled) decoding from GLOBAL-id prompts (B, L), left padded.

    `penalise_padding=True` is the reference (and stock `generate`) behaviour: the
    repetition penalty counts every id in the row, left padding included. The pad token
    of Qwen-style checkpoints is `<|endoftext|>`, which is also an eos id, so a padded row
    is less likely to stop there than the same sample run alone: greedy outputs then
    depend on what else is in the batch. With False, padding is not counted as "seen",
    and a sample's output no longer depends on its batch (up to float noise).

    The prompt runs once with a `DynamicCache`; the decode steps (`decode_step.DecodeStep`)
    then run on fixed-shape buffers without host syncs, and the loop asks whether all rows
    are done every `check_every` steps. Steps run after the last row finished only write
    pad tokens; the result is cut at the step where the last row finished, so it is the
    same as stopping at once. `compile_step` wraps the step in
    `torch.compile(fullgraph=True)` (greedy only). `options`: those of `start_decoding`
    (keep_prompt_hidden, record_logits, penalise_padding).
    """
    dec = start_decoding(model, vocab, merged, input_ids, attention_mask, grid_thw, settings, **options)
    state, steps = dec.step.state, settings.max_new_tokens
    run_step = compiled(dec.step) if compile_step and not settings.do_sample else dec.step
    ran = 0
    with attention_for_decoding(model):
        for t in range(1, steps):
            if t % check_every == 0 and not bool(state.unfinished.any()):
                break
            run_step()
            ran += 1
    result = dec.result()
    result.steps_run = ran
    return result


@dataclass
class Decoding:
    """A batch after its prefill: the first token chosen, the decode step ready to run."""

    step: DecodeStep
    input_ids: torch.Tensor
    vocab_size: int  # E + K: the width results are reported in
    prompt_hidden: torch.Tensor | None

    def result(self) -> GenerationResult:
        """Cut the buffers at the step where the last row finished (all steps when some row
        never did): the one host read of the finish state besides the periodic checks."""
        s = self.step.state
        steps = s.tokens.shape[1]
        n = int(s.finished_at.max()) + 1 if not bool(s.unfinished.any()) else steps
        return GenerationResult(
            sequences=torch.cat((self.input_ids, s.tokens[:, :n]), dim=1),
            step_hidden=s.hidden[:, :n],
            finished=~s.unfinished,
            prompt_length=self.input_ids.shape[1],
            prompt_hidden=self.prompt_hidden,
            step_logits=s.logits[:, :n, : self.vocab_size] if s.logits is not None else None,
        )


@torch.inference_mode()
def start_decoding(
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
    penalise_padding: bool = True,
    prompt=None,
) -> Decoding:
    """Run the prompt (a `DynamicCache`, as before), move its cache into the static buffers
    and choose the first token. `prompt`: the batch's `host_meta.PromptLayout` on the device
    (positions, rope deltas and image slots computed on the host); without it they are
    computed here from the ids and grids, reading them back."""
    pad = pad_id(settings)
    hidden, _, prefill_cache, deltas = prefill(model, vocab, merged, input_ids, attention_mask, grid_thw, prompt=prompt)
    last_logits = vocab.logits(hidden[:, -1])
    last_hidden = hidden[:, -1]
    prompt_hidden = hidden if keep_prompt_hidden else None
    del hidden

    padded = vocab.padded()
    state = _initial_state(
        padded, prefill_cache, input_ids, attention_mask, deltas, settings, pad, record_logits, penalise_padding
    )
    del prefill_cache
    fill = last_logits.new_full((input_ids.shape[0], padded.width - vocab.size), float("-inf"))
    step = DecodeStep(model, state, sampler=_sampler(settings, input_ids.device))
    step.choose(torch.cat((last_logits, fill), dim=1), last_hidden)
    return Decoding(step, input_ids, vocab.size, prompt_hidden)


def pad_id(settings: GenerationSettings) -> int:
    """What finished rows are filled with: the pad id, else the first eos id."""
    return settings.pad_token_id if settings.pad_token_id is not None else (settings.eos_token_ids or [0])[0]


def prefill(model, vocab, merged, input_ids, attention_mask, grid_thw, *, all_hidden_states: bool = False, prompt=None):
    """The prompt through the text model with a fresh `DynamicCache`: final states (B, L, D),
    every layer's (when asked), the cache, and the rope deltas of the decode positions."""
    from transformers.cache_utils import DynamicCache

    positions, deltas, slots = _prompt_inputs(model, input_ids, attention_mask, grid_thw, prompt)
    cache = DynamicCache(config=model.language_model.config)
    embeds = model.prompt_embeds(input_ids, vocab, merged, image_slots=slots)
    hidden, layers = model.run_language_model(embeds, attention_mask, positions, cache, all_hidden_states=all_hidden_states)
    return hidden, layers, cache, deltas


def _prompt_inputs(model, input_ids, attention_mask, grid_thw, prompt):
    """(positions, deltas, image slots) from the host layout, else computed from the ids on
    their device (slots None: `prompt_embeds` finds and checks the placeholders itself)."""
    if prompt is not None:
        return prompt.positions, prompt.deltas, prompt.image_slots
    cfg = model.cfg
    positions, deltas = rope_index(
        input_ids, attention_mask, grid_thw, image_token_id=cfg.image_token_id, merge_size=cfg.merge_size
    )
    return positions, deltas, None


def _initial_state(
    padded, prefill_cache, input_ids, attention_mask, deltas, settings, pad, record_logits, penalise_padding
) -> DecodeState:
    b, prompt_len = input_ids.shape
    steps = settings.max_new_tokens
    dev = input_ids.device
    cache_len = bucketed(prompt_len + steps, CACHE_LENGTH_BUCKET)
    # fills, not copies from the host: a blocking upload here would wait for the prefill
    write_pos = torch.full((), prompt_len, dtype=torch.long, device=dev)
    keep = torch.zeros((b, cache_len), dtype=torch.bool, device=dev)
    keep[:, :prompt_len] = attention_mask.bool()
    width, dim = padded.width, padded.embed.shape[1]
    seen = None
    if settings.repetition_penalty != 1.0:
        ids = input_ids if penalise_padding else _padding_as_first_token(input_ids, attention_mask)
        seen = seen_table(ids, width)
    return DecodeState(
        vocab=padded,
        cache=StaticKVCache.from_prefill(prefill_cache, cache_len, write_pos),
        keep=keep,
        deltas=deltas,
        step=torch.zeros((), dtype=torch.long, device=dev),
        write_pos=write_pos,
        tokens=torch.full((b, steps), pad, dtype=torch.long, device=dev),
        hidden=padded.embed.new_zeros((b, steps, dim)),
        logits=torch.zeros((b, steps, width), dtype=torch.float32, device=dev) if record_logits else None,
        seen=seen,
        unfinished=torch.ones(b, dtype=torch.bool, device=dev),
        finished_at=torch.full((b,), steps, dtype=torch.long, device=dev),
        eos=torch.cat([torch.full((1,), e, dtype=torch.long, device=dev) for e in settings.eos_token_ids or [-1]]),
        pad_id=int(pad),
        penalty=float(settings.repetition_penalty),
    )


def _sampler(settings: GenerationSettings, device):
    if not settings.do_sample:
        return None
    gen = torch.Generator(device=device).manual_seed(settings.seed)
    return lambda scores: _sample(scores, settings, gen)


# "inductor" on a GPU; the tests use "aot_eager" (same capture, no C++ build)
COMPILE_BACKEND = "inductor"


def compiled(step: DecodeStep):
    """`torch.compile` of the whole step: one graph (fullgraph=True), shapes fixed per batch.
    A new batch with the same shapes (batch size, K bucket, cache-length bucket) reuses it."""
    return torch.compile(step.__call__, fullgraph=True, dynamic=False, backend=COMPILE_BACKEND)
