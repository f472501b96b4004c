"""`padt-eval demo`: the embedded end-to-end demo on synthetic data, each number checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from padt_eval.cli.output import console, err_console
from padt_eval.report.console import labelled, print_table


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the generated data and results.")] = Path("demo_out"),
    n_images: Annotated[int, typer.Option("--n-images", min=2, help="Synthetic images to generate.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data and the perturbations.")] = 0,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results", help="Where the run folders go (default: <out>/results); `make leaderboard` uses results/demo."
        ),
    ] = None,
    models: Annotated[
        bool,
        typer.Option(
            "--models/--no-models",
            help="Also run the demo models (colour-finder on 2 CPU ranks, a tiny random PaDT, a tiny random Qwen2.5-VL).",
        ),
    ] = True,
) -> None:
    """Run the embedded demo end to end on synthetic data, each number checked independently.

    Synthetic RefCOCO, COCO and RIC-layout data; two
    "models" (the ground truth perturbed with two seeds) scored for REC and RES, model A also
    under --protocol padt-release, and model A's OVD (both protocols) and RIC predictions;
    predictions built to contain known wrong-object and localization misses, whose error
    breakdown must report exactly those counts; paired comparisons and an HTML report per
    run; each checked number against a value computed independently (numpy, pycocotools
    COCOeval, direct pycocoevalcap calls); then
    three models run through the sharded runner on the same data.

    Example: padt-eval demo --out demo_out
    """
    from functools import partial

    from padt_eval.core.library_log import library_output_to
    from padt_eval.demo.run import all_match, run_demo, run_models
    from padt_eval.report.console import counts_line, metrics_table, progress_bar, warning_lines
    from padt_eval.report.errors_view import errors_line
    from padt_eval.report.table_specs import display_scale
    from padt_eval.runner.progress import RunProgress

    with library_output_to(out / "logs" / "libraries.log"):  # the Java caption tools' chatter
        runs, expected, comparisons = run_demo(
            out, n_images=n_images, seed=seed, progress=partial(progress_bar, console), results=results
        )
    console.print(
        "outcomes written into demo-A's predictions: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in expected.outcomes.items())
    )
    for r in runs:
        title = f"{r.task.value.upper()} on {r.result.split}: {r.model}" + (
            f" (protocol {r.protocol})" if r.protocol != "standard" else ""
        )
        print_table(
            console, metrics_table(title + ("" if r.expected else " (shown, not checked)"), r.result.metrics, r.expected or None)
        )
        console.print(counts_line(r.result.counts))
        if r.result.errors is not None:
            checked = (
                ""
                if r.expected_errors is None
                else (" (checked)" if r.result.errors.get("counts") == r.expected_errors else " (DIFFERS from the design)")
            )
            console.print(errors_line(r.result.errors) + checked, highlight=False)
        for note in r.result.notes:
            console.print(labelled("note", note))
        for line in warning_lines(r.result.warnings, r.result.record.alarms):
            console.print(line)
        if r.expected_alarms is None and r.result.record.alarms:
            console.print(labelled("note", f"{r.model} is built to be mostly wrong (30 % hits): its alarm is true"))
        console.print(Text.assemble("results written to ", (str(r.result.out_dir), "bold")))
    for doc, _path in comparisons:
        a, b = doc["run_a"], doc["run_b"]
        parts = []
        for metric, e in doc["metrics"].items():
            s = display_scale(metric)
            parts.append(f"{metric} {e['diff'] * s:+.2f} [{e['ci95'][0] * s:+.2f}, {e['ci95'][1] * s:+.2f}] p={e['p_value']:.2g}")
        console.print(
            f"compare {b['model']} ({b['protocol']}) − {a['model']} ({a['protocol']}), {a['task']}: " + "; ".join(parts)
        )
    if not all_match(runs):
        err_console.print("demo: measured metrics differ from the expected ones", style="bold red")
        raise typer.Exit(code=1)
    console.print("demo: every metric equals its independently computed expectation", style="green")
    if not models:
        _demo_next_steps(out, results, [r.result.out_dir for r in runs], with_models=False)
        return
    model_runs = run_models(out, progress_view=lambda d, a, t: RunProgress(d, a, console, t), seed=seed, results=results)
    for mr in model_runs:
        print_table(console, metrics_table(f"{mr.result.task.value.upper()} on {mr.result.split}: {mr.label}", mr.result.metrics))
        console.print(counts_line(mr.result.counts))
        for line in warning_lines(mr.result.warnings, mr.result.record.alarms):
            console.print(line)
        if "random" in mr.label and mr.result.record.alarms:
            console.print(labelled("note", "this model's weights are random (built by the demo): its alarms are true"))
        console.print(Text.assemble("results written to ", (str(mr.result.out_dir), "bold")))
    _demo_next_steps(out, results, [mr.result.out_dir for mr in model_runs])


def _demo_next_steps(out: Path, results: Path | None, runs: list[Path], with_models: bool = True) -> None:
    """Where the demo left its checkpoints and results, and commands to try next (quoted
    for a shell, so they can be pasted whatever the folder names)."""
    from shlex import quote

    from padt_eval.demo.run import DemoPaths, demo_checkpoints

    paths = DemoPaths(out)
    results_dir = results if results is not None else paths.results
    console.print()
    console.print("demo finished.", style="bold")
    console.print(f"  data:        {paths.data}")
    if with_models:
        console.print(f"  checkpoints: {', '.join(str(p) for p in demo_checkpoints(out))}")
    console.print(f"  results:     {results_dir}")
    console.print("next:")
    console.print(f"  padt-eval leaderboard --results {quote(str(results_dir))}")
    if runs:
        console.print(f"  padt-eval report {quote(str(runs[0]))}")
    split, images = quote(str(paths.rec_split)), quote(str(paths.images))
    if with_models:
        model = quote(str(demo_checkpoints(out)[0]))
        console.print(
            f"  padt-eval res -s {split} --image-root {images} --model {model} --family padt --workers 2 --max-new-tokens 32"
        )
    else:
        console.print(f"  padt-eval rec -s {split} --image-root {images} -p {quote(str(paths.predictions))}")
