"""The leaderboard's ReasonSeg and RefCOCO-M tables: each benchmark in its own table, measured
rows from its splits only, reported rows as the reported-numbers file prints them, and
neither benchmark left in the RES table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from padt_eval.report.leaderboard import build_leaderboard
from padt_eval.report.table_specs import TASK_TABLES
from tests.report.runs_fixture import res_metrics, res_records, write_run

REPORTED = Path(__file__).parents[2] / "padt_eval" / "report" / "data" / "reported_numbers.csv"
TABLE_OF_SPLIT = {"reasonseg": "reasonseg", "refcoco_m": "refcoco_m"}


def _csv_rows(split_prefix: str) -> list[dict[str, str]]:
    with open(REPORTED, newline="") as f:
        return [r for r in csv.DictReader(f) if r["task"] == "res" and r["split"].startswith(split_prefix)]


def _runs(root: Path) -> None:
    pairs = [(3, 4), (1, 5), (0, 2), (6, 6)]
    recs = res_records(pairs)
    model = {"name": "m"}
    write_run(root, "rs", task="res", split="reasonseg_val", records=recs, model=model, layout="reasonseg")
    official = {"giou": 0.41, "ciou": 0.52}  # LISA's rules give other numbers than the records' (first query only)
    write_run(root, "rs-off", task="res", split="reasonseg_val", records=recs, model=model, protocol="official", metrics=official)
    write_run(root, "rcm", task="res", split="refcoco_m_val", records=recs, model=model, layout="refcoco-m")
    write_run(root, "rc", task="res", split="refcoco_val", records=recs, model=model)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    _runs(root)
    return {t.key: t for t in build_leaderboard(root, REPORTED).tables}


def test_each_benchmark_has_its_own_table_and_leaves_the_res_table(tables):
    res_columns = {c.key.split("|")[0] for c in tables["res"].columns if "|" in c.key}
    assert "refcoco_val" in res_columns
    assert not {s for s in res_columns if s.startswith(("reasonseg", "refcoco_m"))}, res_columns
    assert [c.label for c in tables["reasonseg"].columns if c.numeric][:4] == ["val gIoU", "val cIoU", "test gIoU", "test cIoU"]
    assert [c.label for c in tables["refcoco_m"].columns if c.numeric] == ["RC-M val cIoU", "RC-M val mIoU"]


def test_measured_rows_show_each_protocols_own_numbers(tables):
    measured = [r for r in tables["reasonseg"].rows if r.kind == "measured"]
    by_protocol = {r.get("protocol").text: r for r in measured}
    expect = res_metrics(res_records([(3, 4), (1, 5), (0, 2), (6, 6)]))
    # standard: the gIoU column is padt-eval's mIoU (metrics.json `miou`), computed independently here
    assert by_protocol["standard"].get("reasonseg_val|giou").value == pytest.approx(100 * expect["miou"])
    assert by_protocol["standard"].get("reasonseg_val|ciou").value == pytest.approx(100 * expect["ciou"])
    assert by_protocol["official"].get("reasonseg_val|giou").value == pytest.approx(41.0)
    (m,) = [r for r in tables["refcoco_m"].rows if r.kind == "measured"]
    assert m.get("refcoco_m_val|miou").value == pytest.approx(100 * expect["miou"])


@pytest.mark.parametrize(("table", "prefix"), [("reasonseg", "reasonseg_"), ("refcoco_m", "refcoco_m_")])
def test_reported_rows_print_the_files_values_and_name_their_source(tables, table, prefix):
    wanted = _csv_rows(prefix)
    assert wanted, f"no reported {prefix}* cells"
    rows = {
        (r.get("model").text, r.get("params").text, r.get("source").text): r for r in tables[table].rows if r.kind == "reported"
    }
    assert len(rows) == len({(w["model"], w["params"], w["source"]) for w in wanted})
    for w in wanted:
        row = rows[(w["model"], w["params"], f"{w['source']}, {w['table']}")]
        assert row.get(f"{w['split']}|{w['metric']}").text == w["value"]
        # the protocol the number is on is a note on the row's protocol cell
        notes = {m: t for m, t in tables[table].notes.items()}
        assert w["protocol"] in {notes[m] for m in row.get("protocol").marks}


def test_reported_reasonseg_rows_say_they_are_on_lisas_protocol():
    # a reported number must say which protocol it is on, so that nobody reads it against a standard row
    assert all("--protocol official" in w["protocol"] for w in _csv_rows("reasonseg_"))
    (spec,) = [t for t in TASK_TABLES if t.name == "reasonseg"]
    assert "compare them with official rows" in spec.caption
