"""The leaderboard's label-noise table: each model's score on a split beside its score on a
cleaner version of that split, and where the difference comes from.

Which split is a cleaner version of which is declared in the split table
(`SplitSpec.cleaner_of`: Ref-L4's reviewed RefCOCO/+/g, `refcoco_val_cleaned` of
`refcoco_val`; a re-annotated split such as RefCOCO-M declares it the same way), so a new
cleaner split needs no change here. For one model (same protocol and ground-truth variant)
with a run on the original split O and one on the cleaner split C, over the samples S they
share (by sample_id):

* `total` = C(S) − O(all of O): the score change a reader of the two tables sees, when C's
  samples lie in O (samples of C outside O are left out, with a note);
* `dropped` = O(S) − O(all of O): what leaving out the samples C drops changes, on the
  original run alone;
* `re-annotated` = C(S) − O(S): what C's own ground truth (or another answer) changes on the
  shared samples; zero when C keeps O's ground truth and the two runs answered alike.

total = dropped + re-annotated. Each gets a 95 % paired-bootstrap percentile interval
(`metrics/paired.py`), the resampling unit being a sample of O (for `re-annotated`: a
shared sample), with each metric recomputed as the ratio of sums its metric declares
(`Metric.ESTIMATORS`), so cIoU is Σ intersection / Σ union on every resample.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from padt_eval.core.errors import DataError, UsageError
from padt_eval.data.split_table import cleaner_versions
from padt_eval.metrics.catalogue import declared_estimators
from padt_eval.metrics.paired import DEFAULT_RESAMPLES, DEFAULT_SEED, RatioData, paired_compare
from padt_eval.report.runs import Run
from padt_eval.report.table_specs import PROTOCOL_ORDER, display_scale
from padt_eval.report.tables import Cell, Column, Row, Table

#: the metrics set side by side, per task (each a key of its metric's ESTIMATORS)
METRICS = {"rec": ("acc@0.5",), "res": ("ciou", "miou")}


def _latest(runs: list[Run]) -> dict[tuple, Run]:
    """(model, protocol, gt, task, split) -> the latest run."""
    out: dict[tuple, Run] = {}
    for r in runs:
        key = (r.model_name, r.protocol, r.gt_variant, r.task, r.split)
        if key not in out or (r.finished, r.run_id) > (out[key].finished, out[key].run_id):
            out[key] = r
    return out


#: where the original split was run from several ground truths (layouts), the one a cleaner
#: split is compared with: the full official annotations, which the cleaned splits filter
PREFERRED_ORIGINAL_GT = "refer"


def _original_run(latest: dict[tuple, Run], key: tuple[str, str, str, str], table: Table) -> Run | None:
    """The run on the original split for (model, protocol, task, split): its only ground-truth
    variant, else the preferred one; None (with a note) when that leaves a choice."""
    model, protocol, task, split = key
    found = [r for (m, p, _, t, s), r in latest.items() if (m, p, t, s) == key]
    if len(found) == 1:
        return found[0]
    preferred = [r for r in found if r.gt_variant == PREFERRED_ORIGINAL_GT]
    if preferred:
        return preferred[0]
    if found:
        table.notes.mark(
            f"{model} ({protocol}) has {split} runs of several ground truths and none is {PREFERRED_ORIGINAL_GT}: not paired"
        )
    return None


def _by_id(run: Run) -> dict[str, dict[str, Any]]:
    return {str(rec["sample_id"]): rec for rec in run.per_sample}


def noise_effects(
    original: Run, cleaner: Run, metric: str, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> dict[str, Any] | None:
    """The three differences of the module docstring for one metric, or None when the runs
    share no sample or the metric does not decompose over samples."""
    est_o = declared_estimators(original.task, original.protocol).get(metric)
    est_c = declared_estimators(cleaner.task, cleaner.protocol).get(metric)
    if est_o is None or est_c is None:
        return None
    o_recs, c_recs = _by_id(original), _by_id(cleaner)
    o_ids = list(o_recs)
    shared = [i for i in o_ids if i in c_recs]
    if not shared:
        return None
    in_c = np.array([i in c_recs for i in o_ids], dtype=np.float64)
    o_all = est_o.ratio_data([o_recs[i] for i in o_ids])
    o_shared = RatioData(o_all.num * in_c, o_all.den * in_c)  # O on the shared samples, zero elsewhere
    c_data = est_c.ratio_data([c_recs[i] for i in shared])
    c_on_o = RatioData(np.zeros(len(o_ids)), np.zeros(len(o_ids)))
    where = np.flatnonzero(in_c)
    c_on_o.num[where], c_on_o.den[where] = c_data.num, c_data.den  # C's values laid over O's samples
    total, dropped = paired_compare([o_all, o_all], [c_on_o, o_shared], n_resamples, seed)
    (reannotated,) = paired_compare([est_o.ratio_data([o_recs[i] for i in shared])], [c_data], n_resamples, seed)
    return {
        "original": o_all.value(),
        "cleaner": cleaner.metrics.get(metric, c_data.value()),
        "n_original": len(o_ids),
        "n_cleaner": len(c_recs),
        "n_shared": len(shared),
        "n_cleaner_only": len(c_recs) - len(shared),
        "total": (total.diff, total.ci95),
        "dropped": (dropped.diff, dropped.ci95),
        "reannotated": (reannotated.diff, reannotated.ci95),
    }


def _diff_cell(d: tuple[float, tuple[float, float]], scale: float, decimals: int) -> Cell:
    v, (lo, hi) = d
    return Cell(f"{v * scale:+.{decimals}f} [{lo * scale:+.{decimals}f}, {hi * scale:+.{decimals}f}]", v * scale)


def label_noise_table(runs: list[Run], n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Table:
    cols = [
        Column("model", "Model"),
        Column("protocol", "Protocol"),
        Column("metric", "Metric"),
        Column("original", "Original split"),
        Column("v_original", "Score", numeric=True),
        Column("cleaner", "Cleaner split"),
        Column("v_cleaner", "Score", numeric=True),
        Column("n", "Shared samples", numeric=True),
        Column("total", "Δ total [95% CI]"),
        Column("dropped", "Δ dropped samples [95% CI]"),
        Column("reannotated", "Δ re-annotation [95% CI]"),
    ]
    t = Table(
        "label_noise",
        "Label noise: original splits beside their cleaner versions",
        "Each model's score on a split and on its cleaner version (Ref-L4's reviewed RefCOCO/+/g drops the expressions "
        "its reviewers marked erroneous; a re-annotated split re-draws the ground truth). Δ total = cleaner − original "
        "= Δ dropped samples (the original run without the samples the cleaner split leaves out, minus the original "
        "run) + Δ re-annotation (cleaner − original run on the shared samples). Paired-bootstrap percentile intervals "
        "over the original split's samples. Values in %. docs/benchmarks.md.",
        cols,
        [],
    )
    latest = _latest(runs)
    pairs = [(orig, c) for orig, cs in cleaner_versions().items() for c in cs]
    groups: dict[tuple, list[tuple[Run, Run]]] = defaultdict(list)
    for (model, protocol, _gt, task, split), cleaner in latest.items():
        for orig, clean in pairs:
            if split != clean:
                continue
            original = _original_run(latest, (model, protocol, task, orig), t)
            if original is not None:
                groups[(model, protocol, task)].append((original, cleaner))
    for key in sorted(groups, key=lambda k: (k[0].lower(), PROTOCOL_ORDER.get(k[1], 9), k[2])):
        model, protocol, task = key
        for original, cleaner in sorted(groups[key], key=lambda p: (p[0].split, p[1].split)):
            missing = [r.run_id for r in (original, cleaner) if not r.has_per_sample]
            if missing:
                t.notes.mark(f"{model}: {', '.join(missing)} kept no per_sample.jsonl; {original.split} not paired")
                continue
            for metric in METRICS.get(task, ()):
                try:
                    e = noise_effects(original, cleaner, metric, n_resamples, seed)
                except (DataError, UsageError) as exc:  # a damaged per_sample.jsonl: said; the rest of the board is built
                    t.notes.mark(f"{model}: {exc}")
                    break
                if e is None:
                    continue
                s = display_scale(metric)
                row = Row(
                    {
                        "model": Cell(model),
                        "protocol": Cell(protocol),
                        "metric": Cell(f"{task.upper()} {metric}"),
                        "original": Cell(f"{original.split} ({original.gt_variant}, n={e['n_original']})"),
                        "v_original": Cell(f"{e['original'] * s:.2f}", e["original"] * s),
                        "cleaner": Cell(f"{cleaner.split} ({cleaner.gt_variant}, n={e['n_cleaner']})"),
                        "v_cleaner": Cell(f"{e['cleaner'] * s:.2f}", e["cleaner"] * s),
                        "n": Cell(str(e["n_shared"]), e["n_shared"]),
                        "total": _diff_cell(e["total"], s, 2),
                        "dropped": _diff_cell(e["dropped"], s, 2),
                        "reannotated": _diff_cell(e["reannotated"], s, 2),
                    }
                )
                if e["n_cleaner_only"]:
                    t.note(
                        row.cells["total"],
                        f"{e['n_cleaner_only']} sample(s) of {cleaner.split} are not in {original.split}: left out of Δ",
                    )
                t.rows.append(row)
    return t
