"""Crafted results folders (metrics.json, manifest.json, per_sample.jsonl) for table tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def rec_records(ious: list[float], prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"sample_id": f"{prefix}{i}", "status": "ok", "iou": v, "hit@0.5": v >= 0.5, "hit@0.75": v >= 0.75, "hit@0.9": v >= 0.9}
        for i, v in enumerate(ious)
    ]


def rec_metrics(records: list[dict[str, Any]]) -> dict[str, float]:
    n = len(records)
    out = {f"acc@{t}": sum(r[f"hit@{t}"] for r in records) / n for t in ("0.5", "0.75", "0.9")}
    out["mean_iou"] = sum(r["iou"] for r in records) / n
    return out


def res_records(pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [
        {"sample_id": str(i), "status": "ok", "intersection": a, "union": u, "iou": a / u if u else 0.0}
        for i, (a, u) in enumerate(pairs)
    ]


def res_metrics(records: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "miou": sum(r["iou"] for r in records) / len(records),
        "ciou": sum(r["intersection"] for r in records) / sum(r["union"] for r in records),
    }


def write_run(
    root: Path,
    name: str,
    *,
    task: str,
    split: str,
    records: list[dict[str, Any]],
    model: dict[str, Any],
    protocol: str = "standard",
    split_sha: str = "aaa",
    layout: str = "refer",
    prompt_hash: str | None = "p1",
    metrics: dict[str, float] | None = None,
    finished: str = "2025-01-01T00:00:00+00:00",
) -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    if metrics is None:
        metrics = rec_metrics(records) if task == "rec" else res_metrics(records)
    counts = {
        "n_samples": len(records),
        "n_predicted": len(records),
        "n_missing": 0,
        "n_parse_failed": 0,
        "n_error": 0,
        "n_no_object": 0,
        "n_with_scores": len(records),
    }
    (d / "per_sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (d / "manifest.json").write_text(
        json.dumps(
            {
                "task": task,
                "finished": finished,
                "split": {
                    "name": split,
                    "layout": layout,
                    "files": {f"/somewhere/{split}.json": split_sha},
                    "image_root": "/nowhere",
                },
                "model": model,
                "prompt_template_hash": prompt_hash,
            }
        )
    )
    (d / "metrics.json").write_text(
        json.dumps(
            {
                "schema": "padt-eval/metrics/v1",
                "run_id": name,
                "task": task,
                "split": split,
                "model": model,
                "metrics": metrics,
                "counts": counts,
                "protocol": {"name": protocol},
                "predictions": {"file": f"/nowhere/{name}.jsonl", "sha256": "0"},
            }
        )
    )
    return d
