"""The task commands: `rec`, `res`, `ovd`, `ric` (and gRefCOCO's `grec`, `gres`) (the
drift checks are in drift.py). Each scores a predictions file, or runs a model and scores its run;
the work is `padt_eval.api`'s, this module parses and prints."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from padt_eval.cli.generalized import COMMANDS as GENERALIZED_COMMANDS
from padt_eval.cli.options import (
    ImageRootOpt,
    LayoutOpt,
    OvdLayoutOpt,
    OvdProtocolOpt,
    OvdSplitOpt,
    ProtocolOpt,
    RicSplitOpt,
    SplitOpt,
    Val2017Opt,
    model_options,
    resolve_device,
)
from padt_eval.cli.output import console, err_console
from padt_eval.cli.task_flags import TaskFlags, task_command
from padt_eval.core.types import Task
from padt_eval.report.console import labelled, print_table


def run_task(task: Task, f: TaskFlags) -> None:
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
        result = run_model(task, f, data, scoring, output)
        if result is None:
            return
    else:
        predictions = PredictionsOptions(f.predictions, f.strict, f.text_format, f.min_pixels, f.max_pixels)
        with progress_bar(console, f"{task.value.upper()} {Path(f.split).stem}") as (start, advance):
            result = api.score(
                task, f.split, predictions, data=data, scoring=scoring, output=output, on_start=start, on_progress=advance
            )
    print_result(task, result)


def print_result(task: Task, result) -> None:
    from padt_eval.report.console import counts_line, metrics_table, problems_lines, warning_lines
    from padt_eval.report.errors_view import errors_line

    print_table(console, metrics_table(f"{task.value.upper()} on {result.split}", result.metrics))
    console.print(counts_line(result.counts))
    if result.errors is not None:
        console.print(errors_line(result.errors), highlight=False)
    for note in result.notes:
        console.print(labelled("note", note))
    for line in warning_lines(result.warnings, result.record.alarms):
        err_console.print(line, soft_wrap=True)
    for line in problems_lines(result.problems):
        console.print(line, style="yellow")
    console.print(Text.assemble("results written to ", (str(result.out_dir), "bold"), f" ({result.seconds:.1f} s)"))


def run_model(task: Task, f: TaskFlags, data, scoring, output):
    from padt_eval import api
    from padt_eval.options import ModelOptions, RunOptions, batch_size_option, check_model_run, ranks
    from padt_eval.runner.progress import RunProgress

    check_model_run(strict=f.strict, text_format=f.text_format)
    options = model_options(f.dtype, f.attn, f.max_new_tokens, f.model_arg, f.prompt_style, f.min_pixels, f.max_pixels)
    if f.backend is not None:
        options["backend"] = f.backend
    if f.compile_step:
        options["compile"] = True
    nproc, device = ranks(f.gpus, f.workers)
    batch = batch_size_option(f.batch_size)
    run = RunOptions(
        nproc,
        device or resolve_device(f.device),
        batch,
        f.loader_workers,
        f.overwrite,
        rank_timeout_s=f.rank_timeout * 60,
        length_order=f.length_order,
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


#: The task commands, in `--help` order.
#: The options REC and RES share: RefCOCO/+/g splits on train2014 images.
_REFERRING = dict(split=SplitOpt, image_root=ImageRootOpt, layout=LayoutOpt, protocol=ProtocolOpt, errors=True)

TASK_COMMANDS = [
    task_command(
        Task.REC,
        """Referring expression comprehension: Acc@0.5/0.75/0.9 and mean IoU, one box per expression.

    Examples: padt-eval rec --split refcoco_testA --predictions preds.jsonl;
    padt-eval rec -s refcoco_val -p qwen_raw.jsonl --format qwen2_5_vl --max-pixels 1003520;
    padt-eval rec -s refcoco_val --model PaDT-MLLM/PaDT_REC_3B --gpus 8
    """,
        run_task,
        **_REFERRING,
    ),
    task_command(
        Task.RES,
        """Referring expression segmentation: mIoU (mean per-sample IoU) and cIoU (ΣI/ΣU), one mask per expression.

    Example: padt-eval res --split refcocog_val --predictions preds.jsonl
    """,
        run_task,
        **_REFERRING,
    ),
    task_command(
        Task.OVD,
        """Open-vocabulary detection on COCO val2017: the 12 COCO box statistics (and mask ones when predictions carry masks).

    Example: padt-eval ovd --predictions preds.jsonl --data-root /data
    Example (raw InternVL3 text): padt-eval ovd -p internvl_raw.jsonl --format internvl
    Example (PaDT's own GT, to reproduce its figure): padt-eval ovd -p preds.jsonl --gt padt-filtered
    """,
        run_task,
        split=(OvdSplitOpt, "coco_val2017"),
        image_root=Val2017Opt,
        layout=OvdLayoutOpt,
        gt=True,
        protocol=OvdProtocolOpt,
        errors=True,
    ),
    task_command(
        Task.RIC,
        """Referring image captioning: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (SPICE when installed) on the caption, GP/GR on its objects.

    Needs Java (apt-get install -y default-jre-headless). Each predictions line carries the raw
    caption as "text" and the grounded objects as "objects".

    Example: padt-eval ric --predictions preds.jsonl --data-root /data
    Example (raw Qwen2.5-VL text): padt-eval ric -p qwen_raw.jsonl --format qwen2_5_vl
    """,
        run_task,
        split=(RicSplitOpt, "ric_val"),
        image_root=Val2017Opt,
    ),
]
# grec, gres (gRefCOCO): their help and the options that differ live in generalized.py
TASK_COMMANDS += [task_command(task, doc, run_task, **options) for task, doc, options in GENERALIZED_COMMANDS]
