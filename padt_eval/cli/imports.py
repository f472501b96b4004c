"""`padt-eval import`: score another toolkit's prediction file, and say where it disagrees."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from padt_eval.cli.options import (
    DataRootOpt,
    FormatOpt,
    ImageRootOpt,
    LayoutOpt,
    MaxPixelsOpt,
    MinPixelsOpt,
    NameOpt,
    NoReportOpt,
    OutOpt,
    SplitOpt,
)
from padt_eval.cli.output import console, err_console
from padt_eval.report.console import labelled, print_table


def import_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(help="The toolkit's prediction file(s): several for the PaDT release's per-rank files.", dir_okay=False),
    ],
    toolkit: Annotated[str, typer.Option("--from", help="Whose file it is: lmms-eval, vlmevalkit, evalscope or padt-release.")],
    split: SplitOpt,
    text_format: FormatOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    toolkit_split: Annotated[
        str | None,
        typer.Option(
            "--toolkit-split",
            help="The toolkit's name for the split, where its file holds several (VLMEvalKit's split column, e.g. RefCOCO_val; default: --split).",
        ),
    ] = None,
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    layout: LayoutOpt = "auto",
    out: OutOpt = None,
    name: NameOpt = None,
    no_report: NoReportOpt = False,
) -> None:
    """Score another toolkit's REC prediction file: match its rows to the split's samples
    (listing the rows it cannot match), read the raw answers with --format, and compare
    the toolkit's own per-sample verdicts with padt-eval's, naming a reason for each
    difference (results folder: import.json beside metrics.json; docs/importing.md).

    Example: padt-eval import samples.jsonl --from lmms-eval -s refcoco_val --format qwen2_5_vl
    """
    from padt_eval import api
    from padt_eval.cli.tasks import print_result
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, OutputOptions

    result = api.import_predictions(
        toolkit,
        list(files),
        split,
        text_format=text_format,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        toolkit_split=toolkit_split,
        data=DataOptions(data_root, image_root, layout),
        output=OutputOptions(out, name, not no_report),
    )
    m = result.matching
    console.print(
        f"{m['rows']} row(s): {m['rows_matched']} matched to {m['samples_matched']} sample(s), "
        f"{m['unmatched']['count']} unmatched, {m['ambiguous']['count']} ambiguous, {m['conflicting']['count']} conflicting; "
        f"{m['samples_without_row']} sample(s) of the split without a row"
        + (f"; {sum(m['rows_of_other_splits'].values())} row(s) of other splits left out" if m["rows_of_other_splits"] else "")
    )
    for kind in ("unmatched", "ambiguous", "conflicting"):
        for p in m[kind]["rows"][:5]:
            err_console.print(labelled(kind, f"{p['row']}: {p['reason']} ({p['keys']})"), soft_wrap=True)
    print_result(Task.REC, result.run)
    a = result.agreement
    if a is None:
        console.print(labelled("note", "the file holds no per-sample verdict of the toolkit: no agreement section"))
    else:
        table = Table(title=f"Agreement with {a['toolkit']} at IoU 0.5 ({a['n_compared']} samples)")
        for column in ("both correct", "both wrong", f"only {a['toolkit']}", "only padt-eval"):
            table.add_column(column, justify="right")
        table.add_row(*(str(a[k]) for k in ("both_correct", "both_wrong", "only_toolkit", "only_padt_eval")))
        print_table(console, table)
        if a["reasons"]:
            console.print(
                "why they differ: " + ", ".join(f"{k} {v}" for k, v in sorted(a["reasons"].items(), key=lambda kv: -kv[1]))
            )
    console.print(Text.assemble("matching and agreement written to ", (str(result.record), "bold")))
