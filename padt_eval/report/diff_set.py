"""The samples two or more runs of one split disagree on, ranked, and the groups the diff
report filters them by.

Each run's per-sample record (per_sample.jsonl) gives an outcome: its status, a score in
[0, 1], whether that score is a hit, and its miss categories. The score is the record's
`iou` (REC, RES and the generalized tasks); for RIC the F1 of its grounded objects,
2·n_matched / (n_pred + n_gt); for OVD the F1 of its detections under TIDE's accounting,
where every detection is a true positive or exactly one error, so TP = n_det − Σ the
detection errors. A hit is `hit@0.5` where the record has it, else a score ≥ 0.5.

The runs disagree on a sample when their outcomes differ: status, score (to 1e-9) or
miss categories. Two different wrong boxes with the same IoU agree; the report is about
outcomes, not bytes. Disagreements are ranked by the spread of the scores (max − min;
for two runs |B − A|), largest first, the split's order among equals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.report.runs import Run

HIT_SCORE = 0.5
SCORE_DECIMALS = 9  # scores equal to this many decimals are the same outcome
# OVD's TIDE categories that count ground-truth objects rather than detections
_GT_SIDE = ("missed",)


@dataclass(frozen=True)
class Outcome:
    status: str
    score: float
    hit: bool
    errors: tuple[str, ...]  # miss categories; () for a hit or where the run has none

    @property
    def key(self) -> tuple:
        return (self.status, round(self.score, SCORE_DECIMALS), self.errors)


def score_name(task: str) -> str:
    """What the score is called on the page."""
    return {"ovd": "detection F1", "ric": "grounding F1"}.get(task, "IoU")


def _f1(tp: float, n_a: int, n_b: int) -> float:
    return 1.0 if n_a + n_b == 0 else 2.0 * tp / (n_a + n_b)


def outcome(rec: dict[str, Any], where: str) -> Outcome:
    """The outcome of one per-sample record; `where` names it in an error."""
    status = str(rec.get("status", "?"))
    if isinstance(rec.get("iou"), (int, float)):
        score = float(rec["iou"])
    elif "n_matched" in rec:
        score = _f1(int(rec["n_matched"]), int(rec.get("n_pred", 0)), int(rec.get("n_gt", 0)))
    elif "n_det" in rec:
        errs = rec.get("errors") or {}
        wrong = sum(int(v) for k, v in errs.items() if k not in _GT_SIDE)
        score = _f1(max(int(rec["n_det"]) - wrong, 0), int(rec["n_det"]), int(rec.get("n_gt", 0)))
    else:
        raise UsageError(f"{where}: the record has no iou, n_matched or n_det: nothing to compare per sample")
    hit = bool(rec["hit@0.5"]) if isinstance(rec.get("hit@0.5"), bool) else score >= HIT_SCORE
    if isinstance(rec.get("error"), str):
        errors: tuple[str, ...] = () if rec["error"] == "hit" else (rec["error"],)
    elif isinstance(rec.get("errors"), dict):
        errors = tuple(sorted(k for k, v in rec["errors"].items() if v))
    else:
        errors = ()
    return Outcome(status, score, hit, errors)


@dataclass
class DiffSample:
    sample_id: str
    outcomes: list[Outcome]  # one per run, in run order
    groups: list[str] = field(default_factory=list)

    @property
    def spread(self) -> float:
        scores = [o.score for o in self.outcomes]
        return max(scores) - min(scores)


@dataclass
class DiffSet:
    n_runs: int
    n_shared: int
    samples: list[DiffSample]  # the disagreements, ranked
    group_counts: dict[str, int]  # every group key, in the order the page shows them
    n_missing: list[int]  # per run: shared-set samples it lacks (only in other runs)


def group_keys(n_runs: int, categories: list[str]) -> list[str]:
    """`only:i` (run i hits, every other run misses), `none` (no run hits), `all` (every
    run hits, the scores differ), `error:<category>` (some run's miss is of that kind)."""
    return [*(f"only:{i}" for i in range(n_runs)), "none", "all", *(f"error:{c}" for c in categories)]


def groups_of(outcomes: list[Outcome]) -> list[str]:
    hits = [o.hit for o in outcomes]
    out = []
    if sum(hits) == 1:
        out.append(f"only:{hits.index(True)}")
    elif not any(hits):
        out.append("none")
    elif all(hits):
        out.append("all")
    cats = sorted({c for o in outcomes for c in o.errors})
    return out + [f"error:{c}" for c in cats]


def build_diff_set(runs: list[Run]) -> DiffSet:
    """The disagreements of `runs` on the samples every one of them scored."""
    if len(runs) < 2:
        raise UsageError("a diff needs at least two runs")
    tasks = {r.task for r in runs}
    if len(tasks) > 1:
        raise UsageError(f"cannot diff runs of different tasks ({', '.join(sorted(tasks))})")
    by_id = [{str(rec["sample_id"]): rec for rec in run.per_sample} for run in runs]
    shared = [sid for sid in by_id[0] if all(sid in d for d in by_id[1:])]
    if not shared:
        raise UsageError(f"the runs share no sample id ({', '.join(str(r.dir) for r in runs)})")
    samples = []
    for sid in shared:
        outs = [outcome(d[sid], f"{run.dir}/per_sample.jsonl, sample {sid}") for run, d in zip(runs, by_id)]
        if len({o.key for o in outs}) > 1:
            samples.append(DiffSample(sid, outs, groups_of(outs)))
    samples.sort(key=lambda s: -s.spread)  # stable: the split's order among equals
    categories = sorted({g[len("error:") :] for s in samples for g in s.groups if g.startswith("error:")})
    counts = dict.fromkeys(group_keys(len(runs), categories), 0)
    for s in samples:
        for g in s.groups:
            counts[g] += 1
    n_missing = [len(set().union(*by_id) - set(d)) for d in by_id]
    return DiffSet(len(runs), len(shared), samples, counts, n_missing)
