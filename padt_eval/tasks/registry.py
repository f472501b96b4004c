"""Task specifications: how a task prompts each model family and which metric scores it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from padt_eval.core.errors import UsageError, did_you_mean
from padt_eval.core.types import PromptKey, Sample, Task
from padt_eval.data.split import SplitInfo
from padt_eval.metrics.base import Metric
from padt_eval.tasks.prompts import prompt_template_hash, render, template_for


@dataclass(frozen=True)
class TaskSpec:
    task: Task
    description: str
    metric_factory: Callable[[], Metric]
    # For metrics that need something from the split (OVD: its category table).
    metric_for_split: Callable[[SplitInfo], Metric] | None = None

    def make_metric(self, info: SplitInfo | None = None) -> Metric:
        if self.metric_for_split is not None and info is not None:
            return self.metric_for_split(info)
        return self.metric_factory()

    def prompt(self, key: PromptKey | None, sample: Sample) -> str | None:
        """The filled-in prompt under `key`; None only for a model that takes no prompt
        (key None: a predictions file, the demo's colour finder). An unknown key raises."""
        return render(template_for(key, self.task), sample) if key is not None else None

    def prompt_hash(self, key: PromptKey | None) -> str | None:
        return prompt_template_hash(key, self.task) if key is not None else None


def _rec_metric() -> Metric:
    from padt_eval.metrics.rec import RecMetric

    return RecMetric()


def _res_metric() -> Metric:
    from padt_eval.metrics.res import ResMetric

    return ResMetric()


def _ovd_metric() -> Metric:
    from padt_eval.metrics.detection import DetectionMetric

    return DetectionMetric()


def _ovd_metric_for_split(info: SplitInfo) -> Metric:
    from padt_eval.metrics.detection import DetectionMetric

    return DetectionMetric(info.categories)  # None: the 80 COCO categories


def _ric_metric() -> Metric:
    from padt_eval.metrics.ric import RicMetric

    return RicMetric()


def _grec_metric(protocol: str = "standard") -> Metric:
    from padt_eval.metrics.grec import GrecMetric

    return GrecMetric(protocol)


def _gres_metric(protocol: str = "standard") -> Metric:
    from padt_eval.metrics.gres import GresMetric

    return GresMetric(protocol)


TASKS: dict[Task, TaskSpec] = {
    Task.REC: TaskSpec(Task.REC, "referring expression comprehension: one box per expression, Acc@0.5", _rec_metric),
    Task.RES: TaskSpec(Task.RES, "referring expression segmentation: one mask per expression, mIoU and cIoU", _res_metric),
    Task.OVD: TaskSpec(
        Task.OVD,
        "open-vocabulary detection on COCO: the 12 COCO box statistics (AP, AP50, ..., AR large)",
        _ovd_metric,
        _ovd_metric_for_split,
    ),
    Task.RIC: TaskSpec(
        Task.RIC, "referring image captioning: BLEU/METEOR/ROUGE-L/CIDEr-D on the caption, GP/GR on its objects", _ric_metric
    ),
    Task.GREC: TaskSpec(
        Task.GREC,
        "generalized REC (gRefCOCO): 0, 1 or many boxes per expression; Pr@(F1=1, IoU>=0.5), N-acc, T-acc",
        _grec_metric,
    ),
    Task.GRES: TaskSpec(
        Task.GRES,
        "generalized RES (gRefCOCO): 0, 1 or many masks per expression; gIoU, cIoU, Pr@0.7-0.9, N-acc, T-acc",
        _gres_metric,
    ),
}

#: the tasks whose `official` protocol reproduces the benchmark's own scorer (metrics/grec.py, metrics/gres.py)
OFFICIAL_SCORERS = {Task.GREC: _grec_metric, Task.GRES: _gres_metric}


#: Scoring protocols. "standard" is padt-eval's (docs/metrics.md);
#: "padt-release" reproduces the PaDT release's eval scripts (metrics/release_protocol.py);
#: "official" reproduces a benchmark's own scorer, quirks included (GREC, GRES: docs/benchmarks.md).
PROTOCOLS = ("standard", "padt-release", "official")


def make_metric(spec: TaskSpec, protocol: str = "standard", info: SplitInfo | None = None) -> Metric:
    """A fresh metric for `spec` under `protocol` (`info`: the split, for metrics that need it)."""
    if protocol == "standard":
        return spec.make_metric(info)
    if protocol == "official":
        if spec.task not in OFFICIAL_SCORERS:
            raise UsageError(f"--protocol official is for grec and gres (a benchmark's own scorer); {spec.task.value} has none")
        return OFFICIAL_SCORERS[spec.task]("official")
    if spec.task in OFFICIAL_SCORERS:
        raise UsageError(f"--protocol {protocol} is not available for {spec.task.value}; choose standard or official")
    if protocol == "padt-release":
        from padt_eval.metrics import release_protocol

        if spec.task in (Task.REC, Task.RES):
            return release_protocol.ReleaseMetric(spec.task)
        if spec.task == Task.OVD:
            categories = getattr(info, "categories", None) if info is not None else None
            return release_protocol.ReleaseDetectionMetric(categories)
        raise UsageError(f"--protocol padt-release is not available for {spec.task.value} (the PaDT release has no RIC scorer)")
    raise UsageError(f"unknown protocol {protocol!r}{did_you_mean(protocol, PROTOCOLS)}; choose one of {', '.join(PROTOCOLS)}")


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
