"""The data commands: `padt-eval data fetch|status|sources` (a Typer sub-app) and
`padt-eval splits`. They parse options and call `padt_eval.fetch` and `padt_eval.data`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.text import Text

from padt_eval.cli import help as cli_help
from padt_eval.cli.options import DataRootOpt
from padt_eval.cli.output import console, err_console
from padt_eval.report.console import labelled, print_table

data_app = typer.Typer(
    help="Download RefCOCO/+/g, COCO and RIC into the data root (resumable, verified) and show what is there.",
    no_args_is_help=True,
    rich_markup_mode=None,  # help printed as written (see cli/help.py)
    context_settings=cli_help.context_settings(),
)


class RichProgress:
    """The fetch's progress callbacks: one rich bar per download or unpack, with bytes, rate and ETA."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task = None

    def start(self, description: str, total: int | None, completed: int) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}", style="bold", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task(description, total=total, completed=completed)
        else:  # a retry resuming the same download
            self.progress.reset(self.task, total=total, completed=completed, description=description)

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = self.task = None


@data_app.command("fetch")
def fetch_cmd(
    names: Annotated[
        list[str],
        typer.Argument(
            metavar="NAME",
            help="Datasets: refcoco, refcoco+, refcocog, coco-train2014-images, coco-val2017, grefcoco, ref-l4, ref-l4-images, refcoco-m, "
            "reasonseg, ric, or all.",
            show_default=False,
        ),
    ],
    to: Annotated[
        Path | None,
        typer.Option("--to", "--data-root", help="Data root to fill (default: $PADT_EVAL_DATA, else ./data).", file_okay=False),
    ] = None,
    annotations: Annotated[
        str,
        typer.Option(
            "--annotations",
            "-a",
            help="official: the refer archives (RefCOCO/+/g) and COCO's instances_val2017.json; "
            "padt: PaDT's processed JSONL from Hugging Face (PaDT-MLLM/*); both. "
            "Datasets with one kind only (images, ric) ignore it.",
        ),
    ] = "official",
    keep_archives: Annotated[bool, typer.Option("--keep-archives", help="Keep downloaded zip archives after unpacking.")] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            help="Seconds to wait for a server's first byte (and each read) before retrying; raise it for slow links.",
        ),
    ] = 10.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the sources the fetch would download, and where they go; download nothing.")
    ] = False,
    min_rate: Annotated[
        float,
        typer.Option(
            "--min-rate",
            min=0.0,
            help="KB/s: a transfer slower than this over 30 s is stalled and retried from where it stopped (0: no minimum).",
        ),
    ] = 1.0,
) -> None:
    """Download, verify and unpack datasets into the layout the split readers expect.

    Interrupted downloads resume; a second run checks and skips what is already there.

    Example: padt-eval data fetch refcoco coco-train2014-images --to /data
    Example: padt-eval data fetch grefcoco --dry-run
    """
    from padt_eval.fetch import fetch

    if dry_run:
        from padt_eval.fetch.fetcher import fetch_plan

        for dataset, s in fetch_plan(names, annotations):
            size = f"{s.size:,} bytes" if s.size else "size from the Hub" if s.hf_repo else "size unknown"
            sums = "; ".join([f"sha256 {s.sha256}"] * bool(s.sha256) + [f"md5 {s.md5}"] * bool(s.md5)) or "Hub-reported checksum"
            console.print(Text.assemble((f"{dataset}: {s.key}", "bold"), f"  {s.where}  ({size}; {sums})"), soft_wrap=True)
            console.print(f"  installs {', '.join('<data-root>/' + o.dest for o in s.outputs)}", soft_wrap=True)
        from padt_eval.fetch.fetcher import resolve_names
        from padt_eval.fetch.sources import CATALOG

        for dataset in resolve_names(names, CATALOG):  # what a fetch cannot do, or should be known first
            for note in CATALOG.datasets[dataset].notes:
                console.print(labelled(dataset, note, "dim"), soft_wrap=True)
        return

    outcomes = fetch(
        names,
        to,
        annotations,
        keep_archives=keep_archives,
        timeout=timeout,
        min_rate=min_rate * 1024,
        progress=RichProgress(console),
        notify=lambda msg: console.print(msg, soft_wrap=True),
    )
    fetched = sum(1 for o in outcomes if o.action == "fetched")
    console.print(
        labelled("done", f"{fetched} fetched, {len(outcomes) - fetched} already there. See `padt-eval data status`.", "green")
    )


@data_app.command("status")
def status_cmd(
    data_root: Annotated[
        Path | None,
        typer.Option("--data-root", "--to", help="Data root (default: $PADT_EVAL_DATA, else ./data).", file_okay=False),
    ] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Re-hash fetched files and re-count folders (slower).")] = False,
) -> None:
    """Which datasets and splits are present, verified, or missing, and the command that fetches them.

    Example: padt-eval data status --data-root /data
    """
    from padt_eval.data.registry import default_data_root
    from padt_eval.fetch import status
    from padt_eval.report.console_tables import data_status_table

    rows = status(data_root, deep=verify)
    print_table(console, data_status_table(rows, str(default_data_root(data_root).resolve())))
    for r in rows:
        for note in r.notes:
            if not note.startswith("its images come from"):  # the table already says so
                console.print(labelled(f"{r.dataset} ({r.annotations})", note, "dim"), soft_wrap=True)
    console.print("verified = fetched by padt-eval and unchanged; present = found, not verified (not fetched by padt-eval).")


@data_app.command("sources")
def sources_cmd() -> None:
    """List every download source: URL or Hugging Face file, size, known checksums, where it installs."""
    from padt_eval.fetch import sources

    for s in sources.CATALOG.sources.values():
        size = f"{s.size:,} bytes" if s.size else "size from the Hub" if s.hf_repo else "size unknown"
        sums = [f"sha256 {s.sha256}"] if s.sha256 else []
        sums += [f"md5 {s.md5}"] if s.md5 else []
        console.print(Text.assemble((s.key, "bold"), f"  {s.title}"))
        console.print(f"  from     {s.where}", soft_wrap=True)
        console.print(f"  size     {size}")
        console.print(f"  checks   {'; '.join(sums) or 'the Hub-reported checksum at download time'}", soft_wrap=True)
        if s.checksum_note:
            console.print(f"           ({s.checksum_note})", soft_wrap=True)
        console.print(f"  installs {', '.join('<data-root>/' + o.dest for o in s.outputs)}", soft_wrap=True)


def splits(data_root: DataRootOpt = None) -> None:
    """List the known splits and whether each is found under the data root.

    Example: padt-eval splits --data-root /data
    """
    from padt_eval.data.registry import default_data_root, split_status
    from padt_eval.report.console_tables import splits_table

    rows = split_status(data_root)
    print_table(console, splits_table(rows, str(default_data_root(data_root).resolve())))
    for r in {r["images_title"]: r for r in rows}.values():  # each image folder once
        console.print(
            f"images ({r['images_title']}): {r['images']}"
            if r["images"]
            else Text.assemble(
                (f"images: no {r['images_title']} folder found", "red"),
                f" (looked under {', '.join(r['images_looked'][:3])} ...)",
            )
        )
    for r in rows:
        if r["error"]:
            err_console.print(labelled(r["split"], r["error"], "red"))
