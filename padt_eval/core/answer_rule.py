"""The one rule that picks a REC/RES query's answer from a model's objects.

REC and RES score one object per query. Which one, for every model and every path:

* when the producer gave **every** candidate a confidence of its own (PaDT's score head;
  a predictions file whose objects all carry `score`), the highest-scoring one, the
  first of them on ties;
* otherwise the first in the model's output order.

Nothing else gets a second chance: no object is ever chosen by its IoU with the ground
truth, and scoring the best of N (as the PaDT release does, `--protocol padt-release`)
would reward emitting many guesses.

Coordinate text carries no confidence of its own: the box score padt-eval derives from
token log-probabilities (models/hf/generation.py) is our estimate, not the model's
ranking, so the adapters apply this rule to the parsed boxes *before* attaching it
(`models/text_rules.py`), which always gives the first box, and keep only that box.
The metrics apply it again to the objects they are handed (`metrics/rec.py`,
`metrics/res.py`), where a one-object answer is its own answer.

It lives in `core/` (it needs only `core.types`) because three layers apply it: the
adapters (models/), the metrics and the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence

from padt_eval.core.types import ObjectPred, Prediction

#: The rule in words, written next to the numbers (metrics.json `protocol.selection`,
#: model.json `rec_res_selection`).
ANSWER_RULE = (
    "one object per query: the highest-scoring when the producer scored every object (the first on ties), "
    "else the first in output order; never by IoU against the ground truth"
)


def answer_index(scores: Sequence[float | None]) -> int | None:
    """Index of the answer among candidates with these producer scores (None: unscored);
    None when there is no candidate."""
    if not scores:
        return None
    if any(s is None for s in scores):
        return 0
    best = 0
    for i, s in enumerate(scores):
        if s > scores[best]:  # type: ignore[operator]  # strict: the first of equal scores stays
            best = i
    return best


def select_answer(pred: Prediction) -> ObjectPred | None:
    """The object of `pred` that REC/RES score (None: it has none)."""
    i = answer_index([o.score for o in pred.objects])
    return pred.objects[i] if i is not None else None
