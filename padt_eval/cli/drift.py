"""The drift check `check-batching`: batch 1 against batch N, or (`--backends hf,vllm`) HF
transformers against vLLM. It runs the first N samples of a split twice and says in one
line whether the answers change (`runner/batching.DriftReport.line`); the work is
`padt_eval.api`'s."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from padt_eval.cli.options import (
    AttnOpt,
    BatchOpt,
    DataRootOpt,
    DeviceOpt,
    DtypeOpt,
    FamilyOpt,
    ImageRootOpt,
    LayoutOpt,
    MaxNewOpt,
    ModelArgOpt,
    SplitOpt,
    model_options,
    resolve_device,
)
from padt_eval.cli.output import console
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model to run: a local checkpoint folder or a Hugging Face id.")]
TaskOpt = Annotated[str, typer.Option("--task", help="rec or res (the prompt and the samples used).")]
NSamplesOpt = Annotated[int, typer.Option("--n-samples", "-n", min=1, help="How many samples (the first of the split).")]
BackendsOpt = Annotated[
    str | None,
    typer.Option("--backends", help="Compare two backends at batch N instead, comma-separated: hf,vllm (a backend cross-check)."),
]


def check_batching(
    split: SplitOpt,
    model: ModelOpt,
    task: TaskOpt = "rec",
    family: FamilyOpt = None,
    n_samples: NSamplesOpt = 32,
    batch_size: BatchOpt = 8,
    backends: BackendsOpt = None,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
    image_root: ImageRootOpt = None,
    layout: LayoutOpt = "auto",
    dtype: DtypeOpt = None,
    attn: AttnOpt = None,
    max_new_tokens: MaxNewOpt = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Run a fixed subset twice and say in one line whether the answers change: at batch 1 and at batch N, or (--backends hf,vllm) on two backends.

    With --backends the model is loaded on one backend, run at batch N, released, then
    loaded on the other, so both never hold memory at once; the same --dtype applies to
    both (give one: the backends' defaults differ on CPU).

    Example: padt-eval check-batching --split refcoco_val --model PaDT-MLLM/PaDT_REC_3B -n 64 -b 16
    Example (needs: gpu): padt-eval check-batching -s refcoco_val -m Qwen/Qwen2.5-VL-3B-Instruct --backends hf,vllm --dtype bfloat16 -n 64
    """
    from padt_eval import api
    from padt_eval.options import DataOptions, ModelOptions

    pair = tuple(b.strip() for b in backends.split(",") if b.strip()) if backends is not None else None
    if pair is not None and len(pair) != 2:
        raise UsageError(f"--backends takes two backends, comma-separated (e.g. hf,vllm); got {backends!r}")
    try:
        device = resolve_device(device)
        args = (Task(task), split, ModelOptions(model, family, model_options(dtype, attn, max_new_tokens, model_arg)))
        kwargs = dict(data=DataOptions(data_root, image_root, layout), n_samples=n_samples, batch_size=batch_size, device=device)
        report = api.check_batching(*args, **kwargs) if pair is None else api.check_backends(*args, backends=pair, **kwargs)
    except ValueError as exc:  # an unknown --task or device
        raise UsageError(str(exc)) from None
    console.print(Text(report.line(), style="green" if not report.differing_ids else "yellow"))
    for ex in report.examples:
        console.print(f"  sample {ex['sample_id']}:")
        for key in (report.first, report.second):
            console.print(f"    {key}: {json.dumps(ex[key])[:300]}")
