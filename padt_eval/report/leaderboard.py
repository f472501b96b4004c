"""`padt-eval leaderboard`: every finished run and the reported numbers, as comparison tables.

One table per task (rows are models; measured rows sit beside the reported rows of the
same checkpoint), then a table of runs with their protocol fields, then the paired
comparisons. Cells that are not comparable with the rest of their column (other split
files, another ground-truth variant, another scoring protocol) carry a note saying why.
Nothing time- or machine-dependent is written, so regenerating from the same runs gives
the same files.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from padt_eval.report.compare import load_comparisons
from padt_eval.report.cost_table import cost_table
from padt_eval.report.label_noise import label_noise_table
from padt_eval.report.reported import FLAG_TEXT, ReportedCell, load_reported
from padt_eval.report.run_tables import comparisons_table, runs_table
from padt_eval.report.runs import GT_VARIANTS, Run, find_runs
from padt_eval.report.table_specs import (
    ERRORS_PREFIX,
    PROTOCOL_NOTE,
    PROTOCOL_ORDER,
    SPLIT_LABELS,
    STANDARD_SPLITS,
    TASK_TABLES,
    MetricSpec,
    TaskTable,
)
from padt_eval.report.tables import Cell, Column, Row, Table, html_page, html_table, to_csv, to_latex, to_markdown


@dataclass
class Board:
    tables: list[Table]
    intro: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # run folders and comparison files left out, with why


def _metric_value(run: Run, spec: MetricSpec) -> float | None:
    if spec.key.startswith(ERRORS_PREFIX):
        return run.error_share(spec.key[len(ERRORS_PREFIX) :])
    m = run.metrics
    for k in (spec.key, *spec.aliases):
        if k in m:
            return m[k]
    return None


def _fmt(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}"


def _group_runs(runs: list[Run], tt: TaskTable) -> tuple[list[dict[str, Any]], list[str]]:
    """Measured rows: runs grouped by (model, protocol, ground truth[, split]); the latest
    run wins where a group has two for one split."""
    notes: list[str] = []
    groups: dict[tuple, dict[str, Run]] = defaultdict(dict)
    for r in runs:
        if r.task != tt.task or not tt.shows(r.split) or (tt.errors_only and r.error_share("hit") is None):
            continue
        key = (r.model_name, r.protocol, r.gt_variant) + (() if tt.per_split else (r.split,))
        prev = groups[key].get(r.split)
        if prev is not None:
            newer, older = sorted([prev, r], key=lambda x: (x.finished, x.run_id))[::-1]
            notes.append(f"{older.run_id} superseded by {newer.run_id} (same model, protocol, ground truth and split)")
            r = newer
        groups[key][r.split] = r
    out = [{"model": k[0], "protocol": k[1], "gt": k[2], "runs": v} for k, v in groups.items()]
    out.sort(key=lambda g: (g["model"].lower(), PROTOCOL_ORDER.get(g["protocol"], 9), g["gt"], sorted(g["runs"])))
    return out, notes


def _half_widths(comparisons: list[dict[str, Any]], runs: list[Run]) -> tuple[dict[tuple[str, str], float], int]:
    """(run_id, metric) → half-width of the run's own 95 % bootstrap interval; stale files counted."""
    current = {(r.run_id, r.metrics_sha256) for r in runs}
    out: dict[tuple[str, str], float] = {}
    stale = 0
    for doc in comparisons:
        a, b = doc["run_a"], doc["run_b"]
        if (a["run_id"], a["metrics_sha256"]) not in current or (b["run_id"], b["metrics_sha256"]) not in current:
            stale += 1
            continue
        for metric, e in doc["metrics"].items():
            for side, info in (("a_ci95", a), ("b_ci95", b)):
                lo, hi = e[side]
                out[(info["run_id"], metric)] = (hi - lo) / 2
    return out, stale


def _pixels(r: Run) -> str:
    lo, hi = r.pixels("min_pixels"), r.pixels("max_pixels")
    return "—" if lo == hi == "—" else f"{lo}–{hi}"


def _summary(cell_values: list[str], table: Table, what: str) -> Cell:
    vals = sorted(set(cell_values))
    if len(vals) == 1:
        return Cell(vals[0])
    c = Cell("mixed")
    table.note(c, f"{what} differ between this row's runs: {', '.join(vals)}")
    return c


def _columns(tt: TaskTable, splits: list[str], groups: list[dict[str, Any]], half: dict) -> list[Column]:
    cols = [Column("model", "Model"), Column("params", "Params"), Column("source", "Source")]
    if not tt.per_split:
        cols.append(Column("split", "Split"))
    cols.append(Column("protocol", "Protocol"))
    has_pm = {
        f"{s if tt.per_split else '*'}|{m.key}"
        for g in groups
        for s, r in g["runs"].items()
        for m in tt.metrics
        if (r.run_id, m.key) in half
    }
    for s in splits:
        for m in tt.metrics:
            split_label = SPLIT_LABELS.get(s, s)
            label = m.label if not tt.per_split else (split_label if len(tt.metrics) == 1 else f"{split_label} {m.label}")
            key = f"{s}|{m.key}"
            cols.append(Column(key, label, numeric=True))
            if key in has_pm:
                cols.append(Column(f"{key}|pm", "±", numeric=True))
    if tt.mean:
        for m in tt.metrics:
            cols.append(Column(f"mean|{m.key}", "Mean" if len(tt.metrics) == 1 else f"Mean {m.label}", numeric=True))
    return cols + [
        Column("gt", "GT", latex=False),
        Column("prompt", "Prompt", latex=False),
        Column("pixels", "Pixels (min–max)", latex=False),
        Column("scores", "Scores", latex=False),
    ]


def _measured_row(tt: TaskTable, g: dict[str, Any], table: Table, half: dict) -> Row:
    """One model under one protocol and ground truth; each cell is one run."""
    first = next(iter(g["runs"].values()))
    cells: dict[str, Cell] = {
        "model": Cell(g["model"]),
        "params": Cell(first.params),
        "source": Cell("measured"),
        "protocol": Cell(g["protocol"]),
        "gt": Cell(g["gt"]),
    }
    if (tt.task, g["protocol"]) in PROTOCOL_NOTE:
        table.note(cells["protocol"], PROTOCOL_NOTE[(tt.task, g["protocol"])])
    if g["gt"] in GT_VARIANTS:
        table.note(cells["gt"], f"{g['gt']}: {GT_VARIANTS[g['gt']]}")
    if not tt.per_split:
        cells["split"] = Cell(first.split)
    rs = list(g["runs"].values())
    cells["prompt"] = _summary([r.prompt_hash for r in rs], table, "prompt template hashes")
    cells["pixels"] = _summary([_pixels(r) for r in rs], table, "min/max pixels")
    cells["scores"] = _summary([r.scores_provided for r in rs], table, "score availability")
    for split, r in g["runs"].items():
        sk = split if tt.per_split else "*"
        for m in tt.metrics:
            v = _metric_value(r, m)
            if v is None:
                continue
            cells[f"{sk}|{m.key}"] = Cell(_fmt(v * m.scale, m.decimals), v * m.scale)
            h = half.get((r.run_id, m.key))
            if h is not None:
                cells[f"{sk}|{m.key}|pm"] = Cell(f"±{_fmt(h * m.scale, m.decimals)}", h * m.scale)
    if tt.mean:
        for m in tt.metrics:
            vals = [cells.get(f"{s}|{m.key}") for s in STANDARD_SPLITS]
            if all(c is not None and c.value is not None for c in vals):
                mean = sum(c.value for c in vals) / len(vals)  # type: ignore[union-attr, misc]
                cells[f"mean|{m.key}"] = Cell(_fmt(mean, m.decimals), mean)
    return Row(cells, "measured")


def _reported_mean(
    tt: TaskTable,
    m: MetricSpec,
    cells: dict[str, Cell],
    overall: ReportedCell | None,
    shared: set[str],
    shared_note: str,
    table: Table,
) -> Cell | None:
    """The printed Overall (checked against the cells' mean), else a computed mean."""
    vals = [cells.get(f"{s}|{m.key}") for s in STANDARD_SPLITS]
    full = all(v is not None and v.value is not None for v in vals)
    computed = sum(v.value for v in vals) / len(vals) if full else None  # type: ignore[union-attr, misc]
    if overall is not None:
        cell = Cell(overall.text_used, overall.value_used)
        for f in sorted(set(overall.flags) - shared - {"read"}):
            table.note(cell, FLAG_TEXT[f])
        if overall.note and not shared_note and "misprint" in overall.flags:
            table.note(cell, overall.note)
        if computed is not None and abs(computed - overall.value_used) > 0.05 + 1e-9 and "misprint" not in overall.flags:
            table.note(cell, f"the row's 8 cells average {computed:.2f}, not the printed {overall.value_text}")
        return cell
    if computed is None:
        return None
    cell = Cell(_fmt(computed, 2), computed)
    table.note(cell, "mean computed here from the 8 cells (the source prints none)")
    return cell


def _reported_row(tt: TaskTable, cs: list[ReportedCell], table: Table) -> Row:
    """One row of a source's table: values as printed (corrections marked), flags as notes."""
    cells = {
        "model": Cell(cs[0].model),
        "params": Cell(cs[0].params),
        "source": Cell(f"{cs[0].source}, {cs[0].table}"),
        "protocol": Cell("as reported"),
    }
    for p in sorted({c.protocol for c in cs if c.protocol}):
        table.note(cells["protocol"], p)
    if not tt.per_split:
        cells["split"] = Cell(cs[0].split)
    # flags and notes every cell shares belong to the row (on the model name)
    shared = set.intersection(*(set(c.flags) for c in cs)) - {"read"}
    shared_note = cs[0].note if all(c.note == cs[0].note for c in cs) else ""
    for f in sorted(shared):
        table.note(cells["model"], FLAG_TEXT[f])
    if shared_note:
        table.note(cells["model"], shared_note)
    overall: dict[str, ReportedCell] = {}
    for c in cs:
        m = next((m for m in tt.metrics if c.metric in (m.key, *m.aliases)), None)
        if m is None:
            continue
        if c.split == "overall":
            overall[m.key] = c
            continue
        cell = Cell(c.text_used, c.value_used)
        for f in sorted(set(c.flags) - shared - {"read"}):
            table.note(cell, FLAG_TEXT[f])
        if c.value_corrected is not None:
            table.note(cell, f"corrected from the printed {c.value_text}" + (f": {c.note}" if c.note else ""))
        elif c.note and not shared_note:
            table.note(cell, c.note)
        cells[f"{c.split if tt.per_split else '*'}|{m.key}"] = cell
    if tt.mean:
        for m in tt.metrics:
            mean = _reported_mean(tt, m, cells, overall.get(m.key), shared, shared_note, table)
            if mean is not None:
                cells[f"mean|{m.key}"] = mean
    return Row(cells, "reported")


def _place(measured: list[tuple[Row, dict[str, Any]]], reported: list[tuple[Row, str]]) -> list[Row]:
    """Measured rows of a checkpoint go right above its first reported row (matched by
    `hf_id`, else by "model params" name); the others go first."""

    def matches(g: dict[str, Any], hf_id: str, row: Row) -> bool:
        ids = {str(r.model_desc.get(k, "")) for r in g["runs"].values() for k in ("model", "model_id")}
        if hf_id and hf_id in ids:
            return True
        name = f"{row.get('model').text} {row.get('params').text}".strip().lower()
        return bool(name) and g["model"].lower() == name

    placed: set[int] = set()
    anchored: dict[int, list[Row]] = defaultdict(list)
    for i, (mrow, g) in enumerate(measured):
        for j, (rrow, hf_id) in enumerate(reported):
            if matches(g, hf_id, rrow):
                anchored[j].append(mrow)
                placed.add(i)
                break
    rows = [mrow for i, (mrow, _) in enumerate(measured) if i not in placed]
    for j, (rrow, _) in enumerate(reported):
        rows += anchored.get(j, [])
        rows.append(rrow)
    return rows


def _task_table(tt: TaskTable, runs: list[Run], reported: list[ReportedCell], half: dict) -> tuple[Table, list[str]]:
    groups, notes = _group_runs(runs, tt)
    if tt.per_split:
        base = list(tt.splits) if tt.splits is not None else STANDARD_SPLITS
        splits = base + sorted({s for g in groups for s in g["runs"]} - set(base))
    else:
        splits = ["*"]
    table = Table(tt.name or tt.task, tt.title, tt.caption, _columns(tt, splits, groups, half), [])
    measured = [(_measured_row(tt, g, table, half), g) for g in groups]
    by_row: dict[tuple, list[ReportedCell]] = {}
    for c in reported:
        if c.task == tt.task and not tt.errors_only and tt.shows(c.split):
            # a table of one split per row (OVD, RIC, GREC, GRES) gives each reported split its own row
            key = c.row_key if tt.per_split else (*c.row_key, c.split)
            by_row.setdefault(key, []).append(c)  # file order
    reported_rows = [(_reported_row(tt, cs, table), cs[0].hf_id) for cs in by_row.values()]
    table.rows = _place(measured, reported_rows)
    _flag_incomparable(table, measured, tt, splits)
    return table, notes


def _flag_incomparable(table: Table, measured_rows: list[tuple[Row, dict[str, Any]]], tt: TaskTable, splits: list[str]) -> None:
    """Mark measured cells whose split files or ground truth differ from the column's
    majority among standard-protocol rows."""
    for s in splits:
        entries = []
        for row, g in measured_rows:
            for split, r in g["runs"].items():
                if (tt.per_split and split != s) or (not tt.per_split and s != "*"):
                    continue
                entries.append((row, r, split))
        if len(entries) < 2:
            continue
        pool = [(r.split_hash, r.gt_variant) for _, r, _ in entries if r.protocol == "standard"] or [
            (r.split_hash, r.gt_variant) for _, r, _ in entries
        ]
        ref_hash, ref_gt = Counter(pool).most_common(1)[0][0]
        for row, r, split in entries:
            reasons = []
            if r.split_hash != ref_hash:
                reasons.append(f"{split}: split files differ from the column's majority (hash {r.split_hash} vs {ref_hash})")
            if r.gt_variant != ref_gt:
                reasons.append(f"{split}: ground truth {r.gt_variant} vs {ref_gt}")
            if not reasons:
                continue
            sk = split if tt.per_split else "*"
            for m in tt.metrics:
                c = row.cells.get(f"{sk}|{m.key}")
                if c is not None:
                    for text in reasons:
                        table.note(c, text + "; not comparable")


def build_leaderboard(results: str | Path, reported_path: str | Path | None) -> Board:
    results = Path(results)
    skipped: list[str] = []
    runs = find_runs(results, skipped) if results.is_dir() else []
    reported = load_reported(reported_path) if reported_path is not None else []
    bad_comparisons: list[str] = []
    comparisons = load_comparisons(results, bad_comparisons) if results.is_dir() else []
    half, stale = _half_widths(comparisons, runs)
    tables: list[Table] = []
    intro = [
        f"Built by `padt-eval leaderboard` from {len(runs)} run(s) under `{results.as_posix()}`, "
        f"{len(reported)} reported cell(s) and {len(comparisons) - stale} comparison(s).",
        "Measured rows say `measured`; reported rows name their source. Letters in brackets point to the notes under "
        "each table. ± = half-width of the run's own 95% paired-bootstrap interval (where `padt-eval compare` ran).",
    ]
    if skipped:
        intro.append(f"{len(skipped)} run folder(s) skipped: " + "; ".join(skipped))
    if bad_comparisons:
        intro.append(f"{len(bad_comparisons)} comparison file(s) skipped: " + "; ".join(bad_comparisons))
    if stale:
        intro.append(f"{stale} comparison file(s) ignored: their runs changed or are gone (re-run `padt-eval compare`).")
    for tt in TASK_TABLES:
        t, notes = _task_table(tt, runs, reported, half)
        if any(r.kind == "measured" for r in t.rows) or any(r.kind == "reported" for r in t.rows):
            for n in notes:
                t.notes.mark(n)
            tables.append(t)
    noise = label_noise_table(runs)  # original splits beside their cleaner versions (SplitSpec.cleaner_of)
    if noise.rows:
        tables.append(noise)
    costs = cost_table(runs)
    if costs.rows:
        tables.append(costs)
    if runs:
        tables.append(runs_table(runs))
    ct = comparisons_table(comparisons, runs)
    if ct.rows:
        tables.append(ct)
    return Board(tables, intro, skipped + bad_comparisons)


def write_leaderboard(board: Board, out_dir: str | Path) -> list[Path]:
    import html as _html

    from padt_eval.core.fileio import atomic_write

    out_dir = Path(out_dir)
    title = "padt-eval leaderboard"
    md = f"# {title}\n\n" + "\n".join(board.intro) + "\n\n" + "\n".join(to_markdown(t) for t in board.tables)
    tex = "% padt-eval leaderboard: one table environment per task\n\n" + "\n".join(to_latex(t) for t in board.tables)
    intro_html = "".join(f'<p class="lead">{_html.escape(p)}</p>' for p in board.intro)
    page = html_page(title, intro_html, [html_table(t) for t in board.tables])
    written = []
    for name, text in (
        ("leaderboard.md", md),
        ("leaderboard.csv", to_csv(board.tables)),
        ("leaderboard.tex", tex),
        ("leaderboard.html", page),
    ):
        path = out_dir / name
        with atomic_write(path) as f:
            f.write(text)
        written.append(path)
    return written
