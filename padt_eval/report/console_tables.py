"""The tables the commands print on a terminal, built from what the operations return.

The CLI only prints them (`report.console.print_table`); building them here keeps the
command modules to parsing options and choosing what to show.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from padt_eval.report.table_specs import display_scale


def comparison_table(doc: dict[str, Any]) -> Table:
    """`padt-eval compare`'s table: A, B, B − A, the 95 % interval and the p-value, per metric."""
    a, b = doc["run_a"], doc["run_b"]
    t = Table(
        title=f"{a['task'].upper()} {a['split']}: B = {b['model']} ({b['protocol']}) vs A = {a['model']} ({a['protocol']}), "
        f"{doc['n_shared']} shared samples",
        title_justify="left",
    )
    for col in ("metric", "A", "B", "B − A", "95% CI", "p", "test"):
        t.add_column(col, justify="left" if col in ("metric", "test") else "right")
    for metric, e in doc["metrics"].items():
        s = display_scale(metric)
        t.add_row(
            metric,
            f"{e['a'] * s:.2f}",
            f"{e['b'] * s:.2f}",
            f"{e['diff'] * s:+.2f}",
            f"[{e['ci95'][0] * s:+.2f}, {e['ci95'][1] * s:+.2f}]",
            f"{e['p_value']:.3g}",
            e["test"],
        )
    return t


def splits_table(rows: list[dict[str, Any]], root: str) -> Table:
    """`padt-eval splits`: each known split, whether it is found, its size and layout."""
    t = Table(title=f"splits under {root}", title_justify="left")
    for col in ("split", "dataset", "partition", "found", "samples", "layout"):
        t.add_column(col, justify="right" if col == "samples" else "left", no_wrap=True)
    for r in rows:
        t.add_row(
            r["split"],
            r["dataset"],
            r["partition"],
            Text("yes", style="green") if r["found"] else Text("unreadable" if r["error"] else "no", style="red"),
            "—" if r["n_samples"] is None else f"{r['n_samples']:,}",
            r["layout"] or "—",
        )
    return t


def families_table(verbose: bool) -> Table:
    """`padt-eval models`: each family, whether it runs here, its --format and frame."""
    from padt_eval.models.base import families
    from padt_eval.models.coords import FORMATS

    t = Table(title="model families", title_justify="left", show_lines=verbose)
    for col in ("family", "runs here", "--format", "coordinate frame") + (("box syntax", "models") if verbose else ()):
        t.add_column(col, overflow="fold")
    for name, fam in sorted(families().items(), key=lambda kv: (kv[1].loader is None, kv[0])):
        ok, why = fam.runs_here()
        if ok:
            here = Text("yes", style="green")
        elif fam.loader is not None:
            here = Text.assemble(("no", "red"), f": {why}")  # a missing python module
        else:
            here = Text.assemble(
                ("no", "yellow"),
                ": own repo; " + ("score its text with --format" if name in FORMATS else "score a boxes+masks file"),
            )
        row = [name, here, name if name in FORMATS else "—", fam.coordinate_frame]
        if verbose:
            row += [fam.output_format, fam.description]
        t.add_row(*row)
    return t


#: How `padt-eval data status` colours a dataset's state.
STATE_STYLE = {"verified": "green", "present": "yellow", "changed": "red", "incomplete": "red", "missing": "red"}


def data_status_table(rows: list[Any], root: str) -> Table:
    """`padt-eval data status`: each dataset's annotations, state, contents and fetch command."""
    t = Table(title=f"data under {root}", title_justify="left")
    for col in ("dataset", "annotations", "state", "contents", "fetch with"):
        # a command to copy is never broken; the other columns fold where the terminal is narrow
        command = col == "fetch with"
        t.add_column(col, no_wrap=command, overflow="ignore" if command else "fold")
    for r in rows:
        t.add_row(r.dataset, r.annotations, Text(r.state, style=STATE_STYLE.get(r.state, "white")), r.contents, r.command or "—")
    return t


GIB = 1 << 30


def gib(n: int | None) -> str:
    return "-" if n is None else f"{n / GIB:.2f}"


def plan_table(p: Any) -> Table:
    """`padt-eval plan`: GiB at peak per part, at the asked batch and at the largest that fits."""
    m = p.measured
    t = Table(title=f"{p.model} ({p.family}, {p.dtype}) · {p.task} · batch {p.batch} · {p.card['name']}", title_justify="left")
    t.add_column("part")
    t.add_column(f"GiB at peak (b={p.batch})", justify="right")
    if p.at_largest is not None and p.at_largest.batch != m.batch:
        t.add_column(f"GiB at b={p.at_largest.batch}", justify="right")
    for part in list(m.parts) + ["peak"]:
        cells = [gib(m.peak_bytes if part == "peak" else m.parts[part])]
        if len(t.columns) == 3:
            cells.append(gib(p.at_largest.peak_bytes if part == "peak" else p.at_largest.parts[part]))
        t.add_row(part, *cells, style="bold" if part == "peak" else None)
    return t
