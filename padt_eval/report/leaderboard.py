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

from padt_eval.data.registry import REFERRING_SPLITS
from padt_eval.report.compare import load_comparisons
from padt_eval.report.reported import FLAG_TEXT, ReportedCell, load_reported
from padt_eval.report.runs import GT_VARIANTS, Run, find_runs
from padt_eval.report.tables import Cell, Column, Row, Table, html_page, html_table, to_csv, to_latex, to_markdown

STANDARD_SPLITS = list(REFERRING_SPLITS)
SPLIT_LABELS = {
    "refcoco_val": "RC val",
    "refcoco_testA": "RC testA",
    "refcoco_testB": "RC testB",
    "refcoco+_val": "RC+ val",
    "refcoco+_testA": "RC+ testA",
    "refcoco+_testB": "RC+ testB",
    "refcocog_val": "RCg val",
    "refcocog_test": "RCg test",
}
PROTOCOL_ORDER = {"standard": 0, "padt-release": 1}


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    scale: float = 100.0  # metrics.json fraction → display unit
    decimals: int = 1
    aliases: tuple[str, ...] = ()


@dataclass
class TaskTable:
    task: str
    title: str
    caption: str
    metrics: list[MetricSpec]
    per_split: bool  # one column group per split (REC/RES) or one split per row (OVD/RIC)
    mean: bool = False


TASK_TABLES = [
    TaskTable(
        "rec",
        "REC: Acc@0.5 (%)",
        "Acc@0.5 = share of expressions whose box has IoU >= 0.5 with the ground truth. Mean = macro average over the "
        "8 standard splits (each split weighs the same, whatever its size), shown only for rows with all 8; reported rows "
        "show the paper's printed Overall.",
        [MetricSpec("acc@0.5", "Acc@0.5")],
        per_split=True,
        mean=True,
    ),
    TaskTable(
        "res",
        "RES: cIoU and mIoU (%)",
        "cIoU = Σ intersection / Σ union over the split; mIoU = mean per-sample IoU. Under --protocol padt-release the "
        "'cIoU' column holds what the PaDT release prints under that name (a mean of per-sample IoUs). Mean = macro "
        "average over the 8 splits, rows with all 8 only.",
        [MetricSpec("ciou", "cIoU"), MetricSpec("miou", "mIoU")],
        per_split=True,
        mean=True,
    ),
    TaskTable(
        "ovd",
        "OVD: COCO box AP / AR (%)",
        "The 12 COCOeval bbox statistics (AP over IoU .50:.95 unless named; ARn = AR with at most n detections). AR@50 "
        "and AR@75 (AR at IoU .50 / .75) are PaDT Table 3's extra columns, which COCOeval's summary does not print; its "
        "AR@[50:95] is shown as AR100. A model without scores gets 1.0 per detection: see Scores.",
        [
            MetricSpec("ap", "AP"),
            MetricSpec("ap50", "AP50"),
            MetricSpec("ap75", "AP75"),
            MetricSpec("ap_small", "APs", aliases=("aps",)),
            MetricSpec("ap_medium", "APm", aliases=("apm",)),
            MetricSpec("ap_large", "APl", aliases=("apl",)),
            MetricSpec("ar1", "AR1", aliases=("ar_1",)),
            MetricSpec("ar10", "AR10", aliases=("ar_10",)),
            MetricSpec("ar100", "AR100", aliases=("ar", "ar_100")),
            MetricSpec("ar_small", "ARs", aliases=("ars",)),
            MetricSpec("ar_medium", "ARm", aliases=("arm",)),
            MetricSpec("ar_large", "ARl", aliases=("arl",)),
            MetricSpec("ar50", "AR@50", aliases=("ar_50",)),
            MetricSpec("ar75", "AR@75", aliases=("ar_75",)),
        ],
        per_split=False,
    ),
    TaskTable(
        "ric",
        "RIC: captions and grounding",
        "Caption scores as fractions (CIDEr-D, METEOR, ROUGE-L, BLEU-4, pycocoevalcap); GP/GR = greedy grounding "
        "precision/recall (%). The paper defines neither GP nor GR and released no scorer: measured GP/GR use padt-eval's "
        "rule (one-to-one greedy matching at box IoU >= 0.5), so they compare with each other, not with the paper's.",
        [
            MetricSpec("cider_d", "CIDEr-D", 1.0, 3, aliases=("cider",)),
            MetricSpec("meteor", "METEOR", 1.0, 3),
            MetricSpec("rouge_l", "ROUGE-L", 1.0, 3),
            MetricSpec("bleu4", "BLEU-4", 1.0, 3, aliases=("bleu_4",)),
            MetricSpec("gp", "GP"),
            MetricSpec("gr", "GR"),
        ],
        per_split=False,
    ),
]

#: Metrics shown as they are (caption scores); every other metric is a fraction shown in %.
RAW_SCALE_METRICS = {"cider_d", "cider", "meteor", "rouge_l", "spice"}


def display_scale(metric: str) -> float:
    return 1.0 if metric in RAW_SCALE_METRICS or metric.startswith("bleu") else 100.0


PROTOCOL_NOTE = {
    ("rec", "padt-release"): "padt-release: the PaDT release's eval_refcoco.py rules (best IoU over every object per "
    "image+expression key, rounded boxes); not comparable with standard rows",
    ("res", "padt-release"): "padt-release: the PaDT release's eval_refcoco.py rules (best mask IoU over every object per "
    "image+expression key; 'cIoU' is a mean of per-sample IoUs); not comparable with standard rows",
    ("ovd", "padt-release"): "padt-release: the PaDT release's eval_coco.py rules (PaDT's filtered ground truth; a label "
    "counts only when it is exactly a lower-cased class name); not comparable with standard rows",
}


@dataclass
class Board:
    tables: list[Table]
    intro: list[str] = field(default_factory=list)


def _metric_value(run: Run, spec: MetricSpec) -> float | None:
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
        if r.task != tt.task:
            continue
        key = (r.model_name, r.protocol, r.gt_variant) + (() if tt.per_split else (r.split,))
        prev = groups[key].get(r.split)
        if prev is not None:
            newer, older = sorted([prev, r], key=lambda x: (str(x.manifest.get("finished", "")), x.run_id))[::-1]
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


def _task_table(tt: TaskTable, runs: list[Run], reported: list[ReportedCell], half: dict) -> tuple[Table, list[str]]:
    groups, notes = _group_runs(runs, tt)
    rep = [c for c in reported if c.task == tt.task]
    if tt.per_split:
        extra = sorted({s for g in groups for s in g["runs"]} - set(STANDARD_SPLITS))
        splits = STANDARD_SPLITS + extra
    else:
        splits = ["*"]
    # columns
    cols = [Column("model", "Model"), Column("params", "Params"), Column("source", "Source")]
    if not tt.per_split:
        cols.append(Column("split", "Split"))
    cols.append(Column("protocol", "Protocol"))
    has_pm = {
        f"{s if tt.per_split else '*'}|{m.key}" for g in groups for s, r in g["runs"].items() for m in tt.metrics if (r.run_id, m.key) in half
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
    cols += [
        Column("gt", "GT", latex=False),
        Column("prompt", "Prompt", latex=False),
        Column("pixels", "Pixels (min–max)", latex=False),
        Column("scores", "Scores", latex=False),
    ]
    table = Table(tt.task, tt.title, tt.caption, cols, [])

    # measured rows
    measured_rows: list[tuple[Row, dict[str, Any]]] = []
    for g in groups:
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
        measured_rows.append((Row(cells, "measured"), g))

    # reported rows, in file order
    rep_groups: dict[tuple, list[ReportedCell]] = {}
    for c in rep:
        rep_groups.setdefault(c.row_key, []).append(c)
    reported_rows: list[tuple[Row, str]] = []
    for key, cs in rep_groups.items():
        cells = {
            "model": Cell(cs[0].model),
            "params": Cell(cs[0].params),
            "source": Cell(f"{cs[0].source}, {cs[0].table}"),
            "protocol": Cell("as reported"),
        }
        protocols = sorted({c.protocol for c in cs if c.protocol})
        for p in protocols:
            table.note(cells["protocol"], p)
        if not tt.per_split:
            cells["split"] = Cell(cs[0].split)
        # flags and notes every cell shares belong to the row (on the model name)
        shared_flags = set.intersection(*(set(c.flags) for c in cs)) - {"read"}
        shared_note = cs[0].note if all(c.note == cs[0].note for c in cs) else ""
        for f in sorted(shared_flags):
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
            sk = c.split if tt.per_split else "*"
            cell = Cell(c.text_used, c.value_used)
            for f in sorted(set(c.flags) - shared_flags - {"read"}):
                table.note(cell, FLAG_TEXT[f])
            if c.value_corrected is not None:
                table.note(cell, f"corrected from the printed {c.value_text}" + (f": {c.note}" if c.note else ""))
            elif c.note and not shared_note:
                table.note(cell, c.note)
            cells[f"{sk}|{m.key}"] = cell
        if tt.mean:
            for m in tt.metrics:
                vals = [cells.get(f"{s}|{m.key}") for s in STANDARD_SPLITS]
                full = all(v is not None and v.value is not None for v in vals)
                computed = sum(v.value for v in vals) / len(vals) if full else None  # type: ignore[union-attr, misc]
                if m.key in overall:
                    o = overall[m.key]
                    cell = Cell(o.text_used, o.value_used)
                    for f in sorted(set(o.flags) - shared_flags - {"read"}):
                        table.note(cell, FLAG_TEXT[f])
                    if o.note and not shared_note and "misprint" in o.flags:
                        table.note(cell, o.note)
                    if computed is not None and abs(computed - o.value_used) > 0.05 + 1e-9 and "misprint" not in o.flags:
                        table.note(cell, f"the row's 8 cells average {computed:.2f}, not the printed {o.value_text}")
                    cells[f"mean|{m.key}"] = cell
                elif computed is not None:
                    cell = Cell(_fmt(computed, 2), computed)
                    table.note(cell, "mean computed here from the 8 cells (the source prints none)")
                    cells[f"mean|{m.key}"] = cell
        reported_rows.append((Row(cells, "reported"), cs[0].hf_id))

    # measured rows sit right above the reported rows of the same checkpoint
    def matches(g: dict[str, Any], hf_id: str, row: Row) -> bool:
        ids = {str(r.model_desc.get(k, "")) for r in g["runs"].values() for k in ("model", "model_id")}
        if hf_id and hf_id in ids:
            return True
        name = f"{row.get('model').text} {row.get('params').text}".strip().lower()
        return bool(name) and g["model"].lower() == name

    placed: set[int] = set()
    anchored: dict[int, list[Row]] = defaultdict(list)
    for i, (mrow, g) in enumerate(measured_rows):
        for j, (rrow, hf_id) in enumerate(reported_rows):
            if matches(g, hf_id, rrow):
                anchored[j].append(mrow)
                placed.add(i)
                break
    table.rows = [mrow for i, (mrow, _) in enumerate(measured_rows) if i not in placed]
    for j, (rrow, _) in enumerate(reported_rows):
        table.rows += anchored.get(j, [])
        table.rows.append(rrow)
    _flag_incomparable(table, measured_rows, tt, splits)
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


def _runs_table(runs: list[Run]) -> Table:
    cols = [
        Column("task", "Task"),
        Column("split", "Split"),
        Column("model", "Model"),
        Column("protocol", "Protocol"),
        Column("gt", "GT"),
        Column("split_hash", "Split hash"),
        Column("prompt", "Prompt hash"),
        Column("min_px", "Min px", numeric=True),
        Column("max_px", "Max px", numeric=True),
        Column("scores", "Scores"),
        Column("n", "Samples", numeric=True),
        Column("missed", "Missing / unparseable / errors", numeric=True),
        Column("run", "Run"),
    ]
    t = Table(
        "runs",
        "Runs and their protocol",
        "One line per measured run. Split hash = sha256 over the split files' contents (12 hex digits); prompt hash = "
        "sha256 of the prompt template ('—' for predictions files); pixels from the model description; Scores = "
        "whether every predicted object carried a confidence.",
        cols,
        [],
    )
    for r in sorted(runs, key=lambda r: (r.task, r.split, r.model_name.lower(), PROTOCOL_ORDER.get(r.protocol, 9), r.run_id)):
        c = r.counts
        t.rows.append(
            Row(
                {
                    "task": Cell(r.task),
                    "split": Cell(r.split),
                    "model": Cell(r.model_name),
                    "protocol": Cell(r.protocol),
                    "gt": Cell(r.gt_variant),
                    "split_hash": Cell(r.split_hash),
                    "prompt": Cell(r.prompt_hash),
                    "min_px": Cell(r.pixels("min_pixels")),
                    "max_px": Cell(r.pixels("max_pixels")),
                    "scores": Cell(r.scores_provided),
                    "n": Cell(str(c.get("n_samples", "?")), c.get("n_samples")),
                    "missed": Cell(f"{c.get('n_missing', 0)} / {c.get('n_parse_failed', 0)} / {c.get('n_error', 0)}"),
                    "run": Cell(r.run_id),
                }
            )
        )
    return t


def _comparisons_table(comparisons: list[dict[str, Any]], runs: list[Run]) -> Table:
    current = {(r.run_id, r.metrics_sha256) for r in runs}
    cols = [
        Column("task", "Task"),
        Column("split", "Split"),
        Column("metric", "Metric"),
        Column("a", "A"),
        Column("b", "B"),
        Column("va", "A value", numeric=True),
        Column("vb", "B value", numeric=True),
        Column("diff", "B − A", numeric=True),
        Column("ci", "95% CI of B − A"),
        Column("p", "p", numeric=True),
        Column("test", "Test"),
        Column("n", "Shared samples", numeric=True),
    ]
    t = Table(
        "comparisons",
        "Paired comparisons",
        "From `padt-eval compare A B` on the samples both runs scored: paired bootstrap percentile interval; p from "
        "McNemar's exact test for Acc@t, from a paired permutation test otherwise. Values in % (caption scores as is).",
        cols,
        [],
    )
    for doc in comparisons:
        a, b = doc["run_a"], doc["run_b"]
        if (a["run_id"], a["metrics_sha256"]) not in current or (b["run_id"], b["metrics_sha256"]) not in current:
            continue
        for metric, e in doc["metrics"].items():
            s = display_scale(metric)
            d = 3 if s == 1.0 else 2
            row = Row(
                {
                    "task": Cell(a["task"]),
                    "split": Cell(a["split"] if a["split"] == b["split"] else f"{a['split']} / {b['split']}"),
                    "metric": Cell(metric),
                    "a": Cell(f"{a['model']} ({a['protocol']})"),
                    "b": Cell(f"{b['model']} ({b['protocol']})"),
                    "va": Cell(_fmt(e["a"] * s, d), e["a"] * s),
                    "vb": Cell(_fmt(e["b"] * s, d), e["b"] * s),
                    "diff": Cell(f"{e['diff'] * s:+.{d}f}", e["diff"] * s),
                    "ci": Cell(f"[{e['ci95'][0] * s:+.{d}f}, {e['ci95'][1] * s:+.{d}f}]"),
                    "p": Cell(f"{e['p_value']:.2g}", e["p_value"]),
                    "test": Cell(e["test"]),
                    "n": Cell(str(doc["n_shared"]), doc["n_shared"]),
                },
                "measured",
            )
            for w in doc.get("warnings", []):
                t.note(row.cells["b"], w)
            t.rows.append(row)
    return t


def build_leaderboard(results: str | Path, reported_path: str | Path | None) -> Board:
    results = Path(results)
    runs = find_runs(results) if results.is_dir() else []
    reported = load_reported(reported_path) if reported_path is not None else []
    comparisons = load_comparisons(results) if results.is_dir() else []
    half, stale = _half_widths(comparisons, runs)
    tables: list[Table] = []
    intro = [
        f"Built by `padt-eval leaderboard` from {len(runs)} run(s) under `{results.as_posix()}`, "
        f"{len(reported)} reported cell(s) and {len(comparisons) - stale} comparison(s).",
        "Measured rows say `measured`; reported rows name their source. Letters in brackets point to the notes under "
        "each table. ± = half-width of the run's own 95% paired-bootstrap interval (where `padt-eval compare` ran).",
    ]
    if stale:
        intro.append(f"{stale} comparison file(s) ignored: their runs changed or are gone (re-run `padt-eval compare`).")
    for tt in TASK_TABLES:
        t, notes = _task_table(tt, runs, reported, half)
        if any(r.kind == "measured" for r in t.rows) or any(r.kind == "reported" for r in t.rows):
            for n in notes:
                t.notes.mark(n)
            tables.append(t)
    if runs:
        tables.append(_runs_table(runs))
    ct = _comparisons_table(comparisons, runs)
    if ct.rows:
        tables.append(ct)
    return Board(tables, intro)


def write_leaderboard(board: Board, out_dir: str | Path) -> list[Path]:
    from padt_eval.fileio import atomic_write
    import html as _html

    out_dir = Path(out_dir)
    title = "padt-eval leaderboard"
    md = f"# {title}\n\n" + "\n".join(board.intro) + "\n\n" + "\n".join(to_markdown(t) for t in board.tables)
    tex = "% padt-eval leaderboard: one table environment per task\n\n" + "\n".join(to_latex(t) for t in board.tables)
    intro_html = "".join(f'<p class="lead">{_html.escape(p)}</p>' for p in board.intro)
    page = html_page(title, intro_html, [html_table(t) for t in board.tables])
    written = []
    for name, text in (("leaderboard.md", md), ("leaderboard.csv", to_csv(board.tables)), ("leaderboard.tex", tex), ("leaderboard.html", page)):
        path = out_dir / name
        with atomic_write(path) as f:
            f.write(text)
        written.append(path)
    return written
