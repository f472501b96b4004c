"""tests/run_summary.py: sections registered by tests print at the session's end."""

from __future__ import annotations

from tests import run_summary


class Terminal:
    def __init__(self) -> None:
        self.out: list[str] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.out.append(f"{sep * 3} {title}")

    def write_line(self, line: str) -> None:
        self.out.append(line)


def test_sections_print_in_full_or_as_their_summary_line(monkeypatch):
    monkeypatch.setattr(run_summary, "SECTIONS", {})
    rows = []
    run_summary.register("filled", lambda: list(rows))
    run_summary.register("empty", lambda: [])
    rows += ["2 tensors; largest 0.5", "a  0.5", "b  0.1"]  # filled after registering, as tests do
    full, short = Terminal(), Terminal()
    run_summary.write(full, full=True)
    run_summary.write(short, full=False)
    assert full.out == ["--- filled", "2 tensors; largest 0.5", "a  0.5", "b  0.1"]
    assert short.out == ["--- filled", "2 tensors; largest 0.5", "(run with -s or -v for the whole table)"]
