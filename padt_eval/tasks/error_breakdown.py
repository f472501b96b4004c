"""A REC/RES error breakdown for a split: the glue between readers and `metrics/errors.py`.

The categories need the image instances the split can provide (`data/instances.py`);
`build_metric` (tasks/metric.py) decides when a metric gets them (OVD's TIDE-style
breakdown needs only the thresholds).
"""

from __future__ import annotations

from padt_eval.core.errors import DataError
from padt_eval.core.types import Task
from padt_eval.data.instances import load_image_instances
from padt_eval.data.split import SplitReader
from padt_eval.metrics.errors import ErrorThresholds, QueryErrors


def query_errors(reader: SplitReader, thresholds: ErrorThresholds) -> QueryErrors:
    """The miss categories for the split's task; without usable instances, by target IoU only."""
    info = reader.info
    kind = "box" if info.task == Task.REC else "mask"
    if not info.instances_file:
        why = info.instances_note or f"the {info.layout} layout carries no image instances"
        return QueryErrors(kind, thresholds, None, {"available": False, "why": why})
    try:
        instances = load_image_instances(info.instances_file, reader.image_ids())
    except DataError as exc:
        # A bad instances file costs the breakdown its wrong_object category, never the run.
        return QueryErrors(kind, thresholds, None, {"available": False, "why": f"instances file unusable: {exc}"})
    source = {"available": True, "file": instances.source, "sha256": instances.sha256, "n_images": len(instances.by_image)}
    return QueryErrors(kind, thresholds, instances.get, source)
