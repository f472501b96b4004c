"""TIDE's AP is "AP50" only at the default foreground IoU; elsewhere it is AP@fg (issue 25, item 8)."""

from __future__ import annotations

from padt_eval.metrics.tide import SCHEMA as TIDE_SCHEMA
from padt_eval.report.errors_view import errors_line, errors_section


def _errors(fg: float) -> dict:
    return {
        "schema": TIDE_SCHEMA,
        "ap50": 0.4,
        "dap": {"classification": 0.1},
        "counts": {"classification": 3},
        "thresholds": {"foreground": fg, "background": 0.1},
    }


def test_the_label_follows_the_foreground_threshold():
    assert "TIDE dAP50 (" in errors_line(_errors(0.5)) and "; AP50 40.0)" in errors_line(_errors(0.5))
    line = errors_line(_errors(0.6))
    assert "TIDE dAP@0.6 (" in line and "; AP@0.6 40.0)" in line and "AP50" not in line
    page = errors_section(_errors(0.75), {}, lambda records: "")
    assert "AP@0.75 points each error type costs" in page and "+10.00 AP@0.75 (3)" in page and "AP50" not in page
