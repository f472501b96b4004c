"""`padt-eval compare RUN_A RUN_B`: paired differences with intervals and p-values.

The two runs are aligned on the sample ids both scored (per_sample.jsonl); each metric is
rebuilt from per-sample fields as a ratio of sums (see `metrics/paired.py`), its value on
the full record set is checked against metrics.json, and the difference B − A gets a
paired-bootstrap percentile interval and a p-value. Which per-sample fields make which
metric is what the metric that scored the run declares (`Metric.ESTIMATORS`, looked up
by task and protocol in `metrics/catalogue.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from padt_eval.core.errors import UsageError
from padt_eval.core.fileio import atomic_write
from padt_eval.metrics.catalogue import declared_estimators
from padt_eval.metrics.estimators import Estimator
from padt_eval.metrics.paired import DEFAULT_RESAMPLES, DEFAULT_SEED, mcnemar_exact, paired_compare
from padt_eval.report.compare_errors import compare_error_shares
from padt_eval.report.runs import Run, load_run

SCHEMA = "padt-eval/comparison/v1"


METHOD = {
    "interval": "paired bootstrap over shared samples, percentile 95% interval of B − A; ratio metrics (cIoU) "
    "recompute Σintersection/Σunion on each resample",
    "p_value": "McNemar exact (two-sided binomial on discordant pairs) for Acc@t; paired permutation test "
    "(random A/B swaps within samples, two-sided, add-one) for the others; when A and B define the metric "
    "differently (protocols), 2·min(P*[Δ*≤0], P*[Δ*≥0]) from the bootstrap",
}


def estimators_for(run: Run) -> dict[str, Estimator]:
    """The per-sample estimators declared by the metric that scored `run` (`metrics/catalogue.py`)."""
    est = declared_estimators(run.task, run.protocol)
    if not est:
        raise UsageError(
            f"{run.dir}: no per-sample estimator for task {run.task!r} under protocol {run.protocol!r} "
            "(corpus-level metrics such as COCO AP and CIDEr-D do not decompose over samples)"
        )
    return est


def _run_info(run: Run, given: str | Path) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "dir": str(given),
        "metrics_sha256": run.metrics_sha256,
        "model": run.model_name,
        "task": run.task,
        "split": run.split,
        "protocol": run.protocol,
        "split_hash": run.split_hash,
        "gt": run.gt_variant,
        "n_samples": len(run.per_sample),
    }


def compare_runs(
    dir_a: str | Path, dir_b: str | Path, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    a, b = load_run(dir_a), load_run(dir_b)
    if a.task != b.task:
        raise UsageError(f"cannot compare a {a.task} run with a {b.task} run")
    est_a, est_b = estimators_for(a), estimators_for(b)
    names = [m for m in a.metrics if m in est_a and m in est_b and m in b.metrics]
    if not names:
        raise UsageError("the two runs share no metric that can be compared per sample")
    warnings: list[str] = []
    for label, run, est in (("A", a, est_a), ("B", b, est_b)):
        recs = run.per_sample
        for m in names:
            # the same formula as the metric's compute: they differ only where the files do
            # (a metrics.json edited by hand or written by another version)
            full = est[m].ratio_data(recs).value() if recs else float("nan")
            if not np.isclose(full, run.metrics[m], rtol=0, atol=1e-9):
                warnings.append(f"run {label}: per-sample records give {m} = {full:.6f}, metrics.json says {run.metrics[m]:.6f}")
    for what, va, vb in (
        ("split files", a.split_hash, b.split_hash),
        ("scoring protocol", a.protocol, b.protocol),
        ("ground truth", a.gt_variant, b.gt_variant),
    ):
        if va != vb:
            warnings.append(f"{what} differ ({va} vs {vb}): the difference includes that effect")
    by_id_b = {r["sample_id"]: r for r in b.per_sample}
    shared_a = [r for r in a.per_sample if r["sample_id"] in by_id_b]
    shared_b = [by_id_b[r["sample_id"]] for r in shared_a]
    n_only_a = len(a.per_sample) - len(shared_a)
    n_only_b = len(b.per_sample) - len(shared_b)
    if not shared_a:
        raise UsageError(f"{dir_a} and {dir_b} share no sample id")
    if n_only_a or n_only_b:
        warnings.append(f"compared on the {len(shared_a)} shared samples ({n_only_a} only in A, {n_only_b} only in B)")
    results = paired_compare(
        [est_a[m].ratio_data(shared_a) for m in names],
        [est_b[m].ratio_data(shared_b) for m in names],
        n_resamples=n_resamples,
        seed=seed,
    )
    out_metrics: dict[str, Any] = {}
    for m, r in zip(names, results):
        entry: dict[str, Any] = {
            "a": r.a,
            "b": r.b,
            "diff": r.diff,
            "ci95": list(r.ci95),
            "a_ci95": list(r.a_ci95),
            "b_ci95": list(r.b_ci95),
            "p_permutation": r.p_permutation,
            "p_bootstrap": r.p_bootstrap,
        }
        if est_a[m].binary and est_b[m].binary:
            p, n_ab, n_ba = mcnemar_exact(est_a[m].ratio_data(shared_a).num > 0, est_b[m].ratio_data(shared_b).num > 0)
            entry.update(p_value=p, test="McNemar exact", discordant={"a_only": n_ab, "b_only": n_ba})
        elif est_a[m] != est_b[m]:
            # the runs define the metric differently: swapping their per-sample values
            # between runs would mix units, so the p-value comes from the bootstrap
            entry.update(p_value=r.p_bootstrap, test="bootstrap (metric defined differently in A and B)")
        else:
            entry.update(p_value=r.p_permutation, test="paired permutation")
        out_metrics[m] = entry
    errors = compare_error_shares(a, b, shared_a, shared_b, n_resamples, seed)
    return {
        "schema": SCHEMA,
        "run_a": _run_info(a, dir_a),
        "run_b": _run_info(b, dir_b),
        "n_shared": len(shared_a),
        "n_only_a": n_only_a,
        "n_only_b": n_only_b,
        "resamples": n_resamples,
        "seed": seed,
        "method": METHOD,
        "metrics": out_metrics,
        **({"errors": errors} if errors is not None else {}),
        "warnings": warnings,
    }


def default_comparison_path(dir_a: str | Path, dir_b: str | Path) -> Path:
    """`<parent of B>/comparisons/<A>__vs__<B>.json`, where the leaderboard finds it."""
    b = Path(dir_b)
    return b.parent / "comparisons" / f"{Path(dir_a).name}__vs__{b.name}.json"


def write_comparison(doc: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    with atomic_write(path) as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return path


def _comparison_problem(doc: dict[str, Any]) -> str | None:
    """What keeps a comparison file from being tabled (field named), else None."""
    for side in ("run_a", "run_b"):
        info = doc.get(side)
        if not isinstance(info, dict):
            return f"field '{side}' must be an object"
        for key in ("run_id", "metrics_sha256", "task", "split", "model", "protocol"):
            if not isinstance(info.get(key), str):
                return f"field '{side}.{key}' must be a string, got {info.get(key)!r:.40}"
    if not isinstance(doc.get("n_shared"), int):
        return "field 'n_shared' must be an integer"
    if not isinstance(doc.get("warnings", []), list):
        return "field 'warnings' must be a list"
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict):
        return "field 'metrics' must be an object"
    for name, e in metrics.items():
        if not isinstance(e, dict):
            return f"field 'metrics.{name}' must be an object"
        for key in ("a", "b", "diff", "p_value"):
            if not isinstance(e.get(key), (int, float)) or isinstance(e.get(key), bool):
                return f"field 'metrics.{name}.{key}' must be a number, got {e.get(key)!r:.40}"
        for key in ("ci95", "a_ci95", "b_ci95"):
            v = e.get(key)
            if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)):
                return f"field 'metrics.{name}.{key}' must be two numbers, got {v!r:.40}"
        if not isinstance(e.get("test"), str):
            return f"field 'metrics.{name}.test' must be a string"
    return None


def load_comparisons(root: str | Path, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Every comparison file under `root` (`**/comparisons/*.json`), in path order. A file
    that is not one is passed over; one of the wrong shape gets a line in `skipped`."""
    out = []
    for p in sorted(Path(root).rglob("comparisons/*.json")):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            if skipped is not None:
                skipped.append(f"{p}: not a readable comparison file ({exc})")
            continue
        if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
            why = _comparison_problem(doc)
            if why is not None:
                if skipped is not None:
                    skipped.append(f"{p}: {why}")
                continue
            doc["_path"] = str(p)
            out.append(doc)
    return out
