"""The `errors` section of `padt-eval compare`: how each miss category's share moved.

For REC/RES runs that both carry an error breakdown, each category's share is a mean of
a per-sample indicator (`error == category`), so its B − A difference gets the same
paired bootstrap interval as the headline metrics (`metrics/paired.py`, the same seed and
resamples), and McNemar's exact test on the samples that changed category. A category a
run could not compute (wrong_object / near_other without an instances file) is listed as
unavailable rather than compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from padt_eval.metrics.errors import SCHEMA as QUERY_SCHEMA
from padt_eval.metrics.paired import RatioData, mcnemar_exact, paired_compare
from padt_eval.report.runs import Run


def _breakdown(run: Run) -> dict[str, Any] | None:
    e = run.record.errors
    return e if isinstance(e, dict) and e.get("schema") == QUERY_SCHEMA else None


def compare_error_shares(
    a: Run, b: Run, shared_a: list[dict[str, Any]], shared_b: list[dict[str, Any]], n_resamples: int, seed: int
) -> dict[str, Any] | None:
    """None when either run has no REC/RES error breakdown (older runs, OVD, padt-release)."""
    ea, eb = _breakdown(a), _breakdown(b)
    if ea is None or eb is None or not shared_a:
        return None
    if any("error" not in r for r in shared_a) or any("error" not in r for r in shared_b):
        return None  # per-sample records written before the breakdown existed
    warnings = []
    if ea.get("thresholds") != eb.get("thresholds"):
        warnings.append(
            f"error thresholds differ ({ea.get('thresholds')} vs {eb.get('thresholds')}): shares are not like for like"
        )
    if ea.get("iou") != eb.get("iou"):
        warnings.append(f"IoU kinds differ ({ea.get('iou')} vs {eb.get('iou')})")
    categories = [c for c in ea.get("categories") or [] if c in (eb.get("categories") or [])]
    unavailable = [c for c in categories if (ea.get("shares") or {}).get(c) is None or (eb.get("shares") or {}).get(c) is None]
    compared = [c for c in categories if c not in unavailable]
    ind_a = [np.array([r["error"] == c for r in shared_a], dtype=np.float64) for c in compared]
    ind_b = [np.array([r["error"] == c for r in shared_b], dtype=np.float64) for c in compared]
    results = (
        paired_compare(
            [RatioData.mean_of(x) for x in ind_a], [RatioData.mean_of(x) for x in ind_b], n_resamples=n_resamples, seed=seed
        )
        if compared
        else []
    )
    out: dict[str, Any] = {}
    for c, r, xa, xb in zip(compared, results, ind_a, ind_b):
        p, n_ab, n_ba = mcnemar_exact(xa > 0, xb > 0)
        out[c] = {
            "a": r.a,
            "b": r.b,
            "diff": r.diff,
            "ci95": list(r.ci95),
            "p_value": p,
            "test": "McNemar exact",
            "discordant": {"a_only": n_ab, "b_only": n_ba},
        }
    return {
        "thresholds": {"a": ea.get("thresholds"), "b": eb.get("thresholds")},
        "iou": ea.get("iou"),
        "categories": out,
        "unavailable": unavailable,
        "method": "share of shared samples in each category; paired bootstrap percentile 95% interval of B − A; "
        "McNemar exact test on samples in the category in one run only",
        "warnings": warnings,
    }
