"""Greedy generation with per-token log-probabilities, and decoding that keeps track of characters.

Why this exists: a coordinate-text model gives no confidence with its boxes, so COCO AP
over its detections would rank them arbitrarily. When our adapter generated the text we
know each token's probability, so a box's confidence is the mean log-probability of the
tokens that spell its coordinates. That needs (1) the model's own distribution at each
step, taken from the raw logits (`output_logits=True`, before any logits processor), and
(2) the character span of every generated token in the decoded text, so a parser's
character span maps back to tokens.

Decoding keeps special tokens (`<|box_start|>`, `<loc_…>`, `<patch_index_…>` and `<box>`
are how some families write boxes) and stops at the first end-of-sequence token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class Generated:
    """One sample's generated tokens, their log-probabilities and their text."""

    token_ids: list[int]
    logprobs: list[float]
    text: str
    offsets: list[tuple[int, int]]  # character span of each token in `text`
    stopped: bool  # an end-of-sequence token was generated (False: cut off at max_new_tokens)

    def span_score(self, span: tuple[int, int], shift: int = 0) -> float | None:
        """Mean log-probability of the tokens overlapping `span` (characters of a text
        that starts `shift` characters before this generation's text)."""
        s, e = span[0] - shift, span[1] - shift
        vals = [lp for (ts, te), lp in zip(self.offsets, self.logprobs) if ts < e and te > s]
        if not vals:
            return None
        mean = sum(vals) / len(vals)
        return mean if math.isfinite(mean) else -1e4


def cut_at_eos(ids: Sequence[int], eos_ids: set[int]) -> tuple[list[int], bool]:
    out: list[int] = []
    for t in ids:
        if t in eos_ids:
            return out, True
        out.append(int(t))
    return out, False


def decode_with_offsets(tokenizer: Any, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """Decode keeping special tokens; token i covers text[offsets[i][0]:offsets[i][1]].

    Offsets come from decoding growing prefixes, which is exact for byte-level BPE and
    sentencepiece decoders whenever a prefix decodes to a prefix of the whole (always, in
    the formats here); a token that completes a multi-byte character gets the character.
    """
    text = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    offsets: list[tuple[int, int]] = []
    prev = 0
    for i in range(1, len(ids) + 1):
        prefix = tokenizer.decode(ids[:i], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        end = len(prefix)
        # A prefix ending inside a multi-byte character decodes to U+FFFD; it is not text yet.
        while end > prev and prefix[end - 1] == "\ufffd" and not text.startswith(prefix):
            end -= 1
        end = min(max(end, prev), len(text))
        offsets.append((prev, end))
        prev = end
    return text, offsets


def token_logprobs(logits: Sequence[Any], sequences: Any) -> list[list[float]]:
    """log p(token) under the raw logits of each step, for each row: logits[k] scored the
    token at column `len(sequences[0]) - len(logits) + k`."""
    import torch

    n = len(logits)
    if n == 0:
        return [[] for _ in range(sequences.shape[0])]
    steps = torch.stack([step.float() for step in logits], dim=1)  # (batch, n, vocab)
    chosen = sequences[:, -n:].to(steps.device)
    lp = torch.log_softmax(steps, dim=-1).gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
    return lp.cpu().tolist()


def own_tokens_repetition_penalty(penalty: float, first_real: Any):
    """transformers' repetition penalty, counting each row's own tokens only.

    Stock `generate` penalises every id in a row, its left padding included; the pad token
    of Qwen-style checkpoints (`<|endoftext|>`) is also an end-of-sequence id, so a padded
    row is less likely to stop there than the same sample alone, and greedy output would
    depend on what else is in the batch. Padded positions are replaced by the row's first
    real token (already counted, so counting it again changes nothing), which makes a
    batched row's penalty exactly its batch-1 penalty.
    """
    import torch
    from transformers import LogitsProcessor

    class OwnTokensRepetitionPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            start = first_real.to(input_ids.device)
            pos = torch.arange(input_ids.shape[1], device=input_ids.device)
            ids = torch.where(pos[None, :] >= start[:, None], input_ids, input_ids.gather(1, start[:, None]))
            score = scores.gather(1, ids)
            score = torch.where(score < 0, score * penalty, score / penalty)
            return scores.scatter(1, ids, score)

    return OwnTokensRepetitionPenalty()


def batch_invariant_penalty(model: Any, inputs: dict, extra: dict) -> dict:
    """Swap the checkpoint's repetition penalty for `own_tokens_repetition_penalty` on
    left-padded decoder-only batches (an encoder-decoder's decoder is never padded)."""
    penalty = float(getattr(model.generation_config, "repetition_penalty", None) or 1.0)
    mask = inputs.get("attention_mask")
    if penalty == 1.0 or mask is None or getattr(model.config, "is_encoder_decoder", False) or "repetition_penalty" in extra:
        return extra
    from transformers import LogitsProcessorList

    first_real = (mask == 0).long().sum(dim=1)  # left padding: the zeros come first
    processors = LogitsProcessorList(extra.get("logits_processor") or [])
    processors.append(own_tokens_repetition_penalty(penalty, first_real))
    return {**extra, "repetition_penalty": 1.0, "logits_processor": processors}


def greedy_generate(model: Any, inputs: dict, *, max_new_tokens: int, eos_ids: set[int], tokenizer: Any, **extra: Any) -> list[Generated]:
    """Generate greedily for a batch; return each row's new tokens, log-probs and text."""
    import torch

    extra = batch_invariant_penalty(model, inputs, extra)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            output_logits=True,
            return_dict_in_generate=True,
            **extra,
        )
    sequences = out.sequences
    lps = token_logprobs(out.logits, sequences)
    n = len(out.logits)
    results: list[Generated] = []
    for row in range(sequences.shape[0]):
        new = sequences[row, sequences.shape[1] - n :].tolist() if n else []
        ids, stopped = cut_at_eos(new, eos_ids)
        text, offsets = decode_with_offsets(tokenizer, ids)
        results.append(Generated(ids, lps[row][: len(ids)], text, offsets, stopped))
    return results
