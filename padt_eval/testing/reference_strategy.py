"""The reference's decoding strategy, kept as the benchmarks' anchor (never used for results).

PaDT's released code decodes with a copy of transformers 4.50's `generate`: a growing
`DynamicCache` (every layer's keys and values concatenated every step), the attention
mask grown by concatenation, a host read of "all rows done?" after every step, the
hidden states of *every layer at every step* kept (only the last layer's are needed), and
logits for *every prompt position* over the extended vocabulary at prefill. This loop
does the same, on our model, so `benchmarks/bench_padt_generate.py` and
`benchmarks/bench_runner.py` (set as `PadtPipeline.alternative_generate`) measure what
`generation.generate` saves with the same tokens.
"""

from __future__ import annotations

import torch

from padt_eval.models.padt.generation import (
    GenerationResult,
    GenerationSettings,
    _padding_as_first_token,
    _sample,
    pad_id,
    prefill,
    repetition_penalty,
)
from padt_eval.models.padt.vocab import ExtendedVocab


@torch.inference_mode()
def generate_reference_strategy(
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
) -> GenerationResult:
    pad = pad_id(settings)
    eos = torch.tensor(settings.eos_token_ids or [-1], device=input_ids.device)
    b, prompt_len = input_ids.shape
    hidden, layers, cache, deltas = prefill(model, vocab, merged, input_ids, attention_mask, grid_thw, all_hidden_states=True)
    all_layer_states = [layers]
    last_logits = vocab.logits(hidden)[:, -1]  # every prompt position scored, the last one used
    last_hidden = hidden[:, -1]
    prompt_hidden = hidden if keep_prompt_hidden else None
    del hidden

    gen = torch.Generator(device=input_ids.device).manual_seed(settings.seed) if settings.do_sample else None
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
        cache_len = seqs.shape[1] - 1
        pos = (torch.arange(cache_len, cache_len + 1, device=deltas.device).view(1, -1) + deltas)[None].expand(3, -1, -1)
        hidden, layers = model.run_language_model(vocab.embed_ids(nxt[:, None]), mask, pos, cache, all_hidden_states=True)
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
