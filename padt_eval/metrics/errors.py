"""Why each REC/RES query was missed: one category per sample, shares over the split.

The answer classified is the one the headline metric scores (`core.answer_rule.select_answer`, the
box or mask it uses), and its IoU with the target is the headline's own per-sample IoU:
box IoU for REC, exact mask IoU on RLE for RES. IoU with the image's other annotated
instances is computed the same way (REC: their boxes; RES: their masks). With `fg` the
foreground threshold (default 0.5) and `bg` the background threshold (default 0.1):

* `unparsed`     no readable answer: the output could not be read, was missing, or the
                 sample errored (the per-sample `status` says which);
* `no_object`    answered, but the scored answer has no box (REC) / no usable mask (RES:
                 none, or one of the wrong size, exactly as the headline scores it);
* `hit`          IoU with the target >= fg;
* `wrong_object` IoU with the target < fg, and >= fg with another annotated instance;
* `localization` bg <= IoU with the target < fg, and not a wrong object;
* `near_other`   IoU with the target < bg, and bg <= IoU < fg with another instance (the
                 answer is near another object, but matches none: TIDE's "both" error).
                 The six categories the issue names leave this case out; it is reported
                 on its own rather than folded into a neighbour;
* `background`   IoU < bg with the target and with every other instance.

The categories partition the samples, checked in the order above. Without the image's
instances (no instances file, or the image is not in it) the sample is classified by its
target IoU alone: `wrong_object` and `near_other` are never guessed, and the summary
says how many samples that concerns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from padt_eval.core.boxes import box_iou
from padt_eval.core.types import Sample

if TYPE_CHECKING:
    import numpy as np

CATEGORIES = ("hit", "wrong_object", "localization", "near_other", "background", "no_object", "unparsed")
NEEDS_INSTANCES = ("wrong_object", "near_other")
SCHEMA = "padt-eval/query-errors/v1"
#: When the split does not say which annotation is the target (PaDT's JSONL), an instance
#: this close to the target's own ground truth is taken to be that annotation.
SAME_ANNOTATION_IOU = 0.95


@dataclass(frozen=True)
class ErrorThresholds:
    foreground: float = 0.5
    background: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.background < self.foreground <= 1.0:
            raise ValueError(
                f"error thresholds need 0 < background < foreground <= 1, got background {self.background}, foreground {self.foreground}"
            )


def classify(iou_target: float, ious_other: Sequence[float] | None, th: ErrorThresholds) -> str:
    """The category of an answer with a box/mask; `ious_other` None: instances unknown."""
    if iou_target >= th.foreground:
        return "hit"
    best_other = max(ious_other, default=0.0) if ious_other is not None else None
    if best_other is not None and best_other >= th.foreground:
        return "wrong_object"
    if iou_target >= th.background:
        return "localization"
    if best_other is not None and best_other >= th.background:
        return "near_other"
    return "background"


def classify_without_instances(iou_target: np.ndarray, th: ErrorThresholds) -> np.ndarray:
    """`classify(v, None, th)` of every value of an array (instances unknown), at once."""
    import numpy as np  # not for `--help` (options.py imports this module)

    return np.where(iou_target >= th.foreground, "hit", np.where(iou_target >= th.background, "localization", "background"))


def _mask_iou(a: dict, b: dict) -> float:
    from padt_eval.core import rle as rlemod  # numpy and pycocotools: not for `--help` (options.py imports this module)

    inter, union = rlemod.intersection_and_union(a, b)
    return inter / union if union else 0.0


#: How an answer (box or mask) and an instance are compared, per IoU kind.
_IOU: dict[str, tuple[Callable[[Any, Any], float], str]] = {
    "box": (box_iou, "bbox"),
    "mask": (_mask_iou, "mask"),
}


class QueryErrors:
    """Counts of the categories; `lookup(image_id)` gives an image's instances (None:
    the image is not in the instances file). `lookup` None: no instances at all."""

    def __init__(
        self,
        iou_kind: str,
        thresholds: ErrorThresholds = ErrorThresholds(),
        lookup: Callable[[object], list | None] | None = None,
        instances_source: dict[str, Any] | None = None,
    ) -> None:
        if iou_kind not in _IOU:
            raise ValueError(f"unknown IoU kind {iou_kind!r}")
        self.iou_kind = iou_kind
        self.thresholds = thresholds
        self.lookup = lookup
        # what the summary says about the instances: file and hash, or why there are none
        self.instances_source = instances_source or {"available": False, "why": "no instances were given"}
        self.counts: Counter[str] = Counter()
        self.n_without_instances = 0

    def _other_ious(self, sample: Sample, answer: Any) -> list[float] | None:
        _, attr = _IOU[self.iou_kind]
        return self.other_ious(sample.meta.get("image_id"), sample.meta.get("ann_id"), getattr(sample.objects[0], attr), answer)

    def other_ious(self, image_id: Any, target_ann: Any, target_geom: Any, answer: Any) -> list[float] | None:
        """The answer's IoU with each other instance of the image (the target left out: by
        its annotation id, or when unknown by its geometry); None: instances unknown."""
        instances = self.lookup(image_id) if self.lookup is not None else None
        if instances is None:
            return None
        iou, attr = _IOU[self.iou_kind]
        out = []
        try:
            for inst in instances:
                if target_ann is not None:
                    if inst.ann_id == target_ann:
                        continue
                elif iou(getattr(inst, attr), target_geom) >= SAME_ANNOTATION_IOU:
                    continue
                out.append(iou(answer, getattr(inst, attr)))
        except ValueError:
            return None  # the instances file's image size differs from the split's: unusable here
        return out

    def add(self, sample: Sample, answered: bool, answer: Any, iou_target: float) -> dict[str, Any]:
        """Classify one sample; returns the fields its per-sample record gains.
        `answer`: the scored box (REC) or mask (RES), None when there is none."""
        if not answered:
            fields: dict[str, Any] = {"error": "unparsed"}
        elif answer is None:
            fields = {"error": "no_object"}
        else:
            others = self._other_ious(sample, answer) if iou_target < self.thresholds.foreground else []
            fields = self.answer_fields(iou_target, others)
            self.n_without_instances += others is None
        self.counts[fields["error"]] += 1
        return fields

    def answer_fields(self, iou_target: float, others: list[float] | None) -> dict[str, Any]:
        """The record fields of an answer with a box/mask, from its IoU with the target and
        with the other instances (`other_ious`; [] for a hit, which needs none)."""
        fields: dict[str, Any] = {}
        if others is None:
            fields["error_instances"] = False
        elif others:
            fields["error_iou_other"] = max(others)
        fields["error"] = classify(iou_target, others, self.thresholds)
        return fields

    def add_counts(self, counts: Mapping[str, int], n_without_instances: int) -> None:
        """What `add` would have counted for many samples (the columnar scoring path)."""
        self.counts.update(counts)
        self.n_without_instances += n_without_instances

    def summary(self) -> dict[str, Any]:
        """The `errors` object of metrics.json."""
        n = sum(self.counts.values())
        available = bool(self.instances_source.get("available"))
        shares: dict[str, float | None] = {c: (self.counts[c] / n if n else None) for c in CATEGORIES}
        notes = []
        if not available:
            for c in NEEDS_INSTANCES:
                shares[c] = None
            notes.append(
                f"wrong_object and near_other are not computed ({self.instances_source.get('why')}): answers are "
                "classified by their IoU with the target only, so a wrong-object answer counts as localization or background"
            )
        elif self.n_without_instances:
            notes.append(
                f"{self.n_without_instances} answered misses are on images the instances file does not hold: classified by "
                "target IoU only (never as wrong_object / near_other)"
            )
        return {
            "schema": SCHEMA,
            "iou": self.iou_kind,
            "thresholds": {"foreground": self.thresholds.foreground, "background": self.thresholds.background},
            "categories": list(CATEGORIES),
            "counts": {c: int(self.counts[c]) for c in CATEGORIES},
            "shares": shares,
            "n_samples": n,
            "wrong_object_available": available,
            "n_without_instances": self.n_without_instances,
            "instances": dict(self.instances_source),
            "notes": notes,
        }
