"""Which metric class scores a task under a protocol.

The one table that `build_metric` (tasks/metric.py) builds metrics from and that
`padt-eval compare` reads each metric's declared per-sample estimators from, so a
comparison always uses the formulas of the metric that wrote the run. A class is
imported only when asked for: scoring OVD does not import the caption metrics.
"""

from __future__ import annotations

from collections.abc import Callable

from padt_eval.core.types import Task
from padt_eval.metrics.base import Metric
from padt_eval.metrics.estimators import Estimator


def _rec() -> type[Metric]:
    from padt_eval.metrics.rec import RecMetric

    return RecMetric


def _res() -> type[Metric]:
    from padt_eval.metrics.res import ResMetric

    return ResMetric


def _ovd() -> type[Metric]:
    from padt_eval.metrics.detection import DetectionMetric

    return DetectionMetric


def _ric() -> type[Metric]:
    from padt_eval.metrics.ric import RicMetric

    return RicMetric


def _grec() -> type[Metric]:
    from padt_eval.metrics.grec import GrecMetric

    return GrecMetric


def _gres() -> type[Metric]:
    from padt_eval.metrics.gres import GresMetric

    return GresMetric


def _release() -> type[Metric]:
    from padt_eval.metrics.release_protocol import ReleaseMetric

    return ReleaseMetric


def _release_ovd() -> type[Metric]:
    from padt_eval.metrics.release_protocol import ReleaseDetectionMetric

    return ReleaseDetectionMetric


#: (task, protocol) -> the metric class. "standard" is padt-eval's (docs/metrics.md);
#: "padt-release" reproduces the PaDT release's eval scripts (metrics/release_protocol.py);
#: "official" reproduces a benchmark's own scorer, quirks included (GREC, GRES).
SCORERS: dict[tuple[Task, str], Callable[[], type[Metric]]] = {
    (Task.REC, "standard"): _rec,
    (Task.RES, "standard"): _res,
    (Task.OVD, "standard"): _ovd,
    (Task.RIC, "standard"): _ric,
    (Task.GREC, "standard"): _grec,
    (Task.GRES, "standard"): _gres,
    (Task.GREC, "official"): _grec,
    (Task.GRES, "official"): _gres,
    (Task.REC, "padt-release"): _release,
    (Task.RES, "padt-release"): _release,
    (Task.OVD, "padt-release"): _release_ovd,
}


def metric_class(task: Task, protocol: str) -> type[Metric] | None:
    """The class scoring `task` under `protocol`; None when that pair has no scorer."""
    load = SCORERS.get((task, protocol))
    return load() if load is not None else None


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
