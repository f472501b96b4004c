"""Task specifications: how a task prompts each model family and which metric scores it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from padt_eval.errors import UsageError
from padt_eval.metrics.base import Metric
from padt_eval.tasks.prompts import PROMPT_TABLE, prompt_template_hash, render, template_for
from padt_eval.types import Sample, Task


@dataclass(frozen=True)
class TaskSpec:
    task: Task
    description: str
    metric_factory: Callable[[], Metric]

    def prompt(self, family: str, sample: Sample) -> str | None:
        """The filled-in prompt for `family`; None for families that take no prompt
        (predictions files)."""
        if family not in PROMPT_TABLE:
            return None
        return render(template_for(family, self.task), sample)

    def prompt_hash(self, family: str) -> str | None:
        return prompt_template_hash(family, self.task) if family in PROMPT_TABLE else None


def _rec_metric() -> Metric:
    from padt_eval.metrics.rec import RecMetric

    return RecMetric()


def _res_metric() -> Metric:
    from padt_eval.metrics.res import ResMetric

    return ResMetric()


TASKS: dict[Task, TaskSpec] = {
    Task.REC: TaskSpec(Task.REC, "referring expression comprehension: one box per expression, Acc@0.5", _rec_metric),
    Task.RES: TaskSpec(Task.RES, "referring expression segmentation: one mask per expression, mIoU and cIoU", _res_metric),
}


#: Scoring protocols. "standard" is padt-eval's (README, "Metrics and protocol");
#: "padt-release" reproduces the PaDT release's eval scripts (metrics/release_protocol.py).
PROTOCOLS = ("standard", "padt-release")


def make_metric(spec: TaskSpec, protocol: str = "standard") -> Metric:
    """A fresh metric for `spec` under `protocol`."""
    if protocol == "standard":
        return spec.metric_factory()
    if protocol == "padt-release":
        if spec.task not in (Task.REC, Task.RES):
            raise UsageError(f"--protocol padt-release is not available for {spec.task.value}")
        from padt_eval.metrics.release_protocol import ReleaseMetric

        return ReleaseMetric(spec.task)
    raise UsageError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def register_task(spec: TaskSpec) -> None:
    TASKS[spec.task] = spec


def get_task(task: Task | str) -> TaskSpec:
    t = Task(task) if not isinstance(task, Task) else task
    if t not in TASKS:
        raise UsageError(f"task {t.value!r} is not available yet")
    return TASKS[t]
