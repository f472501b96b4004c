"""The reported-numbers file: cells checked against the paper tables as the docs give them,
the documented misprints flagged, the file format validated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from padt_eval.core.errors import DataError
from padt_eval.report.reported import load_reported

REPO = Path(__file__).resolve().parents[2]
REPORTED = REPO / "padt_eval" / "report" / "data" / "reported_numbers.csv"
DOC = REPO / "docs" / "reference" / "padt_paper_protocol.md"  # the project's copy of the paper protocol


@pytest.fixture(scope="module")
def cells():
    cs = load_reported(REPORTED)
    return {(c.model, c.params, c.task, c.split, c.metric, c.table): c for c in cs}


# (model, params, task, split, metric, table) -> value as printed, from docs/reference/padt_paper_protocol.md §1
TEN_CELLS = {
    ("PaDT", "3B", "rec", "refcoco_val", "acc@0.5", "Table 1"): "93.2",
    ("PaDT Pro", "3B", "rec", "overall", "acc@0.5", "Table 1"): "93.6",
    ("Qwen2.5-VL", "7B", "rec", "refcoco+_val", "acc@0.5", "Table 1"): "94.2",
    ("PaDT", "7B", "rec", "overall", "acc@0.5", "Table 1"): "90.1",
    ("Ferret-v2", "7B", "rec", "refcoco_val", "acc@0.5", "Table 1"): "87.5",
    ("CogVLM-Grounding", "17B", "rec", "refcocog_test", "acc@0.5", "Table 1"): "90.8",
    ("LISA", "7B", "res", "refcoco_val", "ciou", "Table 2"): "74.1",
    ("PaDT Pro", "7B", "res", "overall", "ciou", "Table 2"): "84.1",
    ("PaDT Pro", "3B", "ovd", "coco_val2017", "ap", "Table 3"): "38.2",
    ("VLM-R1", "3B", "ovd", "coco_val2017", "ap", "Table 3"): "19.2",
    ("PaDT", "3B", "ric", "ric_val", "cider_d", "Table 4"): "1.450",
    ("PaDT Pro", "3B", "ric", "ric_val", "gr", "Table 4"): "45.1",
}


def test_ten_cells_match_the_paper_tables(cells):
    for key, printed in TEN_CELLS.items():
        assert cells[key].value_text == printed, key
        assert cells[key].source.startswith("PaDT v1")


def test_documented_misprints_and_mislabels_are_flagged(cells):
    q = cells[("Qwen2.5-VL", "7B", "rec", "refcoco+_val", "acc@0.5", "Table 1")]
    assert "misprint" in q.flags and q.value == 94.2 and q.value_used == 84.2
    assert "misprint" in cells[("PaDT", "7B", "rec", "overall", "acc@0.5", "Table 1")].flags
    assert "suspect" in cells[("PaDT", "7B", "rec", "refcoco_testA", "acc@0.5", "Table 1")].flags
    ferret = [c for k, c in cells.items() if k[:3] == ("Ferret-v2", "7B", "rec") and k[5] == "Table 1"]
    assert len(ferret) == 9 and all("mislabel" in c.flags and "Ferret-v1" in c.note for c in ferret)
    # the RIC prose/table mix-up: caption scores of PaDT 3B, GP/GR of PaDT Pro 3B
    for m in ("cider_d", "meteor", "rouge_l", "bleu4"):
        assert "prose-mismatch" in cells[("PaDT", "3B", "ric", "ric_val", m, "Table 4")].flags
        assert "prose-mismatch" not in cells[("PaDT Pro", "3B", "ric", "ric_val", m, "Table 4")].flags
    for m in ("gp", "gr"):
        assert "prose-mismatch" in cells[("PaDT Pro", "3B", "ric", "ric_val", m, "Table 4")].flags
    # values not re-read from their source say so
    assert "recalled" in cells[("Qwen2.5-VL", "7B", "rec", "refcoco+_val", "acc@0.5", "grounding table")].flags
    assert "recalled" in cells[("Ferret-v2", "7B", "rec", "refcoco_val", "acc@0.5", "REC table")].flags


def test_overall_equals_the_row_mean_except_where_flagged(cells):
    rows: dict[tuple, dict[str, float]] = {}
    for (model, params, task, split, _metric, table), c in cells.items():
        if table in ("Table 1", "Table 2"):
            rows.setdefault((model, params, task, table), {})[split] = c
    checked = 0
    for key, row in rows.items():
        if "overall" not in row or len(row) != 9:
            continue
        mean = sum(c.value_used for s, c in row.items() if s != "overall") / 8
        if "misprint" in row["overall"].flags:
            assert abs(mean - row["overall"].value) > 0.05, key
        else:
            assert abs(mean - row["overall"].value) <= 0.05 + 1e-9, key
            checked += 1
    assert checked >= 30


def test_every_paper_table_cell_matches_the_doc(cells):
    text = DOC.read_text()
    specs = {
        "### 1.1 REC: Table 1": (
            "rec",
            "Table 1",
            [
                "refcoco_val",
                "refcoco_testA",
                "refcoco_testB",
                "refcoco+_val",
                "refcoco+_testA",
                "refcoco+_testB",
                "refcocog_val",
                "refcocog_test",
                "overall",
            ],
            "acc@0.5",
        ),
        "### 1.2 RES: Table 2": (
            "res",
            "Table 2",
            [
                "refcoco_val",
                "refcoco_testA",
                "refcoco_testB",
                "refcoco+_val",
                "refcoco+_testA",
                "refcoco+_testB",
                "refcocog_val",
                "refcocog_test",
                "overall",
            ],
            "ciou",
        ),
        "### 1.3 OVD: Table 3": ("ovd", "Table 3", ["ap", "ap50", "ap75", "ar100", "ar50", "ar75"], None),
        "### 1.4 RIC: Table 4": ("ric", "Table 4", ["cider_d", "meteor", "rouge_l", "bleu4", "gp", "gr"], None),
    }
    n = 0
    for heading, (task, table, cols, metric) in specs.items():
        block = text[text.index(heading) :]
        lines = block.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("|"))
        body = []
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            body.append([c.strip() for c in line.strip().strip("|").split("|")])
        for r in body:
            model, params = r[0].replace("**", "").strip(), r[1]
            for col, cell in zip(cols, r[2:]):
                m = re.match(r"^\**([0-9.]+)", cell)
                if not m:
                    continue
                key = (
                    model,
                    params,
                    task,
                    col if metric else ("coco_val2017" if task == "ovd" else "ric_val"),
                    metric or col,
                    table,
                )
                assert cells[key].value_text == m.group(1), key
                n += 1
    padt = [k for k, c in cells.items() if k[5] in ("Table 1", "Table 2", "Table 3", "Table 4") and c.source.startswith("PaDT")]
    assert n == len(padt)


def test_format_errors_name_the_line(tmp_path):
    head = "model,params,task,split,metric,value,value_corrected,unit,source,table,flags,protocol,hf_id,note\n"
    good = "M,1B,rec,refcoco_val,acc@0.5,90.0,,%,S,T,read,p,,\n"
    p = tmp_path / "r.csv"
    for body, msg in (
        ("M,1B,rec,refcoco_val,acc@0.5,90.0,,%,S,T,remembered,p,,\n", "unknown flag"),
        ("M,1B,rec,refcoco_val,acc@0.5,90.0,,%,S,T,misprint,p,,\n", "how the value is known"),
        ("M,1B,rec,refcoco_val,acc@0.5,90.0,80.0,%,S,T,read,p,,\n", "only for cells flagged misprint"),
        ("M,1B,rec,refcoco_val,acc@0.5,ninety,,%,S,T,read,p,,\n", "must be a number"),
        ("M,1B,rec,refcoco_val,acc@0.5,90.0,,percent,S,T,read,p,,\n", "unit must be"),
        (good, "duplicate of line 2"),
    ):
        p.write_text(head + good + body)
        with pytest.raises(DataError, match=msg) as e:
            load_reported(p)
        assert "r.csv:3" in str(e.value)
    p.write_text("model,value\nM,1\n")
    with pytest.raises(DataError, match="missing column"):
        load_reported(p)
    assert load_reported(tmp_path / "absent.csv") == []


@pytest.mark.slow
def test_an_installed_padt_eval_finds_the_reported_numbers(tmp_path):
    """Build a wheel from a copy of the sources, unpack it, and import padt-eval from
    there only: the default reported-numbers file is inside the installed package."""
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    shutil.copytree(REPO / "padt_eval", src / "padt_eval", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("padt_eval-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty_results = tmp_path / "results"
    empty_results.mkdir()
    code = (
        "import sys; from padt_eval.report.reported import default_reported_path, load_reported; "
        "p = default_reported_path(sys.argv[1]); print(p); print(len(load_reported(p)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(empty_results)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(site) and Path(out[0]).is_file()
    assert int(out[1]) == len(load_reported(REPORTED)) > 0
