"""Terminal output: the consoles, metric tables and progress bars (rich).

Every console is made by `make_console`: markup is off, so a sample id, a path or a
message with brackets prints as it is (styles are given as `Text` or `style=`, never as
markup inside a string), and output that is not a terminal gets no width limit, so a path
or a command to copy is never broken across lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

METRIC_LABELS = {
    "acc@0.5": "Acc@0.5",
    "acc@0.75": "Acc@0.75",
    "acc@0.9": "Acc@0.9",
    "mean_iou": "mean IoU",
    "miou": "mIoU (gIoU)",
    "ciou": "cIoU (ΣI/ΣU)",
    # OVD (COCO statistics)
    "ap": "AP @[.50:.95]",
    "ap50": "AP50",
    "ap75": "AP75",
    "ap_small": "AP small",
    "ap_medium": "AP medium",
    "ap_large": "AP large",
    "ar1": "AR@1",
    "ar10": "AR@10",
    "ar100": "AR@100",
    "ar_small": "AR small",
    "ar_medium": "AR medium",
    "ar_large": "AR large",
    # RIC
    "bleu1": "BLEU-1",
    "bleu2": "BLEU-2",
    "bleu3": "BLEU-3",
    "bleu4": "BLEU-4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider_d": "CIDEr-D",
    "spice": "SPICE",
    "gp": "GP (greedy precision, ours)",
    "gr": "GR (greedy recall, ours)",
    "gp_mask": "GP mask (ours)",
    "gr_mask": "GR mask (ours)",
    # GREC / GRES (gRefCOCO)
    "pr_f1": "Pr@(F1=1, IoU≥0.5)",
    "n_acc": "N-acc",
    "t_acc": "T-acc",
    "giou": "gIoU",
    "pr@0.7": "Pr@0.7",
    "pr@0.8": "Pr@0.8",
    "pr@0.9": "Pr@0.9",
    "miou_target": "mIoU, target samples (ours)",
    "n_acc_initial_commit": "N-acc, ReLA initial commit",
    "t_acc_initial_commit": "T-acc, ReLA initial commit",
}
# segm statistics reuse the box labels with a "mask " prefix
METRIC_LABELS.update({f"segm_{k}": f"mask {v}" for k, v in list(METRIC_LABELS.items()) if k.startswith(("ap", "ar"))})


# Width of output that is not a terminal: wide enough that no table folds and no line wraps.
_UNBOUNDED_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    """A console that never reads text as markup; unbounded width when not a terminal."""
    if Console(stderr=stderr).is_terminal:
        return Console(stderr=stderr, markup=False, highlight=False)
    return Console(stderr=stderr, markup=False, highlight=False, width=_UNBOUNDED_WIDTH, soft_wrap=True)


def labelled(label: str, text: object, style: str = "yellow") -> Text:
    """`label: text` with the label styled and the text verbatim (e.g. `error: ...`)."""
    return Text.assemble((f"{label}:", style), " ", str(text))


def print_table(console: Console, table: Table) -> None:
    """Print a table with its title as a line of its own: rich wraps a title at the width
    of the table, which breaks a long title (a path) across lines."""
    title, table.title = table.title, None
    if title:
        console.print(Text(str(title), style="italic"))
    console.print(table)


def rich_table(t, kinds: tuple[str, ...] = ("measured",)) -> Table:
    """The rows of a leaderboard table (`report.tables.Table`) of the given kinds, for the
    terminal (the written files hold every row); the notes they point to go under it."""
    rows = [r for r in t.rows if r.kind in kinds]
    used = {m for r in rows for cell in r.cells.values() for m in cell.marks}
    notes = [f"[{m}] {text}" for m, text in t.notes.items() if m in used]
    out = Table(title=t.title, title_justify="left", caption="\n".join(notes) or None, caption_justify="left")
    # split columns no shown row has a number in (the standard splits, in a demo) are left out
    columns = [c for c in t.columns if not c.numeric or any(r.get(c.key).text for r in rows)]
    for c in columns:
        out.add_column(c.label, justify="right" if c.numeric else "left")
    for r in rows:
        cells = [r.get(c.key) for c in columns]
        out.add_row(*(cell.text + (f" [{','.join(cell.marks)}]" if cell.marks else "") for cell in cells))
    return out


def fmt_pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f}"


def metrics_table(title: str, metrics: dict[str, float | None], expected: dict[str, float | None] | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("metric")
    t.add_column("value (%)", justify="right")
    if expected is not None:
        t.add_column("expected (%)", justify="right")
        t.add_column("", justify="center")
    for key, value in metrics.items():
        row = [METRIC_LABELS.get(key, key), fmt_pct(value)]
        if expected is not None:
            exp = expected.get(key)
            if key not in expected:  # nothing to check against (e.g. SPICE when unavailable)
                row += ["", "·"]
            else:
                ok = exp == value if exp is None or value is None else abs(exp - value) <= 1e-9
                row += [fmt_pct(exp), Text("✓", style="green") if ok else Text("✗", style="red")]
        t.add_row(*row)
    return t


def counts_line(counts: dict[str, int]) -> str:
    """One line of outcomes: answered with an object, then the misses by kind, e.g.
    `242 samples: 200 with an object; misses: 40 with no object, 2 missing`."""
    n = counts.get("n_samples", 0)
    with_object = counts.get("n_predicted", 0) - counts.get("n_no_object", 0)
    line = f"{n} samples: {with_object} with an object"
    if "n_dets" in counts:
        line += f" ({counts['n_dets']} detections, {counts.get('n_dets_unmapped', 0)} with an unknown label)"
    misses = [
        f"{counts[key]} {label}"
        for key, label in (
            ("n_no_object", "with no object"),
            ("n_missing", "missing"),
            ("n_parse_failed", "unparseable"),
            ("n_error", "errored"),
        )
        if counts.get(key)
    ]
    return line + ("; misses: " + ", ".join(misses) if misses else "")


def problems_lines(problems: dict[str, Any]) -> list[str]:
    counts = problems.get("problems") or {}
    if not counts:
        return []
    lines = ["predictions file problems: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())]
    lines += [f"  {p}" for p in problems.get("first_problems", [])[:10]]
    return lines


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """Yield (start(total), advance(n)) callbacks driving one rich progress bar with rate and ETA."""
    progress = Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}", style="cyan", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    state: dict[str, Any] = {}

    def start(total: int) -> None:
        state["task"] = progress.add_task(description, total=total, rate="")

    def advance(n: int) -> None:
        task_id = state["task"]
        progress.advance(task_id, n)
        speed = progress.tasks[task_id].speed
        progress.update(task_id, rate=f"{speed:,.1f} samples/s" if speed else "")

    with progress:
        yield start, advance


def warning_lines(warnings: list[str], alarms: list[dict[str, Any]]) -> list[Text]:
    """A run's warnings, each alarm's (metrics.json `alarms`) labelled `alarm [name]` in
    bold red so it is not read as one more caveat; the other warnings as `warning`."""
    names = {a.get("message"): a.get("name") for a in alarms}
    return [labelled(f"alarm [{names[w]}]", w, "bold red") if w in names else labelled("warning", w) for w in warnings]
