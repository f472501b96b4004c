"""Predictions files: validation, duplicates, unknown ids, strict mode — each with its message."""

from __future__ import annotations

import json

import pytest

from padt_eval.core.errors import DataError
from padt_eval.core.types import ImageRef, ParseStatus, Sample, Task
from padt_eval.scoring.predictions_file import PredictionsFile
from padt_eval.scoring.score import _Lines

GOOD = {"sample_id": "1", "objects": [{"bbox": [1, 2, 3, 4], "score": 0.5, "label": "cat"}]}


def _write(tmp_path, lines):
    p = tmp_path / "preds.jsonl"
    p.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return p


def test_problems_are_counted_with_file_and_line(tmp_path):
    p = _write(
        tmp_path,
        [
            GOOD,
            '{"sample_id": "2", "objects": [',  # truncated JSON
            {"sample_id": "3", "objects": [{"bbox": [1, 2, 3]}]},  # 3 numbers
            {"sample_id": "4", "objects": [{"bbox": [1, 2, 3, float("nan")]}]},  # NaN is not JSON
            {"objects": []},  # no id
            {"sample_id": "1", "objects": []},  # duplicate of line 1
            {"sample_id": "5", "objects": [{"bbox": [0, 0, 1, 1], "score": "high"}]},
            {"sample_id": "6", "objects": [{"label": "x"}]},  # neither bbox nor mask
            {"sample_id": "7", "objects": [{"bbox": [0, 0, 1, 1], "mask": {"size": [2, 2]}}]},
        ],
    )
    pf = PredictionsFile(p)
    # lines that are not JSON or have no id are reported when the file is indexed ...
    assert pf.problem_counts == {"malformed": 3, "duplicate": 1}
    # ... the rest of a line when it is served for scoring
    served = {sid: pf.get(sid) for sid in map(str, range(1, 10))}
    assert [sid for sid, pred in served.items() if pred is not None] == ["1"]
    msgs = [str(x) for x in pf.problems]
    assert pf.problem_counts == {"malformed": 7, "duplicate": 1}
    assert any(m.startswith(f"{p}:2: malformed JSON line") for m in msgs)
    assert any(m.startswith(f"{p}:3: objects[0].bbox must be four finite numbers") for m in msgs)
    assert any(m.startswith(f"{p}:4: malformed JSON line") for m in msgs)
    assert any(m.startswith(f"{p}:5: 'sample_id' must be a non-empty string") for m in msgs)
    assert any(m == f"{p}:6: sample_id '1' already appeared on line 1; this line is ignored" for m in msgs)
    assert any(m.startswith(f"{p}:7: objects[0].score must be a finite number") for m in msgs)
    assert any(m.startswith(f"{p}:8: objects[0] has neither a bbox nor a mask") for m in msgs)
    assert any(m.startswith(f"{p}:9: objects[0].mask is not a valid COCO RLE") for m in msgs)
    # the first line of a duplicated id wins
    assert served["1"].objects[0].label == "cat"


def test_unknown_ids_are_reported(tmp_path):
    p = _write(tmp_path, [GOOD, {"sample_id": "ghost", "objects": []}])
    pf = PredictionsFile(p)
    pf.check_ids({"1"})
    assert [str(x) for x in pf.problems] == [f"{p}:2: sample_id 'ghost' is not in the split"]


@pytest.mark.parametrize(
    "bad, expected",
    [
        ('{"sample_id": "2", ', ":2: malformed JSON line"),
        ({"sample_id": "1", "objects": []}, ":2: sample_id '1' already appeared on line 1"),
    ],
)
def test_strict_makes_problems_fatal(tmp_path, bad, expected):
    p = _write(tmp_path, [GOOD, bad])
    with pytest.raises(DataError) as e:
        PredictionsFile(p, strict=True)
    assert f"{p}{expected}" in str(e.value) and "(--strict)" in str(e.value)


def test_strict_unknown_id(tmp_path):
    p = _write(tmp_path, [GOOD, {"sample_id": "ghost", "objects": []}])
    pf = PredictionsFile(p, strict=True)
    with pytest.raises(DataError, match=r"preds.jsonl:2: sample_id 'ghost' is not in the split \(--strict\)"):
        pf.check_ids({"1"})


def test_missing_file():
    with pytest.raises(DataError, match="predictions file not found: /no/such.jsonl"):
        PredictionsFile("/no/such.jsonl")


def test_scoring_pairs_each_sample_with_its_line_and_marks_gaps_missing(tmp_path):
    p = _write(tmp_path, [GOOD, {"sample_id": 9, "objects": [], "parse_status": "failed", "parse_reason": "garbled"}])
    line_of = _Lines(PredictionsFile(p), parser=None)
    img = ImageRef("x.png", 10, 10)
    out = [line_of(Sample(str(i), Task.REC, img)) for i in (1, 2, 9)]
    assert [o.parse_status for o in out] == [ParseStatus.OK, ParseStatus.MISSING, ParseStatus.FAILED]
    assert out[0].objects[0].bbox == [1.0, 2.0, 3.0, 4.0]
    assert out[2].parse_reason == "garbled"
    assert "no line for this sample" in out[1].parse_reason


def test_line_numbers_of_late_problems_are_the_file_lines(tmp_path):
    # Blank lines and a malformed line shift nothing: each problem names its own line.
    rows = ["", json.dumps(GOOD), "", "{bad json", json.dumps({"sample_id": "ghost-a", "objects": []})]
    rows += [json.dumps({"sample_id": str(i), "objects": []}) for i in range(2, 200)]
    rows += ["", json.dumps({"sample_id": "1", "objects": []}), json.dumps({"sample_id": "ghost-b", "objects": []})]
    rows += [json.dumps({"sample_id": "7", "objects": [{"bbox": [1, 2]}]}) + "\n"]
    p = tmp_path / "preds.jsonl"
    p.write_text("\n".join(rows) + "\n")
    expected = {i + 1: row for i, row in enumerate(rows)}  # what an editor shows at each line
    pf = PredictionsFile(p)
    pf.check_ids({str(i) for i in range(1, 200)})
    assert pf.get("7") is not None  # line 12's id 7 is the first; the bad one at the end is a duplicate
    lines = {p_.kind + ":" + p_.where.rsplit(":", 1)[1] for p_ in pf.problems}
    dup_line = next(n for n, r in expected.items() if r == json.dumps({"sample_id": "1", "objects": []}))
    ghost_b = next(n for n, r in expected.items() if "ghost-b" in r)
    bad7 = next(n for n, r in expected.items() if '"bbox": [1, 2]' in r)
    assert lines == {"malformed:4", f"duplicate:{dup_line}", f"duplicate:{bad7}", "unknown_id:5", f"unknown_id:{ghost_b}"}
    assert (dup_line, ghost_b, bad7) == (205, 206, 207)  # counted by hand from `rows`
