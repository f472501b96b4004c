"""The `padt-eval` Typer app: every command registered here, in `--help` order.

The commands live in modules by kind (tasks, runs, data, models, demo); they parse options,
call `padt_eval.api` and print. This module only assembles them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from padt_eval import __version__
from padt_eval.cli import help as cli_help
from padt_eval.cli.data import data_app, splits
from padt_eval.cli.demo import demo
from padt_eval.cli.drift import check_batching
from padt_eval.cli.imports import import_cmd
from padt_eval.cli.models import models, plan_cmd
from padt_eval.cli.output import console, err_console
from padt_eval.cli.runs import compare, leaderboard, report
from padt_eval.cli.tasks import TASK_COMMANDS
from padt_eval.core.failures import guard_commands
from padt_eval.core.family_modules import add_family_module
from padt_eval.report.console import labelled

# The demo's model (`--model colour-finder`) is a family of its own layer: listed here, it is
# registered when a command first asks for the families, in this process and in its ranks.
add_family_module("padt_eval.demo.colour_finder")

app = typer.Typer(
    name="padt-eval",
    help=(
        "Fair, fast, reproducible evaluation of PaDT and coordinate-text MLLMs.\n\n"
        "Score a predictions file or run a model on RefCOCO/RefCOCO+/RefCOCOg (REC, RES), "
        "COCO val2017 (OVD) and PaDT's RIC val (RIC). "
        "Every run writes results/<run>/ with metrics.json, per_sample.jsonl and manifest.json."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help text is printed as written: no rich markup (it would eat `[vllm]` and any
    # bracketed text), no `<bool>` beside flags, words wrapped whole.
    rich_markup_mode=None,
    context_settings=cli_help.context_settings(),
)

for _command in TASK_COMMANDS:
    app.command(_command.__name__)(_command)
app.command("check-batching")(check_batching)
app.command("import")(import_cmd)
app.command()(splits)
app.command()(demo)
app.add_typer(data_app, name="data")
app.command("plan")(plan_cmd)
app.command()(models)
app.command()(compare)
app.command()(leaderboard)
app.command()(report)


@app.command()
def version() -> None:
    """Print the padt-eval version."""
    console.print(__version__)


def _print_version(value: bool) -> None:
    if value:
        console.print(__version__)
        raise typer.Exit()


@app.callback()
def _top(
    show_version: Annotated[
        bool, typer.Option("--version", help="Print the padt-eval version and exit.", is_eager=True, callback=_print_version)
    ] = False,
) -> None:
    """Fair, fast, reproducible evaluation of PaDT and coordinate-text MLLMs."""


cli_help.one_line_summaries(app)
cli_help.keep_words_whole()
guard_commands(
    app,
    lambda label, text: err_console.print(labelled(label, text, "bold red" if label == "error" else "yellow"), soft_wrap=True),
)


def main() -> None:
    app()
