"""Task specifications: how a task prompts each model family (its metric: tasks/metric.py)."""

from __future__ import annotations

from dataclasses import dataclass

from padt_eval.core.errors import UsageError
from padt_eval.core.types import PromptKey, Sample, Task
from padt_eval.tasks.prompts import prompt_template_hash, render, template_for


@dataclass(frozen=True)
class TaskSpec:
    """What a task is to the runner: its description and prompts (its metric: tasks/metric.py)."""

    task: Task
    description: str

    def prompt(self, key: PromptKey | None, sample: Sample) -> str | None:
        """The filled-in prompt under `key`; None only for a model that takes no prompt
        (key None: a predictions file, the demo's colour finder). An unknown key raises."""
        return render(template_for(key, self.task), sample) if key is not None else None

    def prompt_hash(self, key: PromptKey | None) -> str | None:
        return prompt_template_hash(key, self.task) if key is not None else None


TASKS: dict[Task, TaskSpec] = {
    Task.REC: TaskSpec(Task.REC, "referring expression comprehension: one box per expression, Acc@0.5"),
    Task.RES: TaskSpec(Task.RES, "referring expression segmentation: one mask per expression, mIoU and cIoU"),
    Task.OVD: TaskSpec(
        Task.OVD,
        "open-vocabulary detection on COCO: the 12 COCO box statistics (AP, AP50, ..., AR large)",
    ),
    Task.RIC: TaskSpec(Task.RIC, "referring image captioning: BLEU/METEOR/ROUGE-L/CIDEr-D on the caption, GP/GR on its objects"),
    Task.GREC: TaskSpec(
        Task.GREC,
        "generalized REC (gRefCOCO): 0, 1 or many boxes per expression; Pr@(F1=1, IoU>=0.5), N-acc, T-acc",
    ),
    Task.GRES: TaskSpec(
        Task.GRES,
        "generalized RES (gRefCOCO): 0, 1 or many masks per expression; gIoU, cIoU, Pr@0.7-0.9, N-acc, T-acc",
    ),
}

#: Scoring protocols. "standard" is padt-eval's (docs/metrics.md);
#: "padt-release" reproduces the PaDT release's eval scripts (metrics/release_protocol.py);
#: "official" reproduces a benchmark's own scorer, quirks included (GREC, GRES: docs/benchmarks.md).
PROTOCOLS = ("standard", "padt-release", "official")


def release_gt(task: Task, protocol: str, gt: str) -> str:
    """OVD under the release's protocol is scored against PaDT's filtered ground truth."""
    if task == Task.OVD and protocol == "padt-release":
        return "padt-filtered"
    return gt


def get_task(task: Task | str) -> TaskSpec:
    t = Task(task) if not isinstance(task, Task) else task
    if t not in TASKS:
        raise UsageError(f"task {t.value!r} is not available yet")
    return TASKS[t]
