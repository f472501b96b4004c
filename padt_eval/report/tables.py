"""A small table model and its renderers: Markdown, CSV (long form), LaTeX and HTML.

Tables are built once (`leaderboard.py`) and rendered four ways, so the formats cannot
disagree. A cell is display text plus, for numbers, the value in display units and
footnote marks; notes are numbered per table in order of first use.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field


@dataclass
class Cell:
    text: str = ""
    value: float | None = None
    marks: list[str] = field(default_factory=list)


@dataclass
class Column:
    key: str
    label: str
    numeric: bool = False
    latex: bool = True  # shown in the LaTeX table (protocol details stay in the notes there)


@dataclass
class Row:
    cells: dict[str, Cell]
    kind: str = "measured"  # measured | reported

    def get(self, key: str) -> Cell:
        return self.cells.get(key) or Cell()


class Notes:
    """Footnotes of one table: the same text always gets the same mark (a, b, … z, aa …)."""

    def __init__(self) -> None:
        self.by_text: dict[str, str] = {}

    def mark(self, text: str) -> str:
        if text not in self.by_text:
            n = len(self.by_text)
            label = ""
            while True:
                label = chr(ord("a") + n % 26) + label
                n = n // 26 - 1
                if n < 0:
                    break
            self.by_text[text] = label
        return self.by_text[text]

    def items(self) -> list[tuple[str, str]]:
        return [(m, t) for t, m in self.by_text.items()]


@dataclass
class Table:
    key: str
    title: str
    caption: str
    columns: list[Column]
    rows: list[Row]
    notes: Notes = field(default_factory=Notes)

    def note(self, cell: Cell, text: str) -> None:
        m = self.notes.mark(text)
        if m not in cell.marks:
            cell.marks.append(m)


# -- Markdown ---------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(c: Cell) -> str:
    marks = f" [{','.join(c.marks)}]" if c.marks else ""
    return _md_escape(c.text) + marks


def to_markdown(t: Table) -> str:
    out = [f"### {t.title}", "", t.caption, ""]
    out.append("| " + " | ".join(_md_escape(c.label) for c in t.columns) + " |")
    out.append("|" + "|".join("---:" if c.numeric else "---" for c in t.columns) + "|")
    for r in t.rows:
        out.append("| " + " | ".join(_md_cell(r.get(c.key)) for c in t.columns) + " |")
    if t.notes.by_text:
        out.append("")
        out += [f"- [{m}] {_md_escape(text)}" for m, text in t.notes.items()]
    return "\n".join(out) + "\n"


# -- CSV (long form: one line a cell) --------------------------------------------------------
CSV_COLUMNS = ("table", "row", "kind", "model", "params", "source", "protocol", "column", "text", "value", "notes")


def csv_rows(t: Table) -> list[dict[str, str]]:
    notes = {m: text for m, text in t.notes.items()}
    out = []
    for i, r in enumerate(t.rows, start=1):
        ident = {k: r.get(k).text for k in ("model", "params", "source", "protocol")}
        for c in t.columns:
            cell = r.get(c.key)
            if c.key in ident or (not cell.text and not cell.marks):
                continue
            out.append(
                {
                    "table": t.key,
                    "row": str(i),
                    "kind": r.kind,
                    **ident,
                    "column": c.label,
                    "text": cell.text,
                    "value": "" if cell.value is None else repr(round(cell.value, 10)),
                    "notes": " | ".join(notes[m] for m in cell.marks),
                }
            )
    return out


def to_csv(tables: list[Table]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for t in tables:
        w.writerows(csv_rows(t))
    return buf.getvalue()


# -- LaTeX ------------------------------------------------------------------------------------
_TEX = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


# Non-ASCII characters the tables use, in forms plain pdflatex accepts without extra packages.
_TEX_UNICODE = {
    "—": "--",
    "–": "--",
    "−": "-",
    "±": r"$\pm$",
    "Σ": r"$\Sigma$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "×": r"$\times$",
    "≈": r"$\approx$",
    "§": r"\S{}",
    "…": r"\ldots{}",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "µ": r"$\mu$",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch) or _TEX_UNICODE.get(ch) or ch for ch in text)


def _tex_cell(c: Cell) -> str:
    marks = f"$^{{{','.join(c.marks)}}}$" if c.marks else ""
    return tex_escape(c.text) + marks


def to_latex(t: Table) -> str:
    cols = [c for c in t.columns if c.latex]
    spec = "".join("r" if c.numeric else "l" for c in cols)
    out = [
        f"% {t.title} (needs \\usepackage{{booktabs,graphicx}})",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{tex_escape(t.title)}. {tex_escape(t.caption)}}}",
        f"\\label{{tab:padt-eval-{t.key}}}",
        "\\resizebox{\\linewidth}{!}{%",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(tex_escape(c.label) for c in cols) + " \\\\",
        "\\midrule",
    ]
    prev_kind = None
    for r in t.rows:
        if prev_kind is not None and r.kind != prev_kind:
            out.append("\\midrule")
        prev_kind = r.kind
        out.append(" & ".join(_tex_cell(r.get(c.key)) for c in cols) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}}"]
    if t.notes.by_text:
        out.append("\\par\\smallskip\\footnotesize")
        out.append(" ".join(f"$^{{{m}}}$\\,{tex_escape(text)}." for m, text in t.notes.items()))
    out.append("\\end{table}")
    return "\n".join(out) + "\n"


# -- HTML -------------------------------------------------------------------------------------
def html_table(t: Table) -> str:
    e = html.escape
    head = "".join(f'<th class="{"num" if c.numeric else "txt"}">{e(c.label)}</th>' for c in t.columns)
    body = []
    for r in t.rows:
        tds = []
        for c in t.columns:
            cell = r.get(c.key)
            sup = f"<sup>{e(','.join(cell.marks))}</sup>" if cell.marks else ""
            tds.append(f'<td class="{"num" if c.numeric else "txt"}">{e(cell.text)}{sup}</td>')
        body.append(f'<tr class="{e(r.kind)}">' + "".join(tds) + "</tr>")
    notes = ""
    if t.notes.by_text:
        notes = '<ul class="notes">' + "".join(f"<li><sup>{e(m)}</sup> {e(text)}</li>" for m, text in t.notes.items()) + "</ul>"
    return (
        f'<section id="{e(t.key)}"><h2>{e(t.title)}</h2><p class="caption">{e(t.caption)}</p>'
        f'<div class="scroll"><table data-table="{e(t.key)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{notes}</section>"
    )


PAGE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}
.caption,.lead{color:#444;max-width:70em}.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;white-space:nowrap}
th{background:#f3f4f6;position:sticky;top:0;text-align:left}th.num,td.num{text-align:right}
tr.measured td{background:#f4fbf5}tr.reported td{color:#333}
sup{color:#a0522d;font-size:10px;margin-left:1px}.notes{font-size:12px;color:#444;max-width:80em}
.warn{color:#8a4b00}.muted{color:#777}code{font-size:12px}
"""


def html_page(title: str, intro_html: str, sections: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{intro_html}{''.join(sections)}</body></html>\n"
    )
