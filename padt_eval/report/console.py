"""Terminal output: metric tables and progress bars (rich)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

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
}
# segm statistics reuse the box labels with a "mask " prefix
METRIC_LABELS.update({f"segm_{k}": f"mask {v}" for k, v in list(METRIC_LABELS.items()) if k.startswith(("ap", "ar"))})


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
                row += [fmt_pct(exp), "[green]✓[/]" if ok else "[red]✗[/]"]
        t.add_row(*row)
    return t


def counts_line(counts: dict[str, int]) -> str:
    n = counts.get("n_samples", 0)
    parts = [f"{n} samples", f"{counts.get('n_predicted', 0)} answered"]
    if "n_dets" in counts:
        parts.append(f"{counts['n_dets']} detections ({counts.get('n_dets_unmapped', 0)} with an unknown label)")
    for key, label in (
        ("n_missing", "missing"),
        ("n_parse_failed", "unparseable"),
        ("n_error", "errored"),
        ("n_no_object", "answered with no object"),
    ):
        if counts.get(key):
            parts.append(f"{counts[key]} {label}")
    return ", ".join(parts) + " (every sample not answered with an object counts as a miss)"


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
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
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
