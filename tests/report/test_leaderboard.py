"""The leaderboard on crafted runs, checked cell by cell in all four formats."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from padt_eval import api
from padt_eval.report.leaderboard import build_leaderboard, write_leaderboard
from tests.report.runs_fixture import rec_records, res_records, write_run

PADT = {"name": "PaDT 3B (ours)", "model": "PaDT-MLLM/PaDT_REC_3B", "min_pixels": 3136, "max_pixels": 12845056}
SPLITS = [
    "refcoco_val",
    "refcoco_testA",
    "refcoco_testB",
    "refcoco+_val",
    "refcoco+_testA",
    "refcoco+_testB",
    "refcocog_val",
    "refcocog_test",
]

REPORTED = """model,params,task,split,metric,value,value_corrected,unit,source,table,flags,protocol,hf_id,note
PaDT,3B,rec,refcoco_val,acc@0.5,93.2,,%,PaDT v1,Table 1,read,padt-release [inferred],PaDT-MLLM/PaDT_REC_3B,
PaDT,3B,rec,refcoco_testA,acc@0.5,95.3,,%,PaDT v1,Table 1,read,padt-release [inferred],PaDT-MLLM/PaDT_REC_3B,
PaDT,3B,rec,overall,acc@0.5,90.0,,%,PaDT v1,Table 1,read,padt-release [inferred],PaDT-MLLM/PaDT_REC_3B,
Qwen2.5-VL,7B,rec,refcoco_val,acc@0.5,90.0,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,refcoco_testA,acc@0.5,92.5,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,refcoco_testB,acc@0.5,85.4,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,refcoco+_val,acc@0.5,94.2,84.2,%,PaDT v1,Table 1,read;misprint,own paper,,the Overall needs 84.2
Qwen2.5-VL,7B,rec,refcoco+_testA,acc@0.5,89.1,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,refcoco+_testB,acc@0.5,76.9,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,refcocog_val,acc@0.5,87.2,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,refcocog_test,acc@0.5,87.2,,%,PaDT v1,Table 1,read,own paper,,
Qwen2.5-VL,7B,rec,overall,acc@0.5,86.6,,%,PaDT v1,Table 1,read,own paper,,
Kosmos-2,,rec,refcoco_val,acc@0.5,52.32,,%,unilm README,zero-shot,recalled,own paper,,
"""


@pytest.fixture(scope="module")
def board_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lb") / "results"
    runs = root / "runs"
    write_run(runs, "rec-val-padt", task="rec", split="refcoco_val", records=rec_records([0.9] * 9 + [0.1]), model=PADT)
    write_run(
        runs,
        "rec-testA-padt",
        task="rec",
        split="refcoco_testA",
        records=rec_records([0.6] * 19 + [0.0]),
        model=PADT,
        split_sha="t1",
    )
    write_run(
        runs,
        "rec-val-padt-release",
        task="rec",
        split="refcoco_val",
        records=rec_records([0.9] * 10),
        model=PADT,
        protocol="padt-release",
    )
    write_run(
        runs,
        "rec-val-m2",
        task="rec",
        split="refcoco_val",
        records=rec_records([0.9] * 8 + [0.1] * 2),
        model={"name": "M2"},
        split_sha="zzz",
        prompt_hash="p2",
    )
    for k, split in enumerate(SPLITS):  # M3 has all 8 splits: acc = 0.1 … 0.8
        write_run(
            runs,
            f"rec-{split}-m3",
            task="rec",
            split=split,
            records=rec_records([0.9] * (k + 1) + [0.0] * (9 - k)),
            model={"name": "M3"},
            split_sha="aaa" if split == "refcoco_val" else ("t1" if split == "refcoco_testA" else split),
            prompt_hash="p9" if k == 2 else "p1",
        )
    write_run(runs, "res-val-padt", task="res", split="refcoco_val", records=res_records([(10, 10), (100, 200)]), model=PADT)
    api.compare(runs / "rec-val-padt", runs / "rec-val-padt-release", resamples=2000, seed=0)
    (root / "reported").mkdir()
    (root / "reported" / "reported_numbers.csv").write_text(REPORTED)
    out = root.parent / "out"
    api.leaderboard(root, out)
    return root, out


def _md_table(md: str, title: str) -> tuple[list[str], list[list[str]], dict[str, str]]:
    block = md.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split(" | ")]
    rows = [[c.strip() for c in line[1:-1].split(" | ")] for line in lines[2:]]
    notes = dict((m.group(2), m.group(1)) for m in re.finditer(r"^- \[(\w+)\] (.*)$", block, re.M))
    return header, rows, notes


def _mark(notes: dict[str, str], fragment: str) -> str:
    found = [m for text, m in notes.items() if fragment in text]
    assert len(found) == 1, (fragment, notes)
    return found[0]


def expected_rec(notes: dict[str, str], pm: str) -> tuple[list[str], list[list[str]]]:
    split_mark = _mark(notes, "split files differ")
    release = _mark(notes, "padt-release: the PaDT release's eval_refcoco.py rules")
    gt = _mark(notes, "official refer annotations")
    prompts = _mark(notes, "prompt template hashes differ between this row's runs: p1, p9")
    misprint = (
        _mark(notes, "misprint: the printed value contradicts")
        + ","
        + _mark(notes, "corrected from the printed 94.2: the Overall needs 84.2")
    )
    rep_padt = _mark(notes, "padt-release [inferred]")
    own = _mark(notes, "own paper")
    recalled = _mark(notes, "[recalled]")
    header = [
        "Model",
        "Params",
        "Source",
        "Protocol",
        "RC val",
        "±",
        "RC testA",
        "RC testB",
        "RC+ val",
        "RC+ testA",
        "RC+ testB",
        "RCg val",
        "RCg test",
        "Mean",
        "GT",
        "Prompt",
        "Pixels (min–max)",
        "Scores",
    ]
    e = ""
    px = "3136–12845056"
    rows = [
        ["M2", e, "measured", "standard", f"80.0 [{split_mark}]", e, e, e, e, e, e, e, e, e, f"refer [{gt}]", "p2", "—", "yes"],
        [
            "M3",
            e,
            "measured",
            "standard",
            "10.0",
            e,
            "20.0",
            "30.0",
            "40.0",
            "50.0",
            "60.0",
            "70.0",
            "80.0",
            "45.0",
            f"refer [{gt}]",
            f"mixed [{prompts}]",
            "—",
            "yes",
        ],
        [
            "PaDT 3B (ours)",
            "3B",
            "measured",
            "standard",
            "90.0",
            pm[0],
            "95.0",
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            f"refer [{gt}]",
            "p1",
            px,
            "yes",
        ],
        [
            "PaDT 3B (ours)",
            "3B",
            "measured",
            f"padt-release [{release}]",
            "100.0",
            pm[1],
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            f"refer [{gt}]",
            "p1",
            px,
            "yes",
        ],
        ["PaDT", "3B", "PaDT v1, Table 1", f"as reported [{rep_padt}]", "93.2", e, "95.3", e, e, e, e, e, e, "90.0", e, e, e, e],
        [
            "Qwen2.5-VL",
            "7B",
            "PaDT v1, Table 1",
            f"as reported [{own}]",
            "90.0",
            e,
            "92.5",
            "85.4",
            f"84.2 [{misprint}]",
            "89.1",
            "76.9",
            "87.2",
            "87.2",
            "86.6",
            e,
            e,
            e,
            e,
        ],
        [
            f"Kosmos-2 [{recalled}]",
            e,
            "unilm README, zero-shot",
            f"as reported [{own}]",
            "52.32",
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
            e,
        ],
    ]
    return header, rows


def _pm(root) -> tuple[str, str]:
    doc = json.loads(next((root / "runs" / "comparisons").glob("*.json")).read_text())
    e = doc["metrics"]["acc@0.5"]
    return tuple(f"±{(e[k][1] - e[k][0]) / 2 * 100:.1f}" for k in ("a_ci95", "b_ci95"))  # type: ignore[return-value]


def test_markdown_rec_table_cell_by_cell(board_dir):
    root, out = board_dir
    md = (out / "leaderboard.md").read_text()
    header, rows, notes = _md_table(md, "REC: Acc@0.5 (%)")
    exp_header, exp_rows = expected_rec(notes, _pm(root))
    assert header == exp_header
    assert len(rows) == len(exp_rows)
    for got, exp in zip(rows, exp_rows):
        assert got == exp


def test_markdown_res_table_and_runs_table(board_dir):
    _, out = board_dir
    md = (out / "leaderboard.md").read_text()
    header, rows, _ = _md_table(md, "RES: cIoU and mIoU (%)")
    assert header[4:6] == ["RC val cIoU", "RC val mIoU"]
    (row,) = rows
    assert row[:6] == ["PaDT 3B (ours)", "3B", "measured", "standard", "52.4", "75.0"]  # ΣI/ΣU = 110/210; mean = .75
    header, rows, _ = _md_table(md, "Runs and their protocol")
    assert len(rows) == 13
    by_run = {r[-1]: dict(zip(header, r)) for r in rows}
    assert by_run["rec-val-m2"]["Prompt hash"] == "p2" and by_run["rec-val-padt"]["Min px"] == "3136"
    assert by_run["rec-val-padt-release"]["Protocol"] == "padt-release"
    header, rows, notes = _md_table(md, "Paired comparisons")
    first = dict(zip(header, rows[0]))
    assert first["Metric"] == "acc@0.5" and first["A value"] == "90.00" and first["B value"] == "100.00"
    assert first["B − A"] == "+10.00" and first["Test"] == "McNemar exact"
    assert first["p"] == "1"  # one discordant pair: p = min(1, 2·½)
    assert "scoring protocol differ" in " ".join(notes)


def test_csv_matches_markdown(board_dir):
    root, out = board_dir
    md = (out / "leaderboard.md").read_text()
    _, _, notes = _md_table(md, "REC: Acc@0.5 (%)")
    header, rows = expected_rec(notes, _pm(root))
    note_text = {m: t for t, m in notes.items()}
    lines = [r for r in csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())) if r["table"] == "rec"]
    got = {(r["row"], r["column"]): r for r in lines}
    for i, exp in enumerate(rows, start=1):
        for col, text in zip(header, exp):
            if col in ("Model", "Params", "Source", "Protocol") or not text:
                continue
            cell = got.pop((str(i), col))
            plain, _, marks = text.partition(" [")
            assert cell["text"] == plain
            assert cell["notes"] == " | ".join(note_text[m] for m in marks.rstrip("]").split(",") if m)
            if col not in ("GT", "Prompt", "Pixels (min–max)", "Scores"):
                assert float(cell["value"]) == pytest.approx(float(plain.lstrip("±")))
    assert not got  # no cell the table does not have


def test_latex_rows(board_dir):
    root, out = board_dir
    tex = (out / "leaderboard.tex").read_text()
    md = (out / "leaderboard.md").read_text()
    _, _, notes = _md_table(md, "REC: Acc@0.5 (%)")
    header, rows = expected_rec(notes, _pm(root))
    keep = [i for i, h in enumerate(header) if h not in ("GT", "Prompt", "Pixels (min–max)", "Scores")]
    block = tex.split("\\label{tab:padt-eval-rec}", 1)[1].split("\\end{table}", 1)[0]

    def tex_cell(t: str) -> str:
        plain, _, marks = t.partition(" [")
        plain = plain.replace("±", "$\\pm$").replace("_", "\\_")
        return plain + (f"$^{{{marks.rstrip(']')}}}$" if marks else "")

    assert " & ".join(header[i].replace("±", "$\\pm$") for i in keep) + " \\\\" in block
    for exp in rows:
        assert " & ".join(tex_cell(exp[i]) for i in keep) + " \\\\" in block
    assert block.count("\\midrule") == 2  # after the header, between measured and reported rows
    assert tex.isascii()  # compiles with plain pdflatex (booktabs, graphicx), no unicode packages


def test_html_rows(board_dir):
    root, out = board_dir
    page = (out / "leaderboard.html").read_text()
    md = (out / "leaderboard.md").read_text()
    _, _, notes = _md_table(md, "REC: Acc@0.5 (%)")
    header, rows = expected_rec(notes, _pm(root))
    table = page.split('data-table="rec"', 1)[1].split("</table>", 1)[0]
    trs = re.findall(r"<tr class=\"(\w+)\">(.*?)</tr>", table)
    assert [k for k, _ in trs] == ["measured"] * 4 + ["reported"] * 3
    for (_, tr), exp in zip(trs, rows):
        cells = [html.unescape(re.sub(r"<sup>(.*?)</sup>", r" [\1]", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        assert cells == exp
    assert "<script" not in page and "http" not in page.split("<body>", 1)[1]  # self-contained


def test_rebuilding_gives_identical_files(board_dir, tmp_path):
    root, out = board_dir
    api.leaderboard(root, tmp_path)
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.tex", "leaderboard.html"):
        assert (tmp_path / name).read_text() == (out / name).read_text()


def test_stale_comparisons_are_ignored(board_dir, tmp_path):
    root, _ = board_dir
    import shutil

    copy = tmp_path / "results"
    shutil.copytree(root, copy)
    m = copy / "runs" / "rec-val-padt" / "metrics.json"
    m.write_text(m.read_text().replace('"run_id"', '"note": "changed", "run_id"'))
    board = build_leaderboard(copy, copy / "reported" / "reported_numbers.csv")
    assert any("1 comparison file(s) ignored" in p for p in board.intro)
    assert [t.key for t in board.tables] == ["rec", "res", "runs"]  # no comparisons table, no ± column
    assert all(c.label != "±" for c in board.tables[0].columns)
    write_leaderboard(board, tmp_path / "o")


def test_no_results_folder_still_writes_reported_tables(tmp_path):
    (tmp_path / "reported").mkdir()
    (tmp_path / "reported" / "reported_numbers.csv").write_text(REPORTED)
    board = build_leaderboard(tmp_path, tmp_path / "reported" / "reported_numbers.csv")
    assert [t.key for t in board.tables] == ["rec"]
    assert all(r.kind == "reported" for r in board.tables[0].rows)
