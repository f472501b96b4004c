"""Greedy generation with per-token log-probabilities, and decoding that keeps track of characters.

Why this exists: a coordinate-text model gives no confidence with its boxes, so COCO AP
over its detections would rank them arbitrarily. When our adapter generated the text we
know each token's probability, so a box's confidence is the mean log-probability of the
tokens that spell its coordinates. That needs (1) the model's own distribution at each
step, taken from the raw logits (before any logits processor; only the chosen token's
log-probability is kept, see `ChosenTokenLogprobs`), and
(2) the character span of every generated token in the decoded text, so a parser's
character span maps back to tokens.

Decoding keeps special tokens (`<|box_start|>`, `<loc_…>`, `<patch_index_…>` and `<box>`
are how some families write boxes) and stops at the first end-of-sequence token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Generated:
    """One sample's generated tokens, their log-probabilities and their text."""

    token_ids: list[int]
    logprobs: list[float]
    text: str
    offsets: list[tuple[int, int]]  # character span of each token in `text`
    stopped: bool  # an end-of-sequence token was generated (False: cut off at max_new_tokens)
    #: tokens of this row's model input, padding excluded (the attention mask's ones: the
    #: chat template, the prompt and the image's placeholder tokens); None: not known
    prompt_tokens: int | None = None

    @property
    def completion_tokens(self) -> int:
        """The decode steps this answer took: its tokens, plus the end-of-sequence token
        when it stopped (that step was computed too)."""
        return len(self.token_ids) + (1 if self.stopped else 0)

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

    Token i ends where the decoded prefix ids[:i+1] ends (exact for byte-level BPE and
    sentencepiece decoders whenever a prefix decodes to a prefix of the whole: always, in
    the formats here); a token that completes a multi-byte character gets the character.

    Incremental, so linear in the answer length: prefix ids[:i+1] is decoded as the text
    up to an *anchor* (the last token boundary whose prefix is a prefix of the text) plus
    the decoding of the few ids after it. The window starts one token before the anchor
    and that token's own text is cut off again, so a decoder that drops the leading space
    of a sequence's first token (sentencepiece) sees the same context as in the full
    prefix.
    """

    def dec(part: list[int]) -> str:
        return tokenizer.decode(part, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    text = dec(ids)
    offsets: list[tuple[int, int]] = []
    prev = 0
    anchor, anchor_len = 0, 0  # ids[:anchor] decodes to text[:anchor_len]
    for i in range(1, len(ids) + 1):
        if anchor == 0:
            prefix = dec(ids[:i])
        else:
            head = dec(ids[anchor - 1 : anchor])
            window = dec(ids[anchor - 1 : i])
            prefix = text[:anchor_len] + window[len(head) :] if window.startswith(head) else dec(ids[:i])
        end = len(prefix)
        # A prefix ending inside a multi-byte character decodes to U+FFFD; it is not text yet.
        clean = text.startswith(prefix)
        while end > prev and prefix[end - 1] == "\ufffd" and not clean:
            end -= 1
        end = min(max(end, prev), len(text))
        offsets.append((prev, end))
        prev = end
        if clean:
            anchor, anchor_len = i, len(prefix)
    return text, offsets


class ChosenTokenLogprobs:
    """A logits processor that keeps log p(chosen token) of every step and nothing else.

    Step t's token is only known after the processors ran, so the processor holds the
    log-softmax of the latest step (B x V, one step only) and reads it at the next call,
    whose `input_ids` end with that step's token; `finish(sequences)` reads the last step.
    Memory is one step's distribution plus B floats per step, whatever the answer length.
    Must see the raw logits: `greedy_generate` puts it before every other processor.
    """

    def __init__(self) -> None:
        self._pending = None
        self._values: list = []

    def __call__(self, input_ids, scores):
        import torch

        if self._pending is not None:
            self._take(input_ids[:, -1])
        self._pending = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def _take(self, chosen) -> None:
        self._values.append(self._pending.gather(1, chosen.to(self._pending.device)[:, None]).squeeze(1))
        self._pending = None

    def finish(self, sequences) -> list[list[float]]:
        """(B, steps) log-probabilities as lists; `sequences` ends with the last step's tokens."""
        import torch

        if self._pending is not None:
            self._take(sequences[:, -1])
        if not self._values:
            return [[] for _ in range(sequences.shape[0])]
        return torch.stack(self._values, dim=1).cpu().tolist()

    @property
    def steps(self) -> int:
        return len(self._values) + (self._pending is not None)


# generation_config settings whose processors `generate` runs before any passed-in one, and
# which change the scores; with any of them on, the chosen-token recorder would not see the
# raw logits, so `greedy_generate` asks generate for all logits instead (old, costly path)
_SCORE_CHANGING_SETTINGS = (
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "min_length",
    "min_new_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "suppress_tokens",
    "begin_suppress_tokens",
    "sequence_bias",
    "exponential_decay_length_penalty",
    "renormalize_logits",
    "watermarking_config",
)


def _scores_changed_before_custom_processors(model: Any, extra: dict) -> list[str]:
    cfg = model.generation_config
    active = []
    for name in _SCORE_CHANGING_SETTINGS:
        value = extra.get(name, getattr(cfg, name, None))
        if value not in (None, 0, False, [], {}):
            active.append(name)
    for name in ("repetition_penalty", "encoder_repetition_penalty", "guidance_scale"):
        value = extra.get(name, getattr(cfg, name, None))
        if value not in (None, 1, 1.0):
            active.append(name)
    return active


def token_logprobs(logits: Sequence[Any], sequences: Any) -> list[list[float]]:
    """log p(token) under all steps' raw logits (the fallback path), for each row: logits[k]
    scored the token at column `len(sequences[0]) - len(logits) + k`. One step at a time,
    so the temporaries are one step's size."""
    import torch

    n = len(logits)
    if n == 0:
        return [[] for _ in range(sequences.shape[0])]
    chosen = sequences[:, -n:]
    rows = [
        torch.log_softmax(step.float(), dim=-1).gather(1, chosen[:, k : k + 1].to(step.device)).squeeze(1)
        for k, step in enumerate(logits)
    ]
    return torch.stack(rows, dim=1).cpu().tolist()


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


def greedy_generate(
    model: Any, inputs: dict, *, max_new_tokens: int, eos_ids: set[int], tokenizer: Any, **extra: Any
) -> list[Generated]:
    """Generate greedily for a batch; return each row's new tokens, log-probs and text.

    Log-probabilities come from the raw logits. Normally a `ChosenTokenLogprobs` processor
    records only the chosen token's (O(batch) memory per step); `prefix_allowed_tokens_fn`
    is turned into its processor *after* the recorder. Where the generation config itself
    changes scores before passed-in processors run (`_SCORE_CHANGING_SETTINGS`), all raw
    logits are requested instead (memory O(batch x vocab) per step)."""
    import torch
    from transformers import LogitsProcessorList, PrefixConstrainedLogitsProcessor

    extra = batch_invariant_penalty(model, inputs, extra)
    recorder = None
    if not _scores_changed_before_custom_processors(model, extra):
        recorder = ChosenTokenLogprobs()
        processors = LogitsProcessorList([recorder])
        allowed = extra.pop("prefix_allowed_tokens_fn", None)
        if allowed is not None:
            processors.append(PrefixConstrainedLogitsProcessor(allowed, num_beams=1))
        processors.extend(extra.get("logits_processor") or [])
        extra = {**extra, "logits_processor": processors}
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            output_logits=recorder is None,
            return_dict_in_generate=True,
            **extra,
        )
    sequences = out.sequences
    if recorder is not None:
        n = recorder.steps
        lps = recorder.finish(sequences)
    else:
        n = len(out.logits)
        lps = token_logprobs(out.logits, sequences)
    prompt_tokens = _prompt_tokens(inputs, sequences.shape[0])
    results: list[Generated] = []
    for row in range(sequences.shape[0]):
        new = sequences[row, sequences.shape[1] - n :].tolist() if n else []
        ids, stopped = cut_at_eos(new, eos_ids)
        text, offsets = decode_with_offsets(tokenizer, ids)
        results.append(Generated(ids, lps[row][: len(ids)], text, offsets, stopped, prompt_tokens[row]))
    return results


def _prompt_tokens(inputs: dict, rows: int) -> list[int | None]:
    """Each row's input tokens without its padding: the attention mask's ones (Qwen-style
    processors and Kosmos-2 put the image's placeholder tokens in `input_ids`; an
    encoder-decoder's mask covers its text input only), else the unpadded width."""
    mask = inputs.get("attention_mask")
    if mask is not None:
        return [int(v) for v in mask.sum(dim=1).tolist()]
    ids = inputs.get("input_ids")
    return [int(ids.shape[1]) if ids is not None else None] * rows
