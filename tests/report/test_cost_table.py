"""The leaderboard's "cost" table (report/cost_table.py): one row per model, task and split
with a cost; its cells are the answers' tokens recomputed here from the predictions file,
and a model run's samples/s with its device."""

from __future__ import annotations

import json
import random

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.demo.data import make_predictions
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, PredictionsOptions, RunOptions, ScoringOptions
from padt_eval.report.leaderboard import build_leaderboard

from .conftest import _synthetic_split


def _with_cost(src, dst, seed=4):
    """The predictions with cost meta fields (as an adapter records them), some answers at max length."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    for r in rows:
        hit = rng.random() < 0.25
        r["meta"] = {
            "prompt_tokens": rng.randint(60, 90),
            "completion_tokens": 16 if hit else rng.randint(3, 15),
            "hit_max_new_tokens": hit,
        }
    dst.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_the_cost_table_rows(tmp_path):
    _, images, split = _synthetic_split(tmp_path, seed=8)
    plain = tmp_path / "plain.jsonl"
    make_predictions(PadtRefcocoJsonlReader(split, images, Task.REC), plain, seed=1)
    rows = _with_cost(plain, tmp_path / "costed.jsonl")
    results = tmp_path / "results"
    reader = PadtRefcocoJsonlReader(split, images, Task.REC, name="synth_val")
    for protocol in ("standard", "padt-release"):  # one model's predictions scored twice: one row
        api.score(
            Task.REC,
            "synth_val",
            PredictionsOptions(tmp_path / "costed.jsonl"),
            reader=reader,
            scoring=ScoringOptions(protocol),
            output=OutputOptions(results / f"costed-{protocol}", name="costed", report=False),
        )
    api.score(
        Task.REC, "synth_val", PredictionsOptions(plain), reader=reader, output=OutputOptions(results / "plain", report=False)
    )
    api.run_model(
        Task.REC,
        str(split),
        ModelOptions("colour-finder"),
        data=DataOptions(image_root=images),
        run=RunOptions(1, batch_size=4, loader_workers=0),
        output=OutputOptions(results / "colour", report=False),
    )
    board = build_leaderboard(results, None)
    (table,) = [t for t in board.tables if t.key == "cost"]
    by_model = {r.get("model").text: r for r in table.rows}
    assert sorted(by_model) == ["colour-finder", "costed"]  # the file without cost meta has no row
    costed = by_model["costed"]
    with_objects = [r for r in rows if r.get("objects")]
    tpo = sum(r["meta"]["completion_tokens"] for r in with_objects) / sum(len(r["objects"]) for r in with_objects)
    assert costed.get("tok_obj").value == round(tpo, 4)
    assert costed.get("hit_max").value == round(sum(r["meta"]["hit_max_new_tokens"] for r in rows) / len(rows), 4) * 100
    assert costed.get("answers").value == len(rows)
    assert costed.get("sps").text == "—" and costed.get("device").text == "—"  # a file: no throughput
    colour = by_model["colour-finder"]
    cost = json.loads((results / "colour" / "metrics.json").read_text())["cost"]
    assert colour.get("sps").value == cost["throughput"]["samples_per_s"] > 0
    assert colour.get("device").text.startswith("CPU ")
    assert colour.get("tok_obj").text == "—"  # it generates no tokens
