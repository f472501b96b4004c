"""The `padt-eval` command line. Thin: it parses options and calls `padt_eval.api`."""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from padt_eval import __version__, cli_help
from padt_eval.core.errors import UsageError
from padt_eval.core.failures import guard_commands
from padt_eval.core.std_streams import reopen_closed_std_streams
from padt_eval.core.types import Task
from padt_eval.report.console import labelled, make_console, print_table

reopen_closed_std_streams()  # `padt-eval ... >&-`: results are still written (before any console exists)
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
console = make_console()
err_console = make_console(stderr=True)

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
    Path | None,
    typer.Option(
        "--predictions", "-p", help="Predictions JSONL to score (one line a sample; see docs/predictions.md).", dir_okay=False
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model to run: a local checkpoint folder or a Hugging Face id."),
]
FamilyOpt = Annotated[
    str | None,
    typer.Option("--family", help="Model family when it cannot be detected from config.json (see `padt-eval models`)."),
]
DataRootOpt = Annotated[
    Path | None, typer.Option("--data-root", help="Where datasets live (default: $PADT_EVAL_DATA, else ./data).", file_okay=False)
]
ImageRootOpt = Annotated[
    Path | None, typer.Option("--image-root", help="Image folder (default: <data-root>/coco/train2014 and other usual places).")
]
LayoutOpt = Annotated[
    str, typer.Option("--layout", help="Annotation layout: auto (refer first, then PaDT JSONL), refer, or padt-jsonl.")
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help=(
            "Results folder (default: a predictions file: results/<task>-<split>-<file stem>-<YYYYmmdd-HHMMSS>; "
            "--model: results/<task>-<split>-<model name>[-<protocol>], no time, so that rerunning resumes)."
        ),
    ),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Fail on the first malformed line, duplicate or unknown id instead of counting it.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Samples per model call.")]
BatchRunOpt = Annotated[
    str,
    typer.Option(
        "--batch-size",
        "-b",
        help="Samples per model call, or 'auto': on a GPU the largest batch `padt-eval plan` says fits each rank's "
        "free memory (minus a margin, docs/planning.md); on the CPU the default 8.",
    ),
]
OvdSplitOpt = Annotated[
    str,
    typer.Option("--split", "-s", help="coco_val2017, or a path to a COCO instances file or a PaDT-MLLM/COCO JSONL."),
]
RicSplitOpt = Annotated[
    str, typer.Option("--split", "-s", help="ric_val, or a path to a PaDT-MLLM/ReferringImageCaptioning JSONL.")
]
Val2017Opt = Annotated[
    Path | None, typer.Option("--image-root", help="Image folder (default: <data-root>/coco/val2017 and other usual places).")
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
GpusOpt = Annotated[
    int | None, typer.Option("--gpus", min=1, help="Run the model on N GPUs of this machine (one replica per GPU).")
]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="Run the model in N CPU processes (no GPU needed).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="For a single process: auto (GPU when there is one), cpu or cuda.")]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace an existing run folder instead of resuming it: only a folder padt-eval created, and only the files "
        "it wrote there (any other folder is refused).",
    ),
]
LoaderOpt = Annotated[
    int | None,
    typer.Option(
        "--loader-workers",
        min=0,
        help="DataLoader processes per rank that prepare images ahead of the model (default: from the CPU count, at most 4).",
    ),
]
RankTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--rank-timeout",
        min=0.01,
        help="Minutes the ranks of a torchrun or SLURM job wait for each other to start (saying whom they wait for "
        "every 30 s) before they give up (exit 124).",
    ),
]
DtypeOpt = Annotated[
    str | None, typer.Option("--dtype", help="Model dtype: float32, bfloat16 or float16 (family default otherwise).")
]
AttnOpt = Annotated[
    str | None, typer.Option("--attn", help="Attention kernel: sdpa, eager or flash_attention_2 (where installed).")
]
MaxNewOpt = Annotated[int | None, typer.Option("--max-new-tokens", min=1, help="Generation budget per sample.")]
CompileOpt = Annotated[
    bool, typer.Option("--compile", help="PaDT: run the decode step under torch.compile(fullgraph=True) (greedy; same tokens).")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Read each predictions line's raw 'text' with this family's parser (its 'objects' are ignored): "
        "qwen2_5_vl, vlm_r1, qwen3_vl, qwen2_vl, internvl, shikra, minigpt_v2, kosmos2, florence2, ferret, cogvlm "
        "(see `padt-eval models`).",
    ),
]
MinPixelsOpt = Annotated[
    int | None,
    typer.Option(
        "--min-pixels", min=1, help="Qwen resize rule, min pixels (predictions files: default 3136; --model: the processor's)."
    ),
]
MaxPixelsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        min=1,
        help="Qwen resize rule, max pixels (predictions files: default 12845056; --model: the processor's).",
    ),
]
PromptStyleOpt = Annotated[
    str | None,
    typer.Option(
        "--prompt-style",
        help="Coordinate-text baselines: 'paper' (PaDT paper A.3 prompts; default for Qwen2.5-VL and InternVL) "
        "or 'native' (the model's own documented grounding prompt; default for the others).",
    ),
]
ModelArgOpt = Annotated[
    list[str] | None,
    typer.Option("--model-arg", "-O", help="Family-specific option KEY=VALUE (VALUE read as JSON when it parses), repeatable."),
]

ProtocolOpt = Annotated[
    str,
    typer.Option(
        "--protocol",
        help="Scoring rules: 'standard' (one answer per query, cIoU = ΣI/ΣU) or 'padt-release' (the PaDT "
        "release scripts: best IoU over every object per image+expression key, mean per-sample mask IoU as 'cIoU').",
    ),
]
OvdProtocolOpt = Annotated[
    str,
    typer.Option(
        "--protocol",
        help="Scoring rules: 'standard', or 'padt-release' (the PaDT release's eval_coco.py: PaDT's filtered GT, "
        "implies --gt padt-filtered; labels kept only when exactly a lower-cased class name).",
    ),
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="Baselines: 'hf' (transformers, default) or 'vllm' (Qwen2.5-VL, VLM-R1, Qwen2-VL, Qwen3-VL, InternVL; needs padt-eval[vllm] and a GPU).",
    ),
]
ErrorIouOpt = Annotated[
    float,
    typer.Option(
        "--error-iou",
        help="Error breakdown: IoU that makes an answer a hit (REC/RES) or a true positive (OVD); below it, a miss is classified.",
    ),
]
BackgroundIouOpt = Annotated[
    float,
    typer.Option("--background-iou", help="Error breakdown: below this IoU with every annotated object an answer is background."),
]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="The model's display name in tables (default: from the model or the file).")
]
NoReportOpt = Annotated[bool, typer.Option("--no-report", help="Do not write report.html into the results folder.")]


def _resolve_device(device: str) -> str:
    """`--device auto`: the GPU when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _model_options(dtype, attn, max_new_tokens, model_args, prompt_style=None, min_pixels=None, max_pixels=None) -> dict:
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


def _flag(option, default=None):
    """A `TaskFlags` field: its default and the Typer option that sets it."""
    return field(default=default, metadata={"option": option})


@dataclass
class TaskFlags:
    """The flags of the task commands (rec, res, ovd, ric), typed, each declared once with
    its option. A task without a flag (RIC has no --layout) keeps the field's default;
    `_task_command` says which a task has. Field order is the order of `--help`."""

    split: str = _flag(SplitOpt, MISSING)
    predictions: Path | None = _flag(PredictionsOpt)
    model: str | None = _flag(ModelOpt)
    family: str | None = _flag(FamilyOpt)
    data_root: Path | None = _flag(DataRootOpt)
    image_root: Path | None = _flag(ImageRootOpt)
    layout: str = _flag(LayoutOpt, "auto")
    gt: str = _flag(GtOpt, "official")
    out: Path | None = _flag(OutOpt)
    strict: bool = _flag(StrictOpt, False)
    batch_size: str = _flag(BatchRunOpt, "8")
    gpus: int | None = _flag(GpusOpt)
    workers: int | None = _flag(WorkersOpt)
    device: str = _flag(DeviceOpt, "auto")
    overwrite: bool = _flag(OverwriteOpt, False)
    loader_workers: int | None = _flag(LoaderOpt)
    rank_timeout: float = _flag(RankTimeoutOpt, 30.0)
    dtype: str | None = _flag(DtypeOpt)
    attn: str | None = _flag(AttnOpt)
    max_new_tokens: int | None = _flag(MaxNewOpt)
    model_arg: list[str] | None = _flag(ModelArgOpt)
    text_format: str | None = _flag(FormatOpt)
    min_pixels: int | None = _flag(MinPixelsOpt)
    max_pixels: int | None = _flag(MaxPixelsOpt)
    prompt_style: str | None = _flag(PromptStyleOpt)
    backend: str | None = _flag(BackendOpt)
    compile_step: bool = _flag(CompileOpt, False)
    protocol: str = _flag(ProtocolOpt, "standard")
    error_iou: float = _flag(ErrorIouOpt, 0.5)
    background_iou: float = _flag(BackgroundIouOpt, 0.1)
    name: str | None = _flag(NameOpt)
    no_report: bool = _flag(NoReportOpt, False)


def _run_task(task: Task, f: TaskFlags) -> None:
    """What every task command does: score a predictions file, or run a model and score it."""
    from padt_eval import api
    from padt_eval.options import (
        DataOptions,
        OutputOptions,
        PredictionsOptions,
        ScoringOptions,
        check_one_source,
        error_thresholds,
    )
    from padt_eval.report.console import progress_bar

    scoring = ScoringOptions(f.protocol, error_thresholds(f.error_iou, f.background_iou))
    check_one_source(f.predictions, f.model)
    data = DataOptions(f.data_root, f.image_root, f.layout, f.gt)
    output = OutputOptions(f.out, f.name, not f.no_report)
    if f.model is not None:
        result = _run_model(task, f, data, scoring, output)
        if result is None:
            return
    else:
        predictions = PredictionsOptions(f.predictions, f.strict, f.text_format, f.min_pixels, f.max_pixels)
        with progress_bar(console, f"{task.value.upper()} {Path(f.split).stem}") as (start, advance):
            result = api.score(
                task, f.split, predictions, data=data, scoring=scoring, output=output, on_start=start, on_progress=advance
            )
    _print_result(task, result)


def _print_result(task: Task, result) -> None:
    from padt_eval.report.console import counts_line, metrics_table, problems_lines
    from padt_eval.report.errors_view import errors_line

    print_table(console, metrics_table(f"{task.value.upper()} on {result.split}", result.metrics))
    console.print(counts_line(result.counts))
    if result.errors is not None:
        console.print(errors_line(result.errors), highlight=False)
    for note in result.notes:
        console.print(labelled("note", note))
    for warning in result.warnings:
        err_console.print(labelled("warning", warning), soft_wrap=True)
    for line in problems_lines(result.problems):
        console.print(line, style="yellow")
    console.print(Text.assemble("results written to ", (str(result.out_dir), "bold"), f" ({result.seconds:.1f} s)"))


def _run_model(task: Task, f: TaskFlags, data, scoring, output):
    from padt_eval import api
    from padt_eval.options import ModelOptions, RunOptions, batch_size_option, check_model_run, ranks
    from padt_eval.runner.progress import RunProgress

    check_model_run(strict=f.strict, text_format=f.text_format)
    options = _model_options(f.dtype, f.attn, f.max_new_tokens, f.model_arg, f.prompt_style, f.min_pixels, f.max_pixels)
    if f.backend is not None:
        options["backend"] = f.backend
    if f.compile_step:
        options["compile"] = True
    nproc, device = ranks(f.gpus, f.workers)
    batch = batch_size_option(f.batch_size)
    run = RunOptions(
        nproc,
        device or _resolve_device(f.device),
        batch,
        f.loader_workers,
        f.overwrite,
        rank_timeout_s=f.rank_timeout * 60,
    )
    result = api.run_model(
        task,
        f.split,
        ModelOptions(f.model, f.family, options),
        data=data,
        run=run,
        scoring=scoring,
        output=output,
        progress=lambda run_dir, attempt, title: RunProgress(run_dir, attempt, console, title),
    )
    if result is None:
        console.print("this rank is done; the last rank to finish merges and scores the run")
        return None
    info = result.manifest.runner
    rate = f"{info.samples_per_s:.2f} samples/s" if info.samples_per_s else "nothing left to run"
    console.print(
        f"run: {info.samples_this_attempt} samples in {info.seconds:.1f} s ({rate}) on {info.world_size} "
        f"{'GPU' if info.device == 'cuda' else 'CPU'} rank(s); {info.failed_this_attempt} failed"
        + ("; resumed an earlier run" if info.resumed else "")
    )
    return result


def _task_command(task: Task, doc: str, *, split, image_root, layout=None, protocol=None, gt: bool = False, errors: bool = False):
    """One Typer command for a task: the `TaskFlags` it has, with the options that differ
    per task (split, image folder, layout, protocol: their help names the task's data)."""
    import inspect

    differ = {"split": split, "image_root": image_root, "layout": layout, "protocol": protocol}
    absent = {name for name in ("layout", "protocol") if differ[name] is None}
    absent |= set() if gt else {"gt"}
    absent |= set() if errors else {"error_iou", "background_iou"}
    params = []
    for f in fields(TaskFlags):
        if f.name in absent:
            continue
        option = differ.get(f.name) or f.metadata["option"]
        option, default = option if isinstance(option, tuple) else (option, f.default)
        if default is MISSING:
            default = inspect.Parameter.empty
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=option, default=default))

    def command(**flags) -> None:
        _run_task(task, TaskFlags(**flags))

    command.__signature__ = inspect.Signature(params)
    command.__doc__ = doc
    command.__name__ = task.value
    return command


app.command("rec")(
    _task_command(
        Task.REC,
        """Referring expression comprehension: Acc@0.5/0.75/0.9 and mean IoU, one box per expression.

    Examples: padt-eval rec --split refcoco_testA --predictions preds.jsonl;
    padt-eval rec -s refcoco_val -p qwen_raw.jsonl --format qwen2_5_vl --max-pixels 1003520;
    padt-eval rec -s refcoco_val --model PaDT-MLLM/PaDT_REC_3B --gpus 8
    """,
        split=SplitOpt,
        image_root=ImageRootOpt,
        layout=LayoutOpt,
        protocol=ProtocolOpt,
        errors=True,
    )
)
app.command("res")(
    _task_command(
        Task.RES,
        """Referring expression segmentation: mIoU (mean per-sample IoU) and cIoU (ΣI/ΣU), one mask per expression.

    Example: padt-eval res --split refcocog_val --predictions preds.jsonl
    """,
        split=SplitOpt,
        image_root=ImageRootOpt,
        layout=LayoutOpt,
        protocol=ProtocolOpt,
        errors=True,
    )
)
app.command("ovd")(
    _task_command(
        Task.OVD,
        """Open-vocabulary detection on COCO val2017: the 12 COCO box statistics (and mask ones when predictions carry masks).

    Example: padt-eval ovd --predictions preds.jsonl --data-root /data
    Example (raw InternVL3 text): padt-eval ovd -p internvl_raw.jsonl --format internvl
    Example (PaDT's own GT, to reproduce its figure): padt-eval ovd -p preds.jsonl --gt padt-filtered
    """,
        split=(OvdSplitOpt, "coco_val2017"),
        image_root=Val2017Opt,
        layout=OvdLayoutOpt,
        gt=True,
        protocol=OvdProtocolOpt,
        errors=True,
    )
)
app.command("ric")(
    _task_command(
        Task.RIC,
        """Referring image captioning: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (SPICE when installed) on the caption, GP/GR on its objects.

    Needs Java (apt-get install -y default-jre-headless). Each predictions line carries the raw
    caption as "text" and the grounded objects as "objects".

    Example: padt-eval ric --predictions preds.jsonl --data-root /data
    Example (raw Qwen2.5-VL text): padt-eval ric -p qwen_raw.jsonl --format qwen2_5_vl
    """,
        split=(RicSplitOpt, "ric_val"),
        image_root=Val2017Opt,
    )
)

# grec, gres (gRefCOCO): their options and help live in cli_generalized.py
from padt_eval.cli_generalized import COMMANDS as GENERALIZED_COMMANDS  # noqa: E402

for _task, _doc, _opts in GENERALIZED_COMMANDS:
    app.command(_task.value)(_task_command(_task, _doc, **_opts))


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
    from padt_eval.options import DataOptions, ModelOptions

    try:
        device = _resolve_device(device)
        report = api.check_batching(
            Task(task),
            split,
            ModelOptions(model, family, _model_options(dtype, attn, max_new_tokens, model_arg)),
            data=DataOptions(data_root, image_root, layout),
            n_samples=n_samples,
            batch_size=batch_size,
            device=device,
        )
    except ValueError as exc:  # an unknown --task or device
        raise UsageError(str(exc)) from None
    n = report.n_samples
    colour = "green" if not report.differing_ids else "yellow"
    console.print(
        Text(
            f"{len(report.differing_ids)} of {n} predictions differ between batch 1 and batch {report.batch_size}", style=colour
        ),
        f"(text: {report.n_text_differs}, objects: {report.n_objects_differ}; boxes compared to 0.01 px, scores to 1e-4)",
    )
    for ex in report.examples:
        console.print(f"  sample {ex['sample_id']}:")
        for key in (k for k in ex if k.startswith("batch_")):
            console.print(f"    {key}: {json.dumps(ex[key])[:300]}")


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
            Text("yes", style="green") if r["found"] else Text("unreadable" if r["error"] else "no", style="red"),
            "—" if r["n_samples"] is None else f"{r['n_samples']:,}",
            r["layout"] or "—",
        )
    print_table(console, t)
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


@app.command()
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
    from padt_eval.report.console import counts_line, metrics_table, progress_bar
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


from padt_eval.cli_data import data_app  # noqa: E402

app.add_typer(data_app, name="data")

from padt_eval.cli_plan import plan_cmd  # noqa: E402

app.command("plan")(plan_cmd)


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
            here = Text("yes", style="green")
        elif fam.loader is not None:
            here = Text.assemble(("no", "red"), f": {why}")  # a missing python module
        else:
            here = Text.assemble(
                ("no", "yellow"),
                ": own repo; " + ("score its text with --format" if name in FORMATS else "score a boxes+masks file"),
            )
        row = [name, here, name if name in FORMATS else "—", fam.coordinate_frame]
        if verbose:
            row += [fam.output_format, fam.description]
        t.add_row(*row)
    print_table(console, t)
    console.print(
        "Score raw model text: padt-eval rec -s SPLIT -p raw.jsonl --format NAME (each line's 'text' is parsed in "
        "the family's own frame). Run a model: padt-eval rec -s SPLIT --model ID_OR_FOLDER [--family NAME]."
    )


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="Results folder of run A (the reference).", file_okay=False)],
    run_b: Annotated[Path, typer.Argument(help="Results folder of run B; differences are B − A.", file_okay=False)],
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples (and permutation draws).")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the resampling.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Comparison JSON (default: <parent of B>/comparisons/<A>__vs__<B>.json).")
    ] = None,
) -> None:
    """Paired comparison of two runs on their shared samples: B − A with a 95 % paired-bootstrap
    interval and a p-value (McNemar exact for Acc@t, paired permutation otherwise).

    Example: padt-eval compare results/rec-refcoco_val-qwen results/rec-refcoco_val-padt
    """
    from rich.table import Table

    from padt_eval import api
    from padt_eval.report.errors_view import error_shares_table
    from padt_eval.report.table_specs import display_scale

    doc, path = api.compare(run_a, run_b, resamples=resamples, seed=seed, out=out)
    a, b = doc["run_a"], doc["run_b"]
    t = Table(
        title=f"{a['task'].upper()} {a['split']}: B = {b['model']} ({b['protocol']}) vs A = {a['model']} ({a['protocol']}), "
        f"{doc['n_shared']} shared samples",
        title_justify="left",
    )
    for col in ("metric", "A", "B", "B − A", "95% CI", "p", "test"):
        t.add_column(col, justify="left" if col in ("metric", "test") else "right")
    for metric, e in doc["metrics"].items():
        s = display_scale(metric)
        t.add_row(
            metric,
            f"{e['a'] * s:.2f}",
            f"{e['b'] * s:.2f}",
            f"{e['diff'] * s:+.2f}",
            f"[{e['ci95'][0] * s:+.2f}, {e['ci95'][1] * s:+.2f}]",
            f"{e['p_value']:.3g}",
            e["test"],
        )
    print_table(console, t)
    if doc.get("errors"):
        print_table(console, error_shares_table(doc["errors"]))
        for w in doc["errors"]["warnings"]:
            console.print(labelled("warning", w))
    for w in doc["warnings"]:
        console.print(labelled("warning", w))
    console.print(Text.assemble(f"{doc['resamples']:,} resamples, seed {doc['seed']}; written to ", (str(path), "bold")))


@app.command()
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
    REC, RES, REC miss shares, OVD, RIC, the runs' protocol fields, and paired comparisons.

    Example: padt-eval leaderboard --results results --out results
    """
    from padt_eval import api
    from padt_eval.report.console import rich_table
    from padt_eval.report.table_specs import TASK_TABLES

    board, written = api.leaderboard(results, out, reported)
    tasks = {tt.task for tt in TASK_TABLES}
    headline = [t for t in board.tables if t.key in tasks and any(r.kind == "measured" for r in t.rows)]
    for t in headline:  # the measured rows; the files also hold the reported ones beside them
        print_table(console, rich_table(t))
    n_reported = sum(1 for t in board.tables if t.key in tasks for r in t.rows if r.kind == "reported")
    if not headline:
        console.print(labelled("note", f"no finished runs under {results}"))
    console.print(f"{n_reported} reported row(s) from papers sit beside the measured ones in the files below")
    for line in board.skipped:
        err_console.print(labelled("skipped", line), soft_wrap=True)
    for p in written:
        console.print(Text.assemble("written ", (str(p), "bold")))


@app.command()
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


if __name__ == "__main__":
    main()
