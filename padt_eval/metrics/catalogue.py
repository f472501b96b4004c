"""Which metric class scores a task under a protocol.

The one table that `build_metric` (tasks/metric.py) builds metrics from and that
`padt-eval compare` reads each metric's declared per-sample estimators from, so a
comparison always uses the formulas of the metric that wrote the run. A class is
imported only when asked for (lazy "module:Class" targets, resolved on first use):
scoring OVD does not import the caption metrics.
"""

from __future__ import annotations

import importlib

from padt_eval.core.types import Task
from padt_eval.metrics.base import Metric
from padt_eval.metrics.estimators import Estimator

#: (task, protocol) -> "module:Class" of this package, imported when first asked for.
#: "standard" is padt-eval's (docs/metrics.md); "padt-release" reproduces the PaDT
#: release's eval scripts (metrics/release_protocol.py); "official" reproduces a
#: benchmark's own scorer, quirks included (GREC, GRES).
SCORERS: dict[tuple[Task, str], str] = {
    (Task.REC, "standard"): "rec:RecMetric",
    (Task.RES, "standard"): "res:ResMetric",
    (Task.OVD, "standard"): "detection:DetectionMetric",
    (Task.RIC, "standard"): "ric:RicMetric",
    (Task.GREC, "standard"): "grec:GrecMetric",
    (Task.GRES, "standard"): "gres:GresMetric",
    (Task.GREC, "official"): "grec:GrecMetric",
    (Task.GRES, "official"): "gres:GresMetric",
    (Task.REC, "padt-release"): "release_protocol:ReleaseMetric",
    (Task.RES, "padt-release"): "release_protocol:ReleaseMetric",
    (Task.OVD, "padt-release"): "release_protocol:ReleaseDetectionMetric",
}

#: (benchmark, task, protocol) -> the class scoring a split whose reader names a benchmark
#: scorer (`SplitInfo.scorer`): Ref-L4 is REC scored by its own evaluator's metrics, ReasonSeg
#: RES by LISA's rules (official) and by RES's with its ignore regions (standard).
BENCHMARK_SCORERS: dict[tuple[str, Task, str], str] = {
    ("ref_l4", Task.REC, "standard"): "ref_l4:RefL4Metric",
    ("ref_l4", Task.REC, "official"): "ref_l4:RefL4Metric",
    ("reasonseg", Task.RES, "standard"): "reasonseg:ReasonSegMetric",
    ("reasonseg", Task.RES, "official"): "reasonseg:ReasonSegMetric",
}


def metric_class(task: Task, protocol: str, scorer: str | None = None) -> type[Metric] | None:
    """The class scoring `task` under `protocol` (on a split of benchmark `scorer`, when
    given); None when that pair has no scorer."""
    target = SCORERS.get((task, protocol)) if scorer is None else BENCHMARK_SCORERS.get((scorer, task, protocol))
    if target is None:
        return None
    module, name = target.split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)  # a sibling module, never upward


def declared_estimators(task: str, protocol: str) -> dict[str, Estimator]:
    """The per-sample estimators of the metric that scores `task` under `protocol` (names
    as a run's metrics.json writes them); empty when nothing of it decomposes over samples
    (COCO AP, caption scores) or the pair has no scorer."""
    try:
        t = Task(task)
    except ValueError:
        return {}
    cls = metric_class(t, protocol)
    return cls.declared(t) if cls is not None else {}
