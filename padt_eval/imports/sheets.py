"""Reading a prediction sheet (xlsx, tsv, csv, json) as rows of column → value.

VLMEvalKit writes its predictions with pandas: `.xlsx` by default (xlsxwriter), `.tsv`
or `.csv` quoting every cell, or `.json` records (`vlmeval/smp/file.py::dump`). An xlsx
file is a zip of XML parts; its first sheet is read here with the standard library (shared
and inline strings, numbers, booleans), so importing needs no spreadsheet package. Rows are
numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from padt_eval.core.errors import DataError

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_R_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")

Row = tuple[int, dict[str, Any]]


def read_sheet(path: Path) -> list[Row]:
    """(row number, {column: value}) for every data row; DataError names the file and row."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"prediction sheet not found: {path}")
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix in (".tsv", ".csv"):
        return _read_delimited(path, "\t" if suffix == ".tsv" else ",")
    if suffix == ".json":
        return _read_json_records(path)
    raise DataError(f"{path}: a prediction sheet must be .xlsx, .tsv, .csv or .json (VLMEvalKit's PRED_FORMAT), got {suffix!r}")


def _read_delimited(path: Path, delimiter: str) -> list[Row]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long model answer is one cell
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file (no header row)")
            rows: list[Row] = []
            for number, values in enumerate(reader, 2):  # records, not text lines: a cell may hold a newline
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise DataError(f"{path} row {number}: {len(values)} cells, the header has {len(header)}")
                rows.append((number, dict(zip(header, values))))
            return rows
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} ({exc})") from None


def _read_json_records(path: Path) -> list[Row]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(doc, list):
        raise DataError(f"{path}: expected a JSON list of records (pandas 'records'), got {type(doc).__name__}")
    rows: list[Row] = []
    for k, rec in enumerate(doc):
        if not isinstance(rec, dict):
            raise DataError(f"{path} record {k}: expected an object, got {type(rec).__name__}")
        rows.append((k + 2, rec))  # numbered as the same table's spreadsheet rows
    return rows


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _read_xlsx(path: Path) -> list[Row]:
    try:
        with zipfile.ZipFile(path) as z:
            shared = _shared_strings(z)
            sheet = ElementTree.fromstring(z.read(_first_sheet(z)))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise DataError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    table: dict[int, dict[int, Any]] = {}
    for row in sheet.iterfind(".//m:sheetData/m:row", _NS):
        for cell in row.iterfind("m:c", _NS):
            m = _CELL_REF.fullmatch(cell.get("r", ""))
            if m is None:
                raise DataError(f"{path}: a cell without a reference (row {row.get('r')})")
            table.setdefault(int(m.group(2)), {})[_column_index(m.group(1))] = _cell_value(cell, shared, path)
    if not table:
        raise DataError(f"{path}: the first sheet is empty")
    header_row = min(table)
    header = table[header_row]
    names = {i: str(v) for i, v in header.items() if v not in (None, "")}
    rows: list[Row] = []
    for number in sorted(table):
        if number == header_row:
            continue
        cells = table[number]
        extra = [i for i in cells if i not in names and cells[i] not in (None, "")]
        if extra:
            raise DataError(f"{path} row {number}: a value in column {extra[0] + 1}, which has no header")
        rows.append((number, {names[i]: cells.get(i, "") for i in names}))
    return rows


def _first_sheet(z: zipfile.ZipFile) -> str:
    workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
    first = workbook.find("m:sheets/m:sheet", _NS)
    if first is None:
        raise KeyError("no sheet in xl/workbook.xml")
    rel_id = first.get(_R_NS)
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError(f"sheet relation {rel_id} not in xl/_rels/workbook.xml.rels")


def _shared_strings(z: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in z.namelist():
        return []
    root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iterfind(".//m:t", _NS)) for si in root.iterfind("m:si", _NS)]


def _cell_value(cell: ElementTree.Element, shared: list[str], path: Path) -> Any:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iterfind(".//m:t", _NS))
    v = cell.find("m:v", _NS)
    if v is None or v.text is None:
        return ""
    if kind == "s":
        try:
            return shared[int(v.text)]
        except (ValueError, IndexError):
            raise DataError(f"{path}: cell {cell.get('r')} points at shared string {v.text!r}, which does not exist") from None
    if kind == "b":
        return v.text == "1"
    if kind in ("str", "e"):
        return v.text
    try:
        number = float(v.text)
    except ValueError:
        raise DataError(f"{path}: cell {cell.get('r')} holds {v.text!r}, not a number") from None
    return int(number) if number.is_integer() else number
