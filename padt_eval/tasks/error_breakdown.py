"""Switch on a metric's error breakdown for a split: the glue between readers and metrics.

REC/RES get `metrics/errors.py`'s categories, with the image instances their split can
provide (`data/instances.py`); OVD gets the TIDE-style dAP breakdown (`metrics/tide.py`).
Only the standard protocol classifies errors: the PaDT release's best-of-N answer is not
the answer padt-eval's headline scores, and its categories would describe another metric.
"""

from __future__ import annotations

from padt_eval.core.errors import DataError
from padt_eval.core.types import Task
from padt_eval.data.instances import load_image_instances
from padt_eval.data.split import SplitReader
from padt_eval.metrics.base import Metric, QueryMetric
from padt_eval.metrics.detection import DetectionMetric
from padt_eval.metrics.errors import ErrorThresholds, QueryErrors


def attach_error_breakdown(metric: Metric, reader: SplitReader, protocol: str, thresholds: ErrorThresholds) -> None:
    if protocol != "standard":
        return
    if isinstance(metric, QueryMetric):
        metric.track_errors(_query_errors(reader, thresholds))
    elif type(metric) is DetectionMetric:
        metric.tide_thresholds = thresholds


def _query_errors(reader: SplitReader, thresholds: ErrorThresholds) -> QueryErrors:
    info = reader.info
    kind = "box" if info.task == Task.REC else "mask"
    if not info.instances_file:
        why = info.instances_note or f"the {info.layout} layout carries no image instances"
        return QueryErrors(kind, thresholds, None, {"available": False, "why": why})
    try:
        image_ids = {s.meta.get("image_id") for s in reader}
        instances = load_image_instances(info.instances_file, image_ids)
    except DataError as exc:
        # A bad instances file costs the breakdown its wrong_object category, never the run.
        return QueryErrors(kind, thresholds, None, {"available": False, "why": f"instances file unusable: {exc}"})
    source = {"available": True, "file": instances.source, "sha256": instances.sha256, "n_images": len(instances.by_image)}
    return QueryErrors(kind, thresholds, instances.get, source)
