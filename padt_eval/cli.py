"""The `padt-eval` command line. Thin: it parses options and calls `padt_eval.api`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from padt_eval import __version__
from padt_eval.errors import PadtEvalError, UsageError
from padt_eval.types import Task

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
)
console = Console()
err_console = Console(stderr=True)

SplitOpt = Annotated[
    str,
    typer.Option(
        "--split",
        "-s",
        help="Split name (refcoco_val, refcoco_testA, refcoco_testB, refcoco+_val, refcoco+_testA, "
        "refcoco+_testB, refcocog_val, refcocog_test) or a path to a PaDT JSONL split file.",
    ),
]
PredictionsOpt = Annotated[
    Optional[Path],
    typer.Option("--predictions", "-p", help="Predictions JSONL to score (one line a sample; see README).", dir_okay=False),
]
ModelOpt = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Model to run: a local checkpoint folder or a Hugging Face id."),
]
FamilyOpt = Annotated[
    Optional[str], typer.Option("--family", help="Model family when it cannot be detected from config.json (see `padt-eval models`).")
]
DataRootOpt = Annotated[
    Optional[Path], typer.Option("--data-root", help="Where datasets live (default: $PADT_EVAL_DATA, else ./data).", file_okay=False)
]
ImageRootOpt = Annotated[
    Optional[Path], typer.Option("--image-root", help="Image folder (default: <data-root>/coco/train2014 and other usual places).")
]
LayoutOpt = Annotated[
    str, typer.Option("--layout", help="Annotation layout: auto (refer first, then PaDT JSONL), refer, or padt-jsonl.")
]
OutOpt = Annotated[
    Optional[Path], typer.Option("--out", "-o", help="Results folder (default: results/<task>-<split>-<source>-<time>).")
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Fail on the first malformed line, duplicate or unknown id instead of counting it.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Samples per model call.")]
OvdSplitOpt = Annotated[
    str,
    typer.Option(
        "--split", "-s", help="coco_val2017, or a path to a COCO instances file or a PaDT-MLLM/COCO JSONL."
    ),
]
RicSplitOpt = Annotated[
    str, typer.Option("--split", "-s", help="ric_val, or a path to a PaDT-MLLM/ReferringImageCaptioning JSONL.")
]
Val2017Opt = Annotated[
    Optional[Path], typer.Option("--image-root", help="Image folder (default: <data-root>/coco/val2017 and other usual places).")
]
OvdLayoutOpt = Annotated[
    str, typer.Option("--layout", help="Annotation layout: auto (official COCO first), coco, or padt-jsonl (PaDT's filtered GT).")
]
GtOpt = Annotated[
    str,
    typer.Option(
        "--gt",
        help="Ground truth: official (COCO's annotations, default) or padt-filtered (what PaDT's release scores against: "
        "crowded classes and sub-patch objects dropped, boxes rounded).",
    ),
]
GpusOpt = Annotated[Optional[int], typer.Option("--gpus", min=1, help="Run the model on N GPUs of this machine (one replica per GPU).")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", min=1, help="Run the model in N CPU processes (no GPU needed).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="For a single process: auto (GPU when there is one), cpu or cuda.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder instead of resuming it.")]
LoaderOpt = Annotated[int, typer.Option("--loader-workers", min=0, help="DataLoader processes per rank that prepare images ahead of the model.")]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help="Model dtype: float32, bfloat16 or float16 (family default otherwise).")]
AttnOpt = Annotated[Optional[str], typer.Option("--attn", help="Attention kernel: sdpa, eager or flash_attention_2 (where installed).")]
MaxNewOpt = Annotated[Optional[int], typer.Option("--max-new-tokens", min=1, help="Generation budget per sample.")]
FormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--format",
        "-f",
        help="Read each predictions line's raw 'text' with this family's parser (its 'objects' are ignored): "
        "qwen2_5_vl, vlm_r1, qwen3_vl, qwen2_vl, internvl, shikra, minigpt_v2, kosmos2, florence2, ferret, cogvlm "
        "(see `padt-eval models`).",
    ),
]
MinPixelsOpt = Annotated[
    Optional[int],
    typer.Option("--min-pixels", min=1, help="Qwen resize rule, min pixels (predictions files: default 3136; --model: the processor's)."),
]
MaxPixelsOpt = Annotated[
    Optional[int],
    typer.Option("--max-pixels", min=1, help="Qwen resize rule, max pixels (predictions files: default 12845056; --model: the processor's)."),
]
PromptStyleOpt = Annotated[
    Optional[str],
    typer.Option(
        "--prompt-style",
        help="Coordinate-text baselines: 'paper' (PaDT paper A.3 prompts; default for Qwen2.5-VL and InternVL) "
        "or 'native' (the model's own documented grounding prompt; default for the others).",
    ),
]
ModelArgOpt = Annotated[
    Optional[list[str]], typer.Option("--model-arg", "-O", help="Family-specific option KEY=VALUE (VALUE read as JSON when it parses), repeatable.")
]


def _fail(exc: PadtEvalError) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=exc.exit_code)


def _model_options(dtype, attn, max_new_tokens, model_args, prompt_style=None, min_pixels=None, max_pixels=None) -> dict:
    import json

    opts: dict = {}
    for kv in model_args or []:
        if "=" not in kv:
            raise typer.BadParameter(f"expected KEY=VALUE, got {kv!r}", param_hint="--model-arg")
        key, value = kv.split("=", 1)
        try:
            opts[key] = json.loads(value)
        except json.JSONDecodeError:
            opts[key] = value
    named = (("dtype", dtype), ("attn", attn), ("max_new_tokens", max_new_tokens), ("prompt_style", prompt_style))
    for key, value in named + (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if value is not None:
            opts[key] = value
    return opts


def _evaluate(task: Task, split, predictions, model, family, data_root, image_root, layout, out, strict, batch_size, run, gt="official", raw=None) -> None:
    from padt_eval import api
    from padt_eval.report.console import counts_line, metrics_table, problems_lines, progress_bar

    try:
        if (predictions is None) == (model is None):
            raise UsageError("give exactly one of --predictions and --model")
        raw = raw or {}
        if model is not None and raw.get("text_format") is not None:
            raise UsageError("--format reads the raw text of a predictions file; with --model the family's own parser is used")
        if model is None:
            run["options"].pop("min_pixels", None), run["options"].pop("max_pixels", None)
        if model is not None:
            result = _run_model(task, split, model, family, data_root, image_root, layout, out, batch_size, gt=gt, **run)
            if result is None:
                return
        else:
            with progress_bar(console, f"{task.value.upper()} {Path(split).stem}") as (start, advance):
                result = api.evaluate(
                    task,
                    split,
                    predictions=predictions,
                    data_root=data_root,
                    image_root=image_root,
                    layout=layout,
                    gt=gt,
                    out=out,
                    strict=strict,
                    batch_size=batch_size,
                    on_start=start,
                    **raw,
                    on_progress=advance,
                )
    except PadtEvalError as exc:
        _fail(exc)
        return
    console.print(metrics_table(f"{task.value.upper()} on {result.split}", result.metrics))
    console.print(counts_line(result.counts))
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    for line in problems_lines(result.problems):
        console.print(f"[yellow]{line}[/]", highlight=False)
    console.print(f"results written to [bold]{result.out_dir}[/] ({result.seconds:.1f} s)")


def _run_model(task, split, model, family, data_root, image_root, layout, out, batch_size, *, gpus, workers, device, overwrite, loader_workers, options, gt="official"):
    from padt_eval import api
    from padt_eval.runner.progress import RunProgress

    if gpus is not None and workers is not None:
        raise UsageError("give --gpus or --workers, not both")
    nproc, dev = (gpus, "cuda") if gpus is not None else (workers, "cpu") if workers is not None else (1, device)
    if dev == "auto":
        import torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
    result = api.run_model(
        task,
        split,
        model,
        family=family,
        options=options,
        out=out,
        nproc=nproc,
        device=dev,
        batch_size=batch_size,
        loader_workers=loader_workers,
        overwrite=overwrite,
        data_root=data_root,
        image_root=image_root,
        layout=layout,
        gt=gt,
        progress=lambda run_dir, attempt, title: RunProgress(run_dir, attempt, console, title),
    )
    if result is None:
        console.print("this rank is done; the last rank to finish merges and scores the run")
        return None
    info = json.loads((result.out_dir / "manifest.json").read_text())["runner"]
    rate = f"{info['samples_per_s']:.2f} samples/s" if info["samples_per_s"] else "nothing left to run"
    console.print(
        f"run: {info['samples_this_attempt']} samples in {info['seconds']:.1f} s ({rate}) on {info['world_size']} "
        f"{'GPU' if info['device'] == 'cuda' else 'CPU'} rank(s); {info['failed_this_attempt']} failed"
        + ("; resumed an earlier run" if info["resumed"] else "")
    )
    return result


@app.command()
def rec(
    split: SplitOpt,
    predictions: PredictionsOpt = None,
    model: ModelOpt = None,
    family: FamilyOpt = None,
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    layout: LayoutOpt = "auto",
    out: OutOpt = None,
    strict: StrictOpt = False,
    batch_size: BatchOpt = 8,
    gpus: GpusOpt = None,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
    loader_workers: LoaderOpt = 2,
    dtype: DtypeOpt = None,
    attn: AttnOpt = None,
    max_new_tokens: MaxNewOpt = None,
    model_arg: ModelArgOpt = None,
    text_format: FormatOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    prompt_style: PromptStyleOpt = None,
) -> None:
    """Referring expression comprehension: Acc@0.5/0.75/0.9 and mean IoU, one box per expression.

    Examples: padt-eval rec --split refcoco_testA --predictions preds.jsonl;
    padt-eval rec -s refcoco_val -p qwen_raw.jsonl --format qwen2_5_vl --max-pixels 1003520;
    padt-eval rec -s refcoco_val --model Qwen/Qwen2.5-VL-3B-Instruct --prompt-style paper
    """
    run = dict(gpus=gpus, workers=workers, device=device, overwrite=overwrite, loader_workers=loader_workers,
               options=_model_options(dtype, attn, max_new_tokens, model_arg, prompt_style, min_pixels, max_pixels))
    raw = dict(text_format=text_format, min_pixels=min_pixels, max_pixels=max_pixels)
    _evaluate(Task.REC, split, predictions, model, family, data_root, image_root, layout, out, strict, batch_size, run, raw=raw)


@app.command()
def res(
    split: SplitOpt,
    predictions: PredictionsOpt = None,
    model: ModelOpt = None,
    family: FamilyOpt = None,
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    layout: LayoutOpt = "auto",
    out: OutOpt = None,
    strict: StrictOpt = False,
    batch_size: BatchOpt = 8,
    gpus: GpusOpt = None,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
    loader_workers: LoaderOpt = 2,
    dtype: DtypeOpt = None,
    attn: AttnOpt = None,
    max_new_tokens: MaxNewOpt = None,
    model_arg: ModelArgOpt = None,
    text_format: FormatOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    prompt_style: PromptStyleOpt = None,
) -> None:
    """Referring expression segmentation: mIoU (mean per-sample IoU) and cIoU (ΣI/ΣU), one mask per expression.

    Example: padt-eval res --split refcocog_val --predictions preds.jsonl
    """
    run = dict(gpus=gpus, workers=workers, device=device, overwrite=overwrite, loader_workers=loader_workers,
               options=_model_options(dtype, attn, max_new_tokens, model_arg, prompt_style, min_pixels, max_pixels))
    raw = dict(text_format=text_format, min_pixels=min_pixels, max_pixels=max_pixels)
    _evaluate(Task.RES, split, predictions, model, family, data_root, image_root, layout, out, strict, batch_size, run, raw=raw)


@app.command("check-batching")
def check_batching(
    split: SplitOpt,
    model: Annotated[str, typer.Option("--model", "-m", help="Model to run: a local checkpoint folder or a Hugging Face id.")],
    task: Annotated[str, typer.Option("--task", help="rec or res (the prompt and the samples used).")] = "rec",
    family: FamilyOpt = None,
    n_samples: Annotated[int, typer.Option("--n-samples", "-n", min=1, help="How many samples (the first of the split).")] = 32,
    batch_size: BatchOpt = 8,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    layout: LayoutOpt = "auto",
    dtype: DtypeOpt = None,
    attn: AttnOpt = None,
    max_new_tokens: MaxNewOpt = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Run a fixed subset at batch 1 and at batch N and count the predictions that differ.

    Example: padt-eval check-batching --split refcoco_val --model PaDT-MLLM/PaDT_REC_3B -n 64 -b 16
    """
    from padt_eval import api

    try:
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        report = api.check_batching(
            Task(task), split, model, family=family, options=_model_options(dtype, attn, max_new_tokens, model_arg),
            n_samples=n_samples, batch_size=batch_size, device=device, data_root=data_root, image_root=image_root, layout=layout,
        )
    except (PadtEvalError, ValueError) as exc:
        _fail(exc if isinstance(exc, PadtEvalError) else UsageError(str(exc)))
        return
    n = report.n_samples
    colour = "green" if not report.differing_ids else "yellow"
    console.print(
        f"[{colour}]{len(report.differing_ids)} of {n} predictions differ between batch 1 and batch {report.batch_size}[/] "
        f"(text: {report.n_text_differs}, objects: {report.n_objects_differ}; boxes compared to 0.01 px, scores to 1e-4)"
    )
    for ex in report.examples:
        console.print(f"  sample {ex['sample_id']}:", highlight=False)
        for key in (k for k in ex if k.startswith("batch_")):
            console.print(f"    {key}: {json.dumps(ex[key])[:300]}", highlight=False)


@app.command()
def ovd(
    split: OvdSplitOpt = "coco_val2017",
    predictions: PredictionsOpt = None,
    model: ModelOpt = None,
    family: FamilyOpt = None,
    data_root: DataRootOpt = None,
    image_root: Val2017Opt = None,
    layout: OvdLayoutOpt = "auto",
    gt: GtOpt = "official",
    out: OutOpt = None,
    strict: StrictOpt = False,
    batch_size: BatchOpt = 8,
    gpus: GpusOpt = None,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
    loader_workers: LoaderOpt = 2,
    dtype: DtypeOpt = None,
    attn: AttnOpt = None,
    max_new_tokens: MaxNewOpt = None,
    model_arg: ModelArgOpt = None,
    text_format: FormatOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    prompt_style: PromptStyleOpt = None,
) -> None:
    """Open-vocabulary detection on COCO val2017: the 12 COCO box statistics (and mask ones when predictions carry masks).

    Example: padt-eval ovd --predictions preds.jsonl --data-root /data
    Example (raw InternVL3 text): padt-eval ovd -p internvl_raw.jsonl --format internvl
    Example (PaDT's own GT, to reproduce its figure): padt-eval ovd -p preds.jsonl --gt padt-filtered
    """
    run = dict(gpus=gpus, workers=workers, device=device, overwrite=overwrite, loader_workers=loader_workers,
               options=_model_options(dtype, attn, max_new_tokens, model_arg, prompt_style, min_pixels, max_pixels))
    raw = dict(text_format=text_format, min_pixels=min_pixels, max_pixels=max_pixels)
    _evaluate(Task.OVD, split, predictions, model, family, data_root, image_root, layout, out, strict, batch_size, run, gt, raw=raw)


@app.command()
def ric(
    split: RicSplitOpt = "ric_val",
    predictions: PredictionsOpt = None,
    model: ModelOpt = None,
    family: FamilyOpt = None,
    data_root: DataRootOpt = None,
    image_root: Val2017Opt = None,
    out: OutOpt = None,
    strict: StrictOpt = False,
    batch_size: BatchOpt = 8,
    gpus: GpusOpt = None,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
    loader_workers: LoaderOpt = 2,
    dtype: DtypeOpt = None,
    attn: AttnOpt = None,
    max_new_tokens: MaxNewOpt = None,
    model_arg: ModelArgOpt = None,
    text_format: FormatOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    prompt_style: PromptStyleOpt = None,
) -> None:
    """Referring image captioning: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (SPICE when installed) on the caption, GP/GR on its objects.

    Needs Java (apt-get install -y default-jre-headless). Each predictions line carries the raw
    caption as "text" and the grounded objects as "objects".

    Example: padt-eval ric --predictions preds.jsonl --data-root /data
    Example (raw Qwen2.5-VL text): padt-eval ric -p qwen_raw.jsonl --format qwen2_5_vl
    """
    run = dict(gpus=gpus, workers=workers, device=device, overwrite=overwrite, loader_workers=loader_workers,
               options=_model_options(dtype, attn, max_new_tokens, model_arg, prompt_style, min_pixels, max_pixels))
    raw = dict(text_format=text_format, min_pixels=min_pixels, max_pixels=max_pixels)
    _evaluate(Task.RIC, split, predictions, model, family, data_root, image_root, "auto", out, strict, batch_size, run, raw=raw)


@app.command()
def splits(data_root: DataRootOpt = None) -> None:
    """List the known splits and whether each is found under the data root.

    Example: padt-eval splits --data-root /data
    """
    from rich.table import Table

    from padt_eval.data.registry import default_data_root, split_status

    rows = split_status(data_root)
    t = Table(title=f"splits under {default_data_root(data_root).resolve()}", title_justify="left")
    for col in ("split", "dataset", "partition", "found", "samples", "layout"):
        t.add_column(col, justify="right" if col == "samples" else "left", no_wrap=True)
    for r in rows:
        t.add_row(
            r["split"],
            r["dataset"],
            r["partition"],
            "[green]yes[/]" if r["found"] else ("[red]unreadable[/]" if r["error"] else "[red]no[/]"),
            "—" if r["n_samples"] is None else f"{r['n_samples']:,}",
            r["layout"] or "—",
        )
    console.print(t)
    images = rows[0]["images"] if rows else None
    console.print(f"images: {images}" if images else "[red]images: no COCO train2014 folder found[/] (looked under coco/train2014, train2014, images/train2014 ...)")
    for r in rows:
        if r["error"]:
            err_console.print(f"[red]{r['split']}:[/] {r['error']}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the generated data and results.")] = Path("demo_out"),
    n_images: Annotated[int, typer.Option("--n-images", min=2, help="Synthetic images to generate.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data and the perturbations.")] = 0,
    models: Annotated[bool, typer.Option("--models/--no-models", help="Also run the demo models (colour-finder on 2 CPU ranks, a tiny random PaDT, a tiny random Qwen2.5-VL).")] = True,
) -> None:
    """Run the embedded demo end to end: synthetic RefCOCO, COCO and RIC-layout data, perturbed
    ground truth as predictions, REC, RES, OVD and RIC scoring, each number checked against a
    value computed independently (numpy, pycocotools COCOeval, direct pycocoevalcap calls);
    then two models run through the sharded runner on the same data.

    Example: padt-eval demo --out demo_out
    """
    from functools import partial

    from padt_eval.demo import all_match, run_demo, run_models
    from padt_eval.report.console import counts_line, metrics_table, progress_bar
    from padt_eval.runner.progress import RunProgress

    try:
        runs, expected = run_demo(out, n_images=n_images, seed=seed, progress=partial(progress_bar, console))
    except PadtEvalError as exc:
        _fail(exc)
        return
    console.print(
        "outcomes written into the demo predictions: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in expected.outcomes.items())
    )
    for r in runs:
        console.print(metrics_table(f"{r.task.value.upper()} on {r.result.split} (perturbed ground truth)", r.result.metrics, r.expected))
        console.print(counts_line(r.result.counts))
        for note in r.result.notes:
            console.print(f"[yellow]note:[/] {note}", highlight=False)
        console.print(f"results written to [bold]{r.result.out_dir}[/]")
    if not all_match(runs):
        err_console.print("[bold red]demo: measured metrics differ from the expected ones[/]")
        raise typer.Exit(code=1)
    console.print("[green]demo: every metric equals its independently computed expectation[/]")
    if not models:
        return
    try:
        model_runs = run_models(out, progress_view=lambda d, a, t: RunProgress(d, a, console, t), seed=seed)
    except PadtEvalError as exc:
        _fail(exc)
        return
    for mr in model_runs:
        console.print(metrics_table(f"{mr.result.task.value.upper()} on {mr.result.split}: {mr.label}", mr.result.metrics))
        console.print(counts_line(mr.result.counts))
        console.print(f"results written to [bold]{mr.result.out_dir}[/]")


from padt_eval.cli_data import data_app  # noqa: E402

app.add_typer(data_app, name="data")


@app.command()
def models(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show each family's box syntax and description.")] = False,
) -> None:
    """List the model families: their --format name, coordinate frame, and whether each runs here.

    Example: padt-eval models -v
    """
    from rich.table import Table

    from padt_eval.models.base import families
    from padt_eval.models.coords import FORMATS

    t = Table(title="model families", title_justify="left", show_lines=verbose)
    for col in ("family", "runs here", "--format", "coordinate frame") + (("box syntax", "models") if verbose else ()):
        t.add_column(col, overflow="fold")
    for name, fam in sorted(families().items(), key=lambda kv: (kv[1].loader is None, kv[0])):
        ok, why = fam.runs_here()
        if ok:
            here = "[green]yes[/]"
        elif fam.loader is not None:
            here = f"[red]no[/]: {why}"  # a missing python module
        else:
            here = "[yellow]no[/]: own repo; " + ("score its text with --format" if name in FORMATS else "score a boxes+masks file")
        row = [name, here, name if name in FORMATS else "—", fam.coordinate_frame]
        if verbose:
            row += [fam.output_format, fam.description]
        t.add_row(*row)
    console.print(t)
    console.print(
        "Score raw model text: padt-eval rec -s SPLIT -p raw.jsonl --format NAME (each line's 'text' is parsed in "
        "the family's own frame). Run a model: padt-eval rec -s SPLIT --model ID_OR_FOLDER [--family NAME]."
    )


@app.command()
def version() -> None:
    """Print the padt-eval version."""
    console.print(__version__)


def main() -> None:
    try:
        app()
    except PadtEvalError as exc:  # raised outside a command's own handler
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
