"""The commands that read finished runs: `compare`, `leaderboard`, `report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from padt_eval.cli.options import DataRootOpt, ImageRootOpt
from padt_eval.cli.output import console, err_console
from padt_eval.report.console import labelled, print_table


def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN_DIR",
            help="Results folders: A (the reference), then B, C …; each is compared with A (differences are B − A).",
            file_okay=False,
        ),
    ],
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples (and permutation draws).")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the resampling.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Comparison JSON (two runs only; default: <parent of B>/comparisons/<A>__vs__<B>.json)."
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write a diff page: the statistics, then the samples where the runs differ, drawn."),
    ] = None,
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    draw: Annotated[
        int, typer.Option("--draw", min=0, help="--html: how many of the largest differences to draw on their image.")
    ] = 100,
) -> None:
    """Paired comparison of runs on their shared samples: B − A with a 95 % paired-bootstrap
    interval and a p-value (McNemar exact for Acc@t, paired permutation otherwise); with
    --html, a page of the samples where the runs differ, each run's answer in its colour.

    Example: padt-eval compare results/rec-refcoco_val-qwen results/rec-refcoco_val-padt --html diff.html
    """
    from padt_eval import api
    from padt_eval.core.errors import UsageError
    from padt_eval.report.console_tables import comparison_table
    from padt_eval.report.errors_view import error_shares_table

    if len(runs) < 2:
        raise UsageError("compare needs at least two results folders")
    if out is not None and len(runs) > 2:
        raise UsageError("--out names one comparison file: give two runs, or leave it out")
    docs, notes = [], []
    for other in runs[1:]:
        try:
            doc, path = api.compare(runs[0], other, resamples=resamples, seed=seed, out=out)
        except UsageError as exc:
            if html is None:
                raise
            notes.append(f"no paired statistics for {other}: {exc}")  # OVD: still worth a diff page
            console.print(labelled("note", notes[-1]))
            docs.append(None)
            continue
        docs.append(doc)
        print_table(console, comparison_table(doc))
        if doc.get("errors"):
            print_table(console, error_shares_table(doc["errors"]))
            for w in doc["errors"]["warnings"]:
                console.print(labelled("warning", w))
        for w in doc["warnings"]:
            console.print(labelled("warning", w))
        console.print(Text.assemble(f"{doc['resamples']:,} resamples, seed {doc['seed']}; written to ", (str(path), "bold")))
    if html is not None:
        page = api.diff_report(runs, html, comparisons=docs, notes=notes, data_root=data_root, image_root=image_root, draw=draw)
        console.print(Text.assemble("written ", (str(page), "bold")))


def leaderboard(
    results: Annotated[Path, typer.Option("--results", help="Folder to gather runs (any depth) and comparisons from.")] = Path(
        "results"
    ),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where leaderboard.{md,csv,tex,html} go (default: the results folder).")
    ] = None,
    reported: Annotated[
        Path | None, typer.Option("--reported", help="Reported-numbers CSV (default: <results>/reported/reported_numbers.csv).")
    ] = None,
) -> None:
    """Comparison tables of every run under the results folder beside the numbers papers report:
    REC, RES, REC miss shares, OVD, RIC, GREC, GRES, what the answers cost, the runs' protocol fields, and paired comparisons.

    Example: padt-eval leaderboard --results results --out results
    """
    from padt_eval import api
    from padt_eval.report.console import rich_table
    from padt_eval.report.table_specs import TASK_TABLES

    board, written = api.leaderboard(results, out, reported)
    tasks = {tt.task for tt in TASK_TABLES}
    headline = [t for t in board.tables if t.key in tasks and any(r.kind == "measured" for r in t.rows)]
    shown = headline + [t for t in board.tables if t.key == "cost"]  # what the runs cost: measured rows only
    for t in shown:  # the measured rows; the files also hold the reported ones beside them
        print_table(console, rich_table(t))
    n_reported = sum(1 for t in board.tables if t.key in tasks for r in t.rows if r.kind == "reported")
    if not headline:
        console.print(labelled("note", f"no finished runs under {results}"))
    console.print(f"{n_reported} reported row(s) from papers sit beside the measured ones in the files below")
    for line in board.skipped:
        err_console.print(labelled("skipped", line), soft_wrap=True)
    for p in written:
        console.print(Text.assemble("written ", (str(p), "bold")))


def report(
    run_dir: Annotated[Path, typer.Argument(help="A finished results folder.", file_okay=False)],
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file (default: <run>/report.html).")] = None,
    n_worst: Annotated[int, typer.Option("--worst", min=0, help="How many of the worst samples to draw.")] = 12,
) -> None:
    """Write a self-contained HTML report of one run: metrics, IoU histogram, the worst samples
    drawn with ground truth and predictions, and unreadable outputs with their raw text.

    Example: padt-eval report results/rec-refcoco_val-padt
    """
    from padt_eval import api

    path = api.report(run_dir, data_root=data_root, image_root=image_root, out=out, n_worst=n_worst)
    console.print(Text.assemble("written ", (str(path), "bold")))
