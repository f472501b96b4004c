"""What GREC and GRES share: the per-sample outcome of a generalized referring answer.

A gRefCOCO sample has zero, one or several targets. A model "rejects" (answers "no
target") when its output was read and holds no object. A sample whose output was not read
(missing, unparseable, errored) is a miss on every count: it is never a correct
rejection, whatever the sample's targets, and it is counted separately (`OutcomeCounts`).
"""

from __future__ import annotations

from padt_eval.core.types import ObjectPred, Prediction
from padt_eval.metrics.base import is_answered
from padt_eval.metrics.estimators import OMIT, ratio

#: the score thresholds of the threshold sweep (metrics.json `details.threshold_sweep`)
SWEEP = tuple(round(0.05 * i, 2) for i in range(20))

#: an object without a score is kept at every threshold: coordinate text states a box, it does not rank it
UNSCORED = "objects without a score (coordinate text) are kept at every threshold"


def kept(objects: list[ObjectPred], threshold: float | None) -> list[ObjectPred]:
    """The objects at or above `threshold` (None: all); unscored objects are always kept."""
    if threshold is None:
        return list(objects)
    return [o for o in objects if o.score is None or o.score >= threshold]


def has_scores(pred: Prediction) -> bool:
    return is_answered(pred) and any(o.score is not None for o in pred.objects)


#: N-acc = no-target samples correctly rejected / no-target samples; T-acc = target samples
#: not rejected / target samples. A ratio with no sample to count is left out, not reported as 0.
REJECTION_ESTIMATORS = {
    "n_acc": ratio("nt_rejected", "no_target", empty=OMIT),
    "t_acc": ratio("t_answered", "has_target", empty=OMIT),
}


def undefined_notes(n_nt: int, n_t: int, official_behaviour: str) -> list[str]:
    notes = []
    if n_nt == 0:
        notes.append(f"N-acc is undefined: the split has no no-target sample ({official_behaviour})")
    if n_t == 0:
        notes.append(f"T-acc is undefined: the split has no sample with a target ({official_behaviour})")
    return notes


def rejects_everything_note(n_answered_rejected: int, n_samples: int) -> list[str]:
    """A model that answers "none" to everything scores full N-acc (gRefCOCO issue 4): say so."""
    if n_samples and n_answered_rejected == n_samples:
        return ["every sample was answered with no object: N-acc is full by construction and says nothing; read it with T-acc"]
    return []
