"""The leaderboard's "cost" table: what each model's answers cost, per task and split.

One row per (model, task, split) among the runs whose metrics.json has a `cost` summary
(results/cost.py): tokens per predicted object, the share of answers that hit
--max-new-tokens, mean prompt and generated tokens, and where padt-eval ran the model, its
samples/s and generated tokens/s with the device. A split scored twice (another protocol:
the same predictions) gives one row: the run that measured throughput, else the latest.
"""

from __future__ import annotations

from typing import Any

from padt_eval.report.runs import Run
from padt_eval.report.tables import Cell, Column, Row, Table

CAPTION = (
    "Tokens/object = all generated tokens of the answers that predicted an object / their objects (the end-of-turn token "
    "counted; PaDT's VRTs are tokens too). Max length = share of answers that ran to --max-new-tokens without stopping. "
    "Prompt and generated tokens: means per answer. Samples/s and tokens/s: the run's batch loop (data wait, model, "
    "writing; model load excluded), summed over its ranks, on the device named; '—' where the predictions came from a "
    "file. docs/metrics.md, 'Cost'."
)


def _num(value: Any, decimals: int, scale: float = 1.0) -> Cell:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return Cell("—")
    v = value * scale
    return Cell(f"{v:.{decimals}f}", v)


def _pick(runs: list[Run]) -> Run:
    """Of one (model, task, split)'s runs: the one with throughput, then the latest."""
    return max(runs, key=lambda r: ("throughput" in (r.record.cost or {}), r.finished, r.run_id))


def cost_table(runs: list[Run]) -> Table:
    cols = [
        Column("task", "Task"),
        Column("split", "Split"),
        Column("model", "Model"),
        Column("answers", "Answers", numeric=True),
        Column("tok_obj", "Tokens/object", numeric=True),
        Column("hit_max", "Max length (%)", numeric=True),
        Column("prompt", "Prompt tokens", numeric=True),
        Column("gen", "Generated tokens", numeric=True),
        Column("sps", "Samples/s", numeric=True),
        Column("tps", "Tokens/s", numeric=True),
        Column("device", "Device"),
    ]
    table = Table("cost", "Cost: tokens per object, max-length answers, throughput", CAPTION, cols, [])
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for r in runs:
        if r.record.cost:
            groups.setdefault((r.task, r.split, r.model_name), []).append(r)
    for task, split, model in sorted(groups, key=lambda k: (k[0], k[1], k[2].lower())):
        run = _pick(groups[(task, split, model)])
        cost: dict[str, Any] = run.record.cost or {}
        tput = cost.get("throughput") or {}
        ranks = tput.get("ranks")
        device = Cell(str(tput["device"]) if tput.get("device") else "—")
        if isinstance(ranks, int) and ranks > 1:
            table.note(device, f"{ranks} ranks; samples/s and tokens/s are their sum")
        table.rows.append(
            Row(
                {
                    "task": Cell(task),
                    "split": Cell(split),
                    "model": Cell(model),
                    "answers": _num(cost.get("answers"), 0),
                    "tok_obj": _num((cost.get("tokens_per_object") or {}).get("overall"), 1),
                    "hit_max": _num((cost.get("hit_max_new_tokens") or {}).get("share"), 1, 100.0),
                    "prompt": _num((cost.get("prompt_tokens") or {}).get("mean"), 1),
                    "gen": _num((cost.get("completion_tokens") or {}).get("mean"), 1),
                    "sps": _num(tput.get("samples_per_s"), 2),
                    "tps": _num(tput.get("generated_tokens_per_s"), 1),
                    "device": device,
                },
                "measured",
            )
        )
    return table
