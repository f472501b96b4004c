"""The REC/RES Mean averages the 8 paper splits, whatever else the split table holds.

docs/extending.md adds a RefCOCO-style split with one line in `split_table.SPLITS`; that
split must get its own column without entering the Mean (whose caption says 8). The
leaderboard is built in a fresh interpreter with the split registered before anything of
the report is imported, as an edit of the table in the source would be.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from padt_eval.core.types import Task
from padt_eval.data.split_table import splits_for
from padt_eval.report.table_specs import STANDARD_SPLITS, TASK_TABLES
from tests.report.runs_fixture import rec_records, res_records, write_run

PAPER_SPLITS = [f"refcoco{d}_{s}" for d in ("", "+") for s in ("val", "testA", "testB")] + ["refcocog_val", "refcocog_test"]
EXTRA = "refcoco_train"  # the guide's example: `_referring("refcoco", "unc", "train")`

BOARD = r"""
import json, sys
from padt_eval.data import split_table
if sys.argv[2] == "extra":
    split_table.SPLITS["refcoco_train"] = split_table._referring("refcoco", "unc", "train")
from padt_eval.report.leaderboard import build_leaderboard

out = {}
for t in build_leaderboard(sys.argv[1], None).tables:
    means = {r.get("model").text: {k: c.text for k, c in r.cells.items() if k.startswith("mean|")} for r in t.rows}
    out[t.key] = {"caption": t.caption, "columns": [c.key for c in t.columns], "means": means}
print(json.dumps(out))
"""


def _board(root, extra: bool) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", BOARD, str(root), "extra" if extra else "plain"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """M3: REC and RES on the 8 paper splits and on the extra split; M4: REC on the 8 only."""
    root = tmp_path_factory.mktemp("standard") / "results"
    for k, split in enumerate([*PAPER_SPLITS, EXTRA]):
        write_run(
            root,
            f"rec-{split}-m3",
            task="rec",
            split=split,
            records=rec_records([0.9] * (k + 1) + [0.0] * (9 - k)),
            model={"name": "M3"},
        )
        write_run(
            root, f"res-{split}-m3", task="res", split=split, records=res_records([(k + 1, 10), (1, 10)]), model={"name": "M3"}
        )
        if split != EXTRA:
            write_run(
                root,
                f"rec-{split}-m4",
                task="rec",
                split=split,
                records=rec_records([0.9] * (9 - k) + [0.0] * (k + 1)),
                model={"name": "M4"},
            )
    return root


def test_standard_splits_are_the_8_paper_splits_of_the_table():
    assert STANDARD_SPLITS == PAPER_SPLITS
    assert set(STANDARD_SPLITS) <= set(splits_for(Task.REC)) & set(splits_for(Task.RES))
    assert all("8" in tt.caption for tt in TASK_TABLES if tt.mean)


def test_registering_a_rec_split_leaves_the_mean_alone(results):
    plain, extra = _board(results, False), _board(results, True)
    for key in ("rec", "res"):
        assert extra[key]["means"] == plain[key]["means"]
        assert extra[key]["caption"] == plain[key]["caption"]
        assert f"{EXTRA}|{'acc@0.5' if key == 'rec' else 'ciou'}" in extra[key]["columns"]
    # the Mean is the plain average of the 8 paper splits' cells, computed here from the records
    rec_m3 = sum((k + 1) / 10 for k in range(8)) / 8 * 100
    rec_m4 = sum((9 - k) / 10 for k in range(8)) / 8 * 100
    res_m3 = sum((k + 2) / 20 for k in range(8)) / 8 * 100  # cIoU = (k+1+1) / (10+10)
    assert extra["rec"]["means"]["M3"] == {"mean|acc@0.5": f"{rec_m3:.1f}"}
    assert extra["rec"]["means"]["M4"] == {"mean|acc@0.5": f"{rec_m4:.1f}"}
    assert extra["res"]["means"]["M3"]["mean|ciou"] == f"{res_m3:.1f}"
