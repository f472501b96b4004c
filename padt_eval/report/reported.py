"""Numbers reported in papers, kept as data beside the measured ones.

`padt_eval/report/data/reported_numbers.csv` (shipped with the package; a results folder
may carry its own as `<results>/reported/reported_numbers.csv`) holds one cell a line (docs/reports.md describes
the format): which model, task, split and metric, the value *as printed* (`value`), a
correction where the printed value is a documented misprint (`value_corrected`), where
it was read (`source`, `table`), how sure we are (`flags`), how the number was obtained
(`protocol`) and, where known, the checkpoint it belongs to (`hf_id`).

Flags (a `;`-separated list):

* `read` — re-read in the named source; `recalled` — from memory of the paper, not
  re-read (verify before citing); `secondary` — read in a secondary source (an
  aggregator, a README quoting the paper); `inferred` — our own deduction.
* `misprint` — the printed value contradicts the source's own arithmetic;
  `suspect` — probably a misprint, no correction known; `mislabel` — the row is printed
  under another model's name; `prose-mismatch` — the paper's prose credits this number
  to another model than its table does.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from padt_eval.core.errors import DataError

COLUMNS = (
    "model",
    "params",
    "task",
    "split",
    "metric",
    "value",
    "value_corrected",
    "unit",
    "source",
    "table",
    "flags",
    "protocol",
    "hf_id",
    "note",
)
PROVENANCE_FLAGS = {"read", "recalled", "secondary", "inferred"}
PROBLEM_FLAGS = {"misprint", "suspect", "mislabel", "prose-mismatch"}
FLAG_TEXT = {
    "recalled": "[recalled]: from memory of the source, not re-read; verify before citing",
    "secondary": "read in a secondary source, not the paper itself",
    "inferred": "[inferred]: our own deduction, not printed anywhere",
    "misprint": "misprint: the printed value contradicts the paper's own arithmetic",
    "suspect": "probably a misprint; no correction known",
    "mislabel": "the paper prints this row under another model's name",
    "prose-mismatch": "the paper's prose credits this number to another model than its table",
}
UNITS = {"%", "score"}
REPORTED_RELATIVE = Path("reported") / "reported_numbers.csv"
# Package data (pyproject.toml `package-data`), so an installed padt-eval has the numbers too.
PACKAGED_REPORTED = Path(__file__).resolve().parent / "data" / "reported_numbers.csv"


@dataclass(frozen=True)
class ReportedCell:
    model: str
    params: str
    task: str
    split: str
    metric: str
    value: float  # as printed
    value_text: str  # the printed digits, kept as they were (87.49, 90.0 ...)
    value_corrected: float | None
    unit: str
    source: str
    table: str
    flags: tuple[str, ...]
    protocol: str
    hf_id: str
    note: str
    line: int

    @property
    def value_used(self) -> float:
        """The value a table shows: the correction when there is one, else the printed value."""
        return self.value_corrected if self.value_corrected is not None else self.value

    @property
    def text_used(self) -> str:
        return repr(self.value_corrected) if self.value_corrected is not None else self.value_text

    @property
    def row_key(self) -> tuple[str, str, str, str, str]:
        return (self.task, self.model, self.params, self.source, self.table)


def default_reported_path(results_root: str | Path) -> Path:
    """The results folder's own `reported/reported_numbers.csv` when it has one, else the
    file shipped with padt-eval."""
    own = Path(results_root) / REPORTED_RELATIVE
    return own if own.is_file() else PACKAGED_REPORTED


def _number(text: str, where: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: {column} must be a number, got {text!r}") from None


def load_reported(path: str | Path) -> list[ReportedCell]:
    """Read and check the reported-numbers file; a missing file gives no cells."""
    path = Path(path)
    if not path.is_file():
        return []
    out: list[ReportedCell] = []
    seen: dict[tuple, int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            flags = tuple(f.strip() for f in (row["flags"] or "").split(";") if f.strip())
            unknown = [f for f in flags if f not in PROVENANCE_FLAGS | PROBLEM_FLAGS]
            if unknown:
                raise DataError(f"{where}: unknown flag(s) {unknown}; known: {sorted(PROVENANCE_FLAGS | PROBLEM_FLAGS)}")
            if not any(f in PROVENANCE_FLAGS for f in flags):
                raise DataError(f"{where}: flags must say how the value is known ({', '.join(sorted(PROVENANCE_FLAGS))})")
            if row["unit"] not in UNITS:
                raise DataError(f"{where}: unit must be one of {sorted(UNITS)}, got {row['unit']!r}")
            corrected = row["value_corrected"].strip()
            if corrected and "misprint" not in flags:
                raise DataError(f"{where}: value_corrected is only for cells flagged misprint")
            cell = ReportedCell(
                model=row["model"].strip(),
                params=row["params"].strip(),
                task=row["task"].strip(),
                split=row["split"].strip(),
                metric=row["metric"].strip(),
                value=_number(row["value"].strip(), where, "value"),
                value_text=row["value"].strip(),
                value_corrected=_number(corrected, where, "value_corrected") if corrected else None,
                unit=row["unit"],
                source=row["source"].strip(),
                table=row["table"].strip(),
                flags=flags,
                protocol=row["protocol"].strip(),
                hf_id=row["hf_id"].strip(),
                note=row["note"].strip(),
                line=line,
            )
            key = (*cell.row_key, cell.split, cell.metric)
            if key in seen:
                raise DataError(
                    f"{where}: duplicate of line {seen[key]} ({cell.model} {cell.params}, {cell.split}, {cell.metric})"
                )
            seen[key] = line
            out.append(cell)
    return out
