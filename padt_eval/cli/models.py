"""The model commands: `padt-eval models` (the families and whether each runs here) and
`padt-eval plan` (a run's GPU memory and decode floor, from config.json, on a CPU). They
parse options, call `padt_eval.models` / `padt_eval.plan.plan` and print."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from padt_eval.cli.output import console
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task
from padt_eval.models.coords.help_text import family_help
from padt_eval.options import batch_size_option
from padt_eval.plan.cards import CARDS
from padt_eval.report.console import labelled, print_table
from padt_eval.report.console_tables import families_table, gib, plan_table


def _or(names) -> str:
    *first, last = names
    return f"{', '.join(first)} or {last}"


def models(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show each family's box syntax and description.")] = False,
) -> None:
    """List the model families: their --format name, coordinate frame, and whether each runs here.

    Example: padt-eval models -v
    """
    print_table(console, families_table(verbose))
    console.print(
        "Score raw model text: padt-eval rec -s SPLIT -p raw.jsonl --format NAME (each line's 'text' is parsed in "
        "the family's own frame). Run a model: padt-eval rec -s SPLIT --model ID_OR_FOLDER [--family NAME]."
    )


def _image_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--image-size must be WIDTHxHEIGHT in pixels (e.g. 640x480), got {text!r}") from None
    if w <= 0 or h <= 0:
        raise UsageError(f"--image-size must be positive, got {text!r}")
    return w, h


def plan_cmd(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Checkpoint folder, its config.json, or a Hugging Face id whose config is in the local cache (read offline; no weights).",
        ),
    ],
    task: Annotated[Task, typer.Option("--task", "-t", help="The task whose prompt and answer length are planned.")] = Task.REC,
    batch_size: Annotated[
        str, typer.Option("--batch-size", "-b", help="Samples per model call, or 'auto': the largest that fits the card.")
    ] = "32",
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Generated tokens the caches are sized for.")
    ] = 1024,
    image_size: Annotated[
        str | None,
        typer.Option("--image-size", help="WIDTHxHEIGHT of the images (default: the split's typical 640x480 COCO image)."),
    ] = None,
    gpu: Annotated[str, typer.Option("--gpu", help=f"Card: {_or(repr(n) if ' ' in n else n for n in CARDS)}.")] = "H100-80GB",
    gpu_memory: Annotated[
        float | None,
        typer.Option(
            "--gpu-memory",
            help="Card memory in GiB instead of a named card's; the bandwidth floor needs a --gpu other than the default.",
        ),
    ] = None,
    family: Annotated[str | None, typer.Option("--family", help=family_help())] = None,
    dtype: Annotated[
        str | None,
        typer.Option(
            "--dtype", help="Weights dtype (default: the family's on CUDA: float32 for PaDT, bfloat16 for the baselines)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Plan a run's GPU memory on fake CUDA: peak by part, decode floor, largest batch.

    Builds the model from config.json (no weights) on fake CUDA and runs one batch through
    the adapter's path: vision, prefill, decode steps, the PaDT decoder and masks.

    Example: padt-eval plan --model tests/fixtures/configs/padt_rec_3b.json -t rec -b 32 --max-new-tokens 128 --dtype bfloat16
    """
    from padt_eval.plan import cards
    from padt_eval.plan.planner import plan

    card = cards.card(None if gpu_memory is not None and gpu == "H100-80GB" else gpu, gpu_memory)
    result = plan(
        model,
        task=task,
        batch=batch_size_option(batch_size),
        max_new_tokens=max_new_tokens,
        card=card,
        family=family,
        dtype=dtype,
        image_wh=_image_size(image_size),
    )
    if as_json:
        console.print(json.dumps(result.to_json(), indent=1), soft_wrap=True)
        return
    print_plan(result)


def print_plan(p) -> None:
    m = p.measured
    s = p.shape
    print_table(console, plan_table(p))
    console.print(
        labelled("peak", f"{gib(m.peak_bytes)} GiB in phase {m.peak_phase!r}; usable on the card {gib(p.usable_bytes)} GiB")
    )
    console.print(labelled("KV cache", f"{gib(m.kv_bytes)} GiB for {m.kv_positions} positions x {p.batch} rows"))
    floor = (
        f"{p.floor_ms_per_step:.2f} ms/step at {p.card['bandwidth_gbs']:.0f} GB/s"
        if p.floor_ms_per_step
        else "no bandwidth for this card"
    )
    console.print(labelled("decode step", f"reads {m.decode_read_bytes / 1e9:.2f} GB: {floor}"))
    console.print(labelled("largest batch", f"{p.largest_batch} ({p.largest_batch_method})"))
    console.print(
        labelled(
            "batch shape",
            f"image {s['image_wh'][0]}x{s['image_wh'][1]} -> {s['resized_wh'][0]}x{s['resized_wh'][1]}, "
            f"prompt {s['prompt_tokens']} tokens ({s['text_tokens']} text, counted by {s['tokens_counted_by']}), "
            f"{s['max_new_tokens']} new tokens",
        )
    )
    for st in m.stages:
        style = {"ran": "green", "shape-only": "yellow"}.get(st["status"], "red")
        console.print(
            labelled(f"stage {st['name']}", st["status"] + (f": {st['error']}" if st["error"] else ""), style), soft_wrap=True
        )
    for e in m.decode_errors:
        console.print(labelled("error", f"inside {e['stage']}: {e['error']}", "bold red"), soft_wrap=True)
    for note in p.notes:
        console.print(labelled("note", note, "dim"))
