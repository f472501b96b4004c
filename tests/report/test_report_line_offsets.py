"""A report written right after columnar scoring finds the drawn samples' lines at the
byte offsets the scoring read them from (`SampleSelection.line_offsets`), instead of
scanning the predictions file. It must be the very page that a report built from the
run folder alone (per_sample.jsonl read back, the file scanned) gives: the same samples,
predictions and messages, a damaged line named by the same line number."""

from __future__ import annotations

import numpy as np
import pytest

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.options import OutputOptions, PredictionsOptions
from padt_eval.report import run_report
from padt_eval.report.run_report import build_run_report
from tests.scoring.test_columnar import _predictions, _split, _write


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
def test_the_report_from_scoring_equals_the_report_from_the_folder(task, tmp_path, monkeypatch):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(3)
    split, targets = _split(tmp_path, rng)
    lines = _predictions(rng, targets)
    lines.insert(7, {"sample_id": "9998", "objects": []})  # not in the split: shifts the line numbers below
    damaged = next(i for i, x in enumerate(lines) if x.get("parse_status") == "failed")
    if task == Task.REC:
        # an answer REC scores by its box, whose mask the report cannot draw (REC never reads it)
        lines[damaged] = {**lines[damaged], "objects": [{"bbox": [1.0, 2.0, 3.0, 4.0], "mask": {"size": [2, 2], "counts": "9"}}]}
    preds = _write(tmp_path / "preds.jsonl", lines)

    seen = []
    real = run_report._predictions

    def spy(run, wanted, offsets=None):
        got = real(run, wanted, offsets)
        seen.append((offsets, got))
        return got

    monkeypatch.setattr(run_report, "_predictions", spy)
    result = api.score(task, str(split), PredictionsOptions(path=str(preds)), output=OutputOptions(out=tmp_path / "run"))
    from_scoring = (result.out_dir / "report.html").read_text()
    from_folder = build_run_report(result.out_dir, reader=None)

    offsets, (preds_drawn, why) = seen[0]
    assert offsets is not None and len(offsets) > 0, "the columnar scoring should hand over the offsets"
    assert seen[1][0] is None  # the folder's report scans the file
    assert seen[1][1] == (preds_drawn, why)
    if task == Task.REC:
        assert f"preds.jsonl:{damaged + 1}:" in why  # the damaged line, by its number
    assert from_scoring == from_folder


def test_a_line_number_counted_in_blocks_is_the_line_number(tmp_path, monkeypatch):
    """`_line_number` counts newlines a block at a time: every line's start, with blocks
    of a few bytes (lines crossing them), against the line's number in the file."""
    data = b"".join(b'{"sample_id": "%d", "pad": "%s"}\n' % (i, b"x" * (i % 7)) for i in range(40))
    path = tmp_path / "preds.jsonl"
    path.write_bytes(data)
    starts = [0] + [i + 1 for i, c in enumerate(data) if c == ord("\n")][:-1]
    for block in (1, 3, 64, 1 << 20):
        monkeypatch.setattr(run_report, "_SCAN_BLOCK", block)
        assert [run_report._line_number(path, at) for at in starts] == list(range(1, 41))
