"""The cost of every answer: per_sample.jsonl's `cost` and metrics.json's `cost` summary.

Read from what the model adapter recorded in each prediction's meta (core/answer_cost.py)
and, for a model run, from the runner's timing (runner/timing.py, in the manifest's
`runner.timing`). A prediction without those meta fields has no cost. A run none of whose
predictions has one gets a summary only when padt-eval ran its model (throughput, e.g. the
demo's colour-finder, which generates no tokens); a predictions file from elsewhere gets none.

Per answer (`AnswerCost`):

    prompt_tokens        the model input's tokens, padding excluded
    completion_tokens    decode steps: the answer's tokens plus its end-of-turn token
    objects              objects in the prediction
    tokens_per_object    completion_tokens / objects (None without an object)
    hit_max_new_tokens   the answer ran to --max-new-tokens without stopping

The summary: mean and median of each count over the answers with a cost, the share that
hit max length, tokens per object both as the ratio of sums (all completion tokens of the
answers with an object over all their objects: what the leaderboard shows) and as mean and
median of the per-answer values; for a model run the throughput of the attempt that ran,
per rank with its device, over the rank's batch loop (data wait + model + write; the
loader's start-up and the model load excluded); and the seconds scoring took, apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from padt_eval.core.answer_cost import COMPLETION_TOKENS, HIT_MAX, PROMPT_TOKENS
from padt_eval.core.types import Prediction
from padt_eval.results.manifest import RunnerInfo


@dataclass(frozen=True)
class AnswerCost:
    completion_tokens: int
    objects: int
    hit_max_new_tokens: bool
    prompt_tokens: int | None = None

    @property
    def tokens_per_object(self) -> float | None:
        return self.completion_tokens / self.objects if self.objects else None

    def to_json(self) -> dict[str, Any]:
        tpo = self.tokens_per_object
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "objects": self.objects,
            "tokens_per_object": round(tpo, 4) if tpo is not None else None,
            "hit_max_new_tokens": self.hit_max_new_tokens,
        }


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def answer_cost(pred: Prediction) -> AnswerCost | None:
    """The cost the adapter recorded for this answer; None when it recorded none."""
    completion = _count(pred.meta.get(COMPLETION_TOKENS))
    if completion is None:
        return None
    return AnswerCost(
        completion_tokens=completion,
        objects=len(pred.objects),
        hit_max_new_tokens=pred.meta.get(HIT_MAX) is True,
        prompt_tokens=_count(pred.meta.get(PROMPT_TOKENS)),
    )


def generated_tokens(preds: Iterable[Prediction]) -> int:
    """All decode steps of these answers (0 for answers without a recorded cost)."""
    return sum(c.completion_tokens for p in preds if (c := answer_cost(p)) is not None)


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None}
    return {"mean": round(statistics.fmean(values), 4), "median": round(float(statistics.median(values)), 4)}


class CostTally:
    """Collects the answers' costs while a run is scored: `add` each chunk of
    predictions, `annotate` each per-sample record, then `summary`."""

    def __init__(self) -> None:
        self._by_id: dict[str, AnswerCost] = {}

    def add(self, preds: Iterable[Prediction]) -> None:
        for p in preds:
            cost = answer_cost(p)
            if cost is not None:
                self._by_id[p.sample_id] = cost

    def annotate(self, record: dict[str, Any]) -> dict[str, Any]:
        """The per-sample record with its answer's `cost` (unchanged without one)."""
        cost = self._by_id.get(str(record.get("sample_id")))
        if cost is not None:
            record["cost"] = cost.to_json()
        return record

    def summary(self, runner: RunnerInfo | None = None, scoring_seconds: float | None = None) -> dict[str, Any] | None:
        costs = list(self._by_id.values())
        throughput = runner_throughput(runner)
        if not costs and throughput is None:
            return None
        out: dict[str, Any] = {"answers": len(costs)}
        if costs:
            out.update(token_summary(costs))
        if throughput is not None:
            out["throughput"] = throughput
        if scoring_seconds is not None:
            out["scoring_seconds"] = round(scoring_seconds, 3)
        return out


def token_summary(costs: list[AnswerCost]) -> dict[str, Any]:
    """The token counts of a run's answers (at least one)."""
    with_objects = [c for c in costs if c.objects]
    n_objects = sum(c.objects for c in with_objects)
    hits = sum(c.hit_max_new_tokens for c in costs)
    prompts = [c.prompt_tokens for c in costs if c.prompt_tokens is not None]
    return {
        "prompt_tokens": {**_stats(prompts), "answers": len(prompts)},
        "completion_tokens": {**_stats([c.completion_tokens for c in costs]), "total": sum(c.completion_tokens for c in costs)},
        "tokens_per_object": {
            "overall": round(sum(c.completion_tokens for c in with_objects) / n_objects, 4) if n_objects else None,
            **_stats([c.tokens_per_object for c in with_objects if c.tokens_per_object is not None]),
            "answers_with_objects": len(with_objects),
            "objects": n_objects,
        },
        "hit_max_new_tokens": {"count": hits, "share": round(hits / len(costs), 4)},
    }


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 3) if seconds > 0 else None


def runner_throughput(runner: RunnerInfo | None) -> dict[str, Any] | None:
    """Samples/s and generated tokens/s of the attempt that ran, per rank with its device
    and summed over ranks (ranks run side by side: the rates add up); None when padt-eval
    did not run the model, or the attempt ran no batch."""
    timing = runner.extra.get("timing") if runner is not None else None
    if not isinstance(timing, dict) or not timing.get("per_rank"):
        return None
    ranks = []
    for r in timing["per_rank"]:
        seconds = float(r.get("data_wait_s", 0.0)) + float(r.get("model_s", 0.0)) + float(r.get("write_s", 0.0))
        samples, tokens = int(r.get("samples", 0)), int(r.get("generated_tokens", 0))
        ranks.append(
            {
                "rank": r.get("rank"),
                "device": r.get("device"),
                "samples": samples,
                "generated_tokens": tokens,
                "seconds": round(seconds, 3),
                "samples_per_s": _rate(samples, seconds),
                "generated_tokens_per_s": _rate(tokens, seconds) if tokens else None,  # 0: the model counts none
            }
        )
    devices = sorted({r["device"] for r in ranks if r["device"]})
    rates = [r["samples_per_s"] for r in ranks if r["samples_per_s"] is not None]
    token_rates = [r["generated_tokens_per_s"] for r in ranks if r["generated_tokens_per_s"] is not None]
    return {
        "attempt": timing.get("attempt"),
        "device": "; ".join(devices) if devices else (runner.device if runner is not None else None),
        "ranks": len(ranks),
        "samples_per_s": round(sum(rates), 3) if rates else None,
        "generated_tokens_per_s": round(sum(token_rates), 3) if token_rates else None,
        "per_rank": ranks,
    }
