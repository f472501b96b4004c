"""The leaderboard's GREC and GRES tables: reported rows keep one row per split."""

from __future__ import annotations

import csv
from pathlib import Path

from padt_eval.report.leaderboard import build_leaderboard

REPORTED = Path(__file__).parents[2] / "padt_eval" / "report" / "data" / "reported_numbers.csv"


def test_reported_grefcoco_rows_are_one_per_model_and_split(tmp_path):
    board = build_leaderboard(tmp_path, REPORTED)
    tables = {t.key: t for t in board.tables}
    with open(REPORTED, newline="") as f:
        wanted = [r for r in csv.DictReader(f) if r["task"] in ("grec", "gres")]
    assert wanted
    for task, metric_keys in (("grec", ("pr_f1", "n_acc")), ("gres", ("ciou", "giou"))):
        rows = {(r.get("model").text.split(" [")[0], r.get("split").text): r for r in tables[task].rows if r.kind == "reported"}
        expect = {(w["model"], w["split"]) for w in wanted if w["task"] == task}
        assert set(rows) == expect
        for w in wanted:
            if w["task"] == task and w["metric"] in metric_keys:
                assert rows[(w["model"], w["split"])].get(f"*|{w['metric']}").text == w["value"]
