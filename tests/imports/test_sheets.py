"""The xlsx reader reads what the tsv reader reads, as spreadsheet rows."""

from __future__ import annotations

from padt_eval.demo import toolkit_files as tf
from padt_eval.imports.sheets import read_sheet


def test_xlsx_and_tsv_hold_the_same_rows(tmp_path):
    rows = [
        {"index": "RefCOCO_val_0", "prediction": 'a "quoted"\ttab & <tag>\nline', "iou": 0.25, "hit": 0},
        {"index": "RefCOCO_val_1", "prediction": "", "iou": 1.0, "hit": 1},
    ]
    tf.write_xlsx(rows, tmp_path / "a.xlsx")
    tf.write_tsv(rows, tmp_path / "a.tsv")
    xlsx, tsv = read_sheet(tmp_path / "a.xlsx"), read_sheet(tmp_path / "a.tsv")
    assert [n for n, _ in xlsx] == [n for n, _ in tsv] == [2, 3]

    def as_read(v):
        try:
            return float(v)
        except ValueError:
            return v

    assert [{k: as_read(v) for k, v in r.items()} for _, r in xlsx] == [{k: as_read(v) for k, v in r.items()} for _, r in tsv]
    assert xlsx[0][1]["iou"] == 0.25 and xlsx[0][1]["prediction"] == rows[0]["prediction"]
