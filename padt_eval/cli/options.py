"""The options the commands share, each declared once as a Typer `Annotated` alias.

Where an option's help lists names (splits, formats, backends), the list comes from the
table that owns them, so a new split or family shows up in `--help` without an edit here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from padt_eval.core.types import Task
from padt_eval.data.split_table import splits_for
from padt_eval.models.coords.help_text import backend_help, family_help, format_help


def _names(task: Task) -> str:
    return ", ".join(splits_for(task))


SplitOpt = Annotated[
    str,
    typer.Option(
        "--split",
        "-s",
        help=f"Split name ({_names(Task.REC)}; res also: {', '.join(n for n in splits_for(Task.RES) if n not in splits_for(Task.REC))}) "
        "or a path to a PaDT JSONL split file.",
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
    typer.Option("--family", help=family_help()),
]
DataRootOpt = Annotated[
    Path | None, typer.Option("--data-root", help="Where datasets live (default: $PADT_EVAL_DATA, else ./data).", file_okay=False)
]
ImageRootOpt = Annotated[
    Path | None, typer.Option("--image-root", help="Image folder (default: <data-root>/coco/train2014 and other usual places).")
]
LayoutOpt = Annotated[
    str,
    typer.Option(
        "--layout",
        help="Annotation layout: auto (refer first, then PaDT JSONL), refer, or padt-jsonl; "
        "refcoco_m_val reads refcoco-m (parquet), the ReasonSeg splits reasonseg (a folder of images and JSONs).",
    ),
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
    typer.Option("--split", "-s", help=f"{_names(Task.OVD)}, or a path to a COCO instances file or a PaDT-MLLM/COCO JSONL."),
]
RicSplitOpt = Annotated[
    str, typer.Option("--split", "-s", help=f"{_names(Task.RIC)}, or a path to a PaDT-MLLM/ReferringImageCaptioning JSONL.")
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
LengthOrderOpt = Annotated[
    bool,
    typer.Option(
        "--length-order/--no-length-order",
        help="Batch prompts of similar length together (the run's order: estimated prompt tokens, then image size), "
        "which cuts padding; answers do not change. --no-length-order: the order by image size alone. Recorded in "
        "plan/<attempt>.json.",
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
        help=format_help(),
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
        help="Scoring rules: 'standard' (one answer per query, cIoU = ΣI/ΣU), 'padt-release' (the PaDT "
        "release scripts: best IoU over every object per image+expression key, mean per-sample mask IoU as 'cIoU') or, "
        "for res on a ReasonSeg split, 'official' (LISA's evaluation: first query per image, smoothed gIoU/cIoU).",
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
        help=backend_help(),
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


def resolve_device(device: str) -> str:
    """`--device auto`: the GPU when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_options(dtype, attn, max_new_tokens, model_args, prompt_style=None, min_pixels=None, max_pixels=None) -> dict:
    """The load options of a model run: `-O KEY=VALUE` (VALUE read as JSON when it parses)
    with the named flags on top."""
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
