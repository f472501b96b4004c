"""Alarms: results that cannot be right, each with what triggered it.

A score can be computed correctly and still mean nothing: a model that answers the same
text for every sample, whose answers mostly fail to parse, that always runs into
`--max-new-tokens`, whose weights are still the random ones it was initialised with, or
that scores no better than a box over the whole image. Each check here takes plain
columns (no model, no split reader) and returns an `Alarm` or None; docs/reports.md
lists every alarm, its threshold and why. `scoring/alarm_watch.py` gathers the columns
while a run is scored, and the run's metrics.json carries the alarms that fired
(`alarms`, each message also in `warnings`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from padt_eval.core.expressions import expression_group
from padt_eval.metrics.chance import ALPHA, ChanceTest

#: One answer given for at least this share of all samples is "one answer for most samples".
SAME_ANSWER_SHARE = 0.5
#: Parse failures above this share of the samples: the score measures the parser, not the model.
PARSE_FAILURE_SHARE = 0.25
#: At least this share of the generated answers stopped at --max-new-tokens: "every answer".
HIT_MAX_SHARE = 0.9
#: Expression groups (one expression, two or more images) whose answers are all the same,
#: as a share of such groups: the answer does not depend on the image.
IMAGE_BLIND_SHARE = 0.8
MIN_IMAGE_GROUPS = 10
#: Linear-layer matrices whose statistics match an initialiser, as a share of those measured.
UNTRAINED_SHARE = 0.5
MIN_MATRICES = 4
#: No alarm about shares is raised on fewer samples than this.
MIN_SAMPLES = 20


@dataclass(frozen=True)
class Alarm:
    """One alarm: a short `name`, the `message` a reader sees, the `evidence` that fired it."""

    name: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "evidence": self.evidence}


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def chance_level(tests: Sequence[ChanceTest]) -> Alarm | None:
    """The run is not significantly above at least one trivial answer."""
    failed = [t for t in tests if not t.above]
    if not failed:
        return None
    parts = []
    for t in failed:
        stat = f"p = {t.p:.2g}" if t.p is not None else f"95 % interval of the difference [{t.ci95[0]:+.3f}, {t.ci95[1]:+.3f}]"  # type: ignore[index]
        parts.append(f"{t.answer.replace('_', ' ')} {_pct(t.trivial)} ({stat}, n = {t.n})")
    metric = failed[0].metric
    return Alarm(
        "chance_level",
        f"chance level: {metric} {_pct(failed[0].run)} is not significantly above (5 % level) a trivial answer on the same "
        f"samples: " + "; ".join(parts),
        {"alpha": ALPHA, "tests": [t.to_json() for t in tests]},
    )


def same_answer(answers: Sequence[Hashable | None]) -> Alarm | None:
    """`same_answer_codes` of plain answers (one per sample; None or "" where a sample has none)."""
    codes, values = _codes(answers)
    return same_answer_codes(codes, lambda c: str(values[c]))


def same_answer_codes(codes: np.ndarray, shown: Callable[[int], str]) -> Alarm | None:
    """One answer for most samples. `codes`: each sample's answer as an int, equal for
    equal answers, -1 where a sample has none; `shown(code)` writes an answer out. The
    share is of all samples, so a file that keeps answers for a few samples is not judged
    by those few. Of answers given equally often, the smallest code is named."""
    n = len(codes)
    given = codes[codes >= 0]
    if n < MIN_SAMPLES or not len(given):
        return None
    counts = np.bincount(given)
    top = int(np.argmax(counts))
    count = int(counts[top])
    share = count / n
    if share < SAME_ANSWER_SHARE:
        return None
    answer = shown(top)
    text = answer if len(answer) <= 80 else answer[:77] + "..."
    return Alarm(
        "same_answer",
        f"degenerate output: {count} of {n} samples ({_pct(share)}) got the same answer {text!r}",
        {"answer": answer[:500], "count": count, "n_samples": n, "share": share, "threshold": SAME_ANSWER_SHARE},
    )


def _codes(values: Sequence[Hashable | None]) -> tuple[np.ndarray, list[Hashable]]:
    """Each value as an int (-1 for None and ""), equal values equal ints; the values by int."""
    seen: dict[Hashable, int] = {}
    codes = [-1 if v is None or v == "" else seen.setdefault(v, len(seen)) for v in values]
    return np.asarray(codes, dtype=np.int64), list(seen)


def parse_failures(n_failed: int, n_samples: int) -> Alarm | None:
    """More parse failures than PARSE_FAILURE_SHARE of the samples."""
    if n_samples < MIN_SAMPLES or n_failed / n_samples <= PARSE_FAILURE_SHARE:
        return None
    share = n_failed / n_samples
    return Alarm(
        "parse_failures",
        f"degenerate output: {n_failed} of {n_samples} outputs ({_pct(share)}) could not be read (threshold "
        f"{_pct(PARSE_FAILURE_SHARE)}): check --format, the prompt and --max-new-tokens before reading the score",
        {"n_parse_failed": n_failed, "n_samples": n_samples, "share": share, "threshold": PARSE_FAILURE_SHARE},
    )


def hit_max_tokens(flags: Sequence[bool | None], source: str) -> Alarm | None:
    """(Nearly) every generated answer stopped at --max-new-tokens. `flags`: True where a
    sample hit the limit, None where the prediction does not say; `source` names the
    prediction field read."""
    known = [f for f in flags if f is not None]
    if len(known) < MIN_SAMPLES:
        return None
    n_hit = sum(known)
    share = n_hit / len(known)
    if share < HIT_MAX_SHARE:
        return None
    return Alarm(
        "hit_max_new_tokens",
        f"degenerate output: {n_hit} of {len(known)} answers ({_pct(share)}) stopped at --max-new-tokens, not at an end "
        "token: the answers are cut off (raise --max-new-tokens, or the model never learned to stop)",
        {"n_hit_max": n_hit, "n_with_flag": len(known), "share": share, "threshold": HIT_MAX_SHARE, "field": source},
    )


def image_blind(expressions: Sequence[str | None], images: Sequence[str], answers: Sequence[Hashable | None]) -> Alarm | None:
    """`image_blind_codes` of plain columns (expressions grouped by `expression_group`)."""
    exprs = [expression_group(e) if e is not None else None for e in expressions]
    return image_blind_codes(_codes(exprs)[0], _codes(images)[0], _codes(answers)[0])


def image_blind_codes(expressions: np.ndarray, images: np.ndarray, answers: np.ndarray) -> Alarm | None:
    """The same answer for different images with the same expression: among expressions
    asked on two or more images (answered each time), the share whose answers are all one.
    A model that looks at the image answers "the man on the left" differently on
    different pictures. Each column is one int a sample (`same_answer_codes`), -1 where
    the sample has no expression or no answer (left out)."""
    keep = (expressions >= 0) & (answers >= 0)
    e, g, a = expressions[keep], images[keep], answers[keep]
    if not len(e):
        return None
    # two or more images <=> the smallest image number differs from the largest; one
    # answer <=> the smallest answer number equals the largest (no sort, no unique)
    n_e = int(e.max()) + 1
    lo_g, hi_g, lo_a, hi_a = (np.full(n_e, v, dtype=np.int64) for v in (2**62, -1, 2**62, -1))
    np.minimum.at(lo_g, e, g)
    np.maximum.at(hi_g, e, g)
    np.minimum.at(lo_a, e, a)
    np.maximum.at(hi_a, e, a)
    multi = (hi_g >= 0) & (lo_g != hi_g)
    n_multi = int(multi.sum())
    if n_multi < MIN_IMAGE_GROUPS:
        return None
    same = int((multi & (lo_a == hi_a)).sum())
    share = same / n_multi
    if share < IMAGE_BLIND_SHARE:
        return None
    return Alarm(
        "image_blind",
        f"outputs do not depend on the image: for {same} of {n_multi} expressions asked on two or more images "
        f"({_pct(share)}), every image got the same answer",
        {"n_groups": n_multi, "n_same_answer": same, "share": share, "threshold": IMAGE_BLIND_SHARE},
    )


def untrained_weights(stats: dict[str, Any] | None) -> Alarm | None:
    """The model's weight statistics, recorded at load (`models/weight_stats.py`), match
    an initialiser for most of its linear layers."""
    if not isinstance(stats, dict):
        return None
    n = int(stats.get("n_matrices") or 0)
    k = int(stats.get("n_like_init") or 0)
    if n < MIN_MATRICES or k / n < UNTRAINED_SHARE:
        return None
    matched = stats.get("matched") or {}
    how = ", ".join(f"{v} {name}" for name, v in matched.items() if v)
    return Alarm(
        "untrained_weights",
        f"weights look untrained: {k} of {n} linear-layer matrices ({_pct(k / n)}) have the statistics of a fresh "
        f"initialisation ({how}); a score of random weights measures nothing",
        {**stats, "threshold": UNTRAINED_SHARE},
    )
