"""The three prediction `meta` fields an adapter records for what an answer cost.

A model adapter that generated the answer writes them; `results/cost.py` reads them into
per_sample.jsonl's `cost` and metrics.json's `cost` summary. A prediction without them (a
predictions file from elsewhere, a model that generates no tokens) simply has no cost.

    prompt_tokens        tokens of the sample's model input, padding excluded (chat
                         template, prompt text and the image's placeholder tokens)
    completion_tokens    decode steps the answer took: its tokens, plus the end-of-turn
                         token when it stopped on one
    hit_max_new_tokens   true when the answer ran to --max-new-tokens without stopping
"""

from __future__ import annotations

from typing import Any

PROMPT_TOKENS = "prompt_tokens"
COMPLETION_TOKENS = "completion_tokens"
HIT_MAX = "hit_max_new_tokens"


def cost_meta(prompt_tokens: int | None, completion_tokens: int, hit_max: bool) -> dict[str, Any]:
    """The meta fields of one answer (`prompt_tokens` left out when it is not known)."""
    out: dict[str, Any] = {} if prompt_tokens is None else {PROMPT_TOKENS: int(prompt_tokens)}
    out[COMPLETION_TOKENS] = int(completion_tokens)
    out[HIT_MAX] = bool(hit_max)
    return out
