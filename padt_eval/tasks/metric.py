"""`build_metric`: the one place a metric is made, error breakdown included.

The class comes from `metrics/catalogue.py`; this module checks the protocol against
the task (with the CLI's messages) and gives the class what it needs from the split:
OVD its category table, REC/RES their image instances for the miss categories. Nothing
changes a metric after it is built.
"""

from __future__ import annotations

from padt_eval.core.errors import UsageError, did_you_mean
from padt_eval.core.types import Task
from padt_eval.data.split import SplitReader
from padt_eval.data.split_table import SPLITS
from padt_eval.metrics.base import Metric
from padt_eval.metrics.catalogue import BENCHMARK_SCORERS, metric_class
from padt_eval.metrics.errors import ErrorThresholds
from padt_eval.tasks.error_breakdown import query_errors
from padt_eval.tasks.registry import PROTOCOLS, get_task

#: the tasks whose `official` protocol reproduces the benchmark's own scorer (metrics/grec.py, metrics/gres.py)
OFFICIAL_TASKS = (Task.GREC, Task.GRES)


def split_scorer(split_name: str | None) -> str | None:
    """The benchmark scorer a named split declares (`SplitSpec.scorer`: Ref-L4, ReasonSeg), else None."""
    spec = SPLITS.get(split_name) if split_name is not None else None
    return spec.scorer if spec is not None else None


def check_protocol(task: Task, protocol: str, scorer: str | None = None) -> None:
    """Refuse a protocol the task has no scorer for, saying which it has. `scorer`: the
    benchmark whose own metrics score the split (Ref-L4, ReasonSeg), which has its own protocols."""
    if scorer is not None:
        if metric_class(task, protocol, scorer) is None:
            have = sorted(p for (b, t, p) in BENCHMARK_SCORERS if b == scorer and t == task)
            raise UsageError(f"--protocol {protocol} is not available on a {scorer} split; choose one of {', '.join(have)}")
        return
    if protocol == "standard":
        return
    if protocol == "official":
        if task not in OFFICIAL_TASKS:
            raise UsageError(
                "--protocol official is for grec, gres and the splits of a benchmark with its own scorer (ref_l4_*, "
                f"reasonseg_*); {task.value} on this split has none"
            )
        return
    if task in OFFICIAL_TASKS:
        raise UsageError(f"--protocol {protocol} is not available for {task.value}; choose standard or official")
    if protocol == "padt-release":
        if metric_class(task, protocol) is None:
            raise UsageError(f"--protocol padt-release is not available for {task.value} (the PaDT release has no RIC scorer)")
        return
    raise UsageError(f"unknown protocol {protocol!r}{did_you_mean(protocol, PROTOCOLS)}; choose one of {', '.join(PROTOCOLS)}")


def build_metric(
    task: Task | str,
    protocol: str = "standard",
    split: SplitReader | None = None,
    thresholds: ErrorThresholds | None = None,
    split_name: str | None = None,
) -> Metric:
    """A fresh metric for `task` under `protocol`. `split`: the open split, for what the
    metric needs from it; `thresholds`: classify the misses (REC/RES categories, OVD's
    TIDE-style breakdown). Only the standard protocol classifies errors: the PaDT
    release's best-of-N answer is not the answer padt-eval's headline scores, and its
    categories would describe another metric. A split of a benchmark with its own metrics
    (`SplitInfo.scorer`, or the split table's for `split_name` before the split is open:
    Ref-L4, ReasonSeg) is scored by them, under `standard` or `official`."""
    t = get_task(task).task
    scorer = split.info.scorer if split is not None else split_scorer(split_name)
    check_protocol(t, protocol, scorer)
    cls = metric_class(t, protocol, scorer)
    if cls is None:  # a task in the registry without a scorer: a bug here, not the user's
        raise RuntimeError(f"no metric scores {t.value} under --protocol {protocol}")
    breakdown = thresholds if protocol == "standard" else None
    categories = split.info.categories if split is not None else None  # OVD; None: the 80 COCO categories
    if t in OFFICIAL_TASKS or scorer is not None:
        return cls(protocol)
    if protocol == "padt-release":
        return cls(categories) if t == Task.OVD else cls(t)
    if t == Task.OVD:
        return cls(categories, tide_thresholds=breakdown)
    if t in (Task.REC, Task.RES):
        return cls(query_errors(split, breakdown) if breakdown is not None and split is not None else None)
    return cls()
