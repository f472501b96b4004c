"""RIC: caption metrics on the cleaned model caption + grounding GP/GR on its objects.

Per image the metric keeps the cleaned candidate caption, the references and the
grounding counts. Caption metrics are corpus-level (CIDEr-D's IDF, BLEU's n-gram sums),
so the state is the list of per-image (candidate, references) records plus integer
grounding counts, and `compute()` scores once, in sample-id order, whatever order the
samples came in.

A sample without a usable answer (missing, unparseable, errored) has the empty caption
as candidate: it scores 0 in every caption metric and still counts in the averages.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core.caption_text import clean_caption
from padt_eval.core.types import Prediction, Sample, Task
from padt_eval.metrics.base import Metric, OutcomeCounts, is_answered, record_base
from padt_eval.metrics.captions import require_java, score_captions, shared_meteor, spice_status
from padt_eval.metrics.grounding import IOU_THRESHOLD, GroundingCounts


def caption_source(pred: Prediction) -> str | None:
    """The text a candidate caption is cleaned from: `meta["caption"]` when the model's
    reader set one (a coordinate-text family writes the caption it read there, e.g.
    Florence-2's captioning stage, whose grounding stage is `text`), else `text`."""
    caption = pred.meta.get("caption") if isinstance(pred.meta, dict) else None
    return caption if isinstance(caption, str) else pred.text


class RicMetric(Metric):
    task = Task.RIC
    # GP/GR decompose over images; the caption scores are corpus-level and declare nothing
    ESTIMATORS = GroundingCounts.ESTIMATORS

    def __init__(self, check_java: bool = True) -> None:
        if check_java:
            require_java()  # fail before any scoring work, with the install command
            # METEOR's JVM loads its paraphrase table (the longest step of RIC scoring)
            # while the split and the predictions are read and tokenised
            shared_meteor()
        self.records: list[dict[str, Any]] = []
        self.grounding = GroundingCounts()
        self.outcomes = OutcomeCounts()

    def update(self, sample: Sample, pred: Prediction) -> dict[str, Any]:
        if not sample.references:
            raise ValueError(f"sample {sample.sample_id}: RIC needs at least one reference caption")
        rec = record_base(sample, pred)
        answered = is_answered(pred)
        candidate = clean_caption(caption_source(pred)) if answered else ""
        objects = pred.objects if answered else []
        counts = self.grounding.add(objects, sample.objects)
        self.outcomes.add(pred, has_object=bool(candidate) or bool(objects))
        self.records.append({"sample_id": sample.sample_id, "candidate": candidate, "references": list(sample.references)})
        rec.update(candidate=candidate, **counts)
        return rec

    def _ordered(self) -> list[dict[str, Any]]:
        numeric = all(r["sample_id"].isdigit() for r in self.records)
        return sorted(self.records, key=lambda r: (int(r["sample_id"]), r["sample_id"]) if numeric else (0, r["sample_id"]))

    def compute(self) -> dict[str, float | None]:  # type: ignore[override]
        records = self._ordered()
        scores = score_captions([r["candidate"] for r in records], [r["references"] for r in records])
        self._spice_reason = scores.pop("spice_reason", None)
        return {**scores, **self.grounding.values()}

    def counts(self) -> dict[str, int]:
        d = self.outcomes.as_dict()
        d.update(self.grounding.c)
        d["n_empty_caption"] = sum(1 for r in self.records if not r["candidate"])
        return d

    def details(self) -> dict[str, Any]:
        available, reason = spice_status()
        return {"spice": "available" if available else f"unavailable: {reason}"}

    def notes(self) -> list[str]:
        available, reason = spice_status()
        notes = [] if available else [f"SPICE not computed (null): {reason}"]
        notes.append(
            f"GP/GR are padt-eval's definition (PaDT defines none): greedy one-to-one box matching at IoU >= {IOU_THRESHOLD}, micro-averaged"
        )
        return notes

    def protocol(self) -> dict[str, Any]:
        return {
            "caption_metrics": "pycocoevalcap 1.2 (BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D), corpus-level over the split, Stanford PTB tokenizer",
            "candidate": "meta.caption when the reader set one, else the model text; cleaned by padt_eval.core.caption_text.clean_caption (VRT runs, box tokens, coordinates and their brackets, reasoning removed)",
            "references": "all captions of the image, the same cleaning applied (PaDT's <|Obj_k|> placeholders and their parentheses removed)",
            "no_answer": "missing / unparseable / errored samples score the empty caption and no objects",
            "spice": "computed only when Stanford CoreNLP 3.6.0 jars are installed for pycocoevalcap; otherwise null",
            "gp_gr": (
                f"ours (undefined in the paper): per image, greedy one-to-one matching of predicted to GT objects in descending "
                f"box IoU, pairs with IoU >= {IOU_THRESHOLD}; label-agnostic; GP = sum matched / sum predicted, GR = sum matched / "
                "sum GT over the split (micro); gp_mask / gr_mask the same with mask IoU on images whose GT all have masks"
            ),
        }
