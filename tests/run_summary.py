"""Reports that tests fill while they run and pytest prints once at the end.

A test module registers a section (a title and a function that returns its lines);
`pytest_terminal_summary` in tests/conftest.py prints every section that has lines, after
all tests ran, whatever order they ran in. With `-s` or `-v` a section prints in full;
otherwise only its first line (the section's own summary), so a plain run stays short.
"""

from __future__ import annotations

from collections.abc import Callable

SECTIONS: dict[str, Callable[[], list[str]]] = {}


def register(title: str, lines: Callable[[], list[str]]) -> None:
    """`lines()` is called at the end of the session: a summary line first, then the rest
    ([] when the tests it reports on did not run)."""
    SECTIONS[title] = lines


def write(terminal, full: bool) -> None:
    for title, lines_of in SECTIONS.items():
        lines = lines_of()
        if not lines:
            continue
        terminal.write_sep("-", title)
        for line in lines if full else lines[:1] + ["(run with -s or -v for the whole table)"]:
            terminal.write_line(line)
