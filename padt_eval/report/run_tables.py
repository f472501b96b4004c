"""The leaderboard's two tables about runs: their protocol fields, and paired comparisons."""

from __future__ import annotations

from typing import Any

from padt_eval.report.runs import Run
from padt_eval.report.table_specs import PROTOCOL_ORDER, display_scale
from padt_eval.report.tables import Cell, Column, Row, Table


def _fmt(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}"


def runs_table(runs: list[Run]) -> Table:
    cols = [
        Column("task", "Task"),
        Column("split", "Split"),
        Column("model", "Model"),
        Column("protocol", "Protocol"),
        Column("gt", "GT"),
        Column("split_hash", "Split hash"),
        Column("prompt", "Prompt hash"),
        Column("min_px", "Min px", numeric=True),
        Column("max_px", "Max px", numeric=True),
        Column("scores", "Scores"),
        Column("n", "Samples", numeric=True),
        Column("missed", "Missing / unparseable / errors", numeric=True),
        Column("run", "Run"),
    ]
    t = Table(
        "runs",
        "Runs and their protocol",
        "One line per measured run. Split hash = sha256 over the split files' contents (12 hex digits); prompt hash = "
        "sha256 of the prompt template ('—' for predictions files); pixels from the model description; Scores = "
        "whether every predicted object carried a confidence.",
        cols,
        [],
    )
    for r in sorted(runs, key=lambda r: (r.task, r.split, r.model_name.lower(), PROTOCOL_ORDER.get(r.protocol, 9), r.run_id)):
        c = r.counts
        t.rows.append(
            Row(
                {
                    "task": Cell(r.task),
                    "split": Cell(r.split),
                    "model": Cell(r.model_name),
                    "protocol": Cell(r.protocol),
                    "gt": Cell(r.gt_variant),
                    "split_hash": Cell(r.split_hash),
                    "prompt": Cell(r.prompt_hash),
                    "min_px": Cell(r.pixels("min_pixels")),
                    "max_px": Cell(r.pixels("max_pixels")),
                    "scores": Cell(r.scores_provided),
                    "n": Cell(str(c.get("n_samples", "?")), c.get("n_samples")),
                    "missed": Cell(f"{c.get('n_missing', 0)} / {c.get('n_parse_failed', 0)} / {c.get('n_error', 0)}"),
                    "run": Cell(r.run_id),
                }
            )
        )
    return t


def comparisons_table(comparisons: list[dict[str, Any]], runs: list[Run]) -> Table:
    current = {(r.run_id, r.metrics_sha256) for r in runs}
    cols = [
        Column("task", "Task"),
        Column("split", "Split"),
        Column("metric", "Metric"),
        Column("a", "A"),
        Column("b", "B"),
        Column("va", "A value", numeric=True),
        Column("vb", "B value", numeric=True),
        Column("diff", "B − A", numeric=True),
        Column("ci", "95% CI of B − A"),
        Column("p", "p", numeric=True),
        Column("test", "Test"),
        Column("n", "Shared samples", numeric=True),
    ]
    t = Table(
        "comparisons",
        "Paired comparisons",
        "From `padt-eval compare A B` on the samples both runs scored: paired bootstrap percentile interval; p from "
        "McNemar's exact test for Acc@t, from a paired permutation test otherwise. Values in % (caption scores as is).",
        cols,
        [],
    )
    for doc in comparisons:
        a, b = doc["run_a"], doc["run_b"]
        if (a["run_id"], a["metrics_sha256"]) not in current or (b["run_id"], b["metrics_sha256"]) not in current:
            continue
        for metric, e in doc["metrics"].items():
            s = display_scale(metric)
            d = 3 if s == 1.0 else 2
            row = Row(
                {
                    "task": Cell(a["task"]),
                    "split": Cell(a["split"] if a["split"] == b["split"] else f"{a['split']} / {b['split']}"),
                    "metric": Cell(metric),
                    "a": Cell(f"{a['model']} ({a['protocol']})"),
                    "b": Cell(f"{b['model']} ({b['protocol']})"),
                    "va": Cell(_fmt(e["a"] * s, d), e["a"] * s),
                    "vb": Cell(_fmt(e["b"] * s, d), e["b"] * s),
                    "diff": Cell(f"{e['diff'] * s:+.{d}f}", e["diff"] * s),
                    "ci": Cell(f"[{e['ci95'][0] * s:+.{d}f}, {e['ci95'][1] * s:+.{d}f}]"),
                    "p": Cell(f"{e['p_value']:.2g}", e["p_value"]),
                    "test": Cell(e["test"]),
                    "n": Cell(str(doc["n_shared"]), doc["n_shared"]),
                },
                "measured",
            )
            for w in doc.get("warnings", []):
                t.note(row.cells["b"], w)
            t.rows.append(row)
    return t
