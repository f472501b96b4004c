"""Image instances for the error breakdown: which file, which images, crowds, caching, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from padt_eval.core import rle as rlemod
from padt_eval.core.errors import DataError
from padt_eval.core.types import Task
from padt_eval.data.instances import find_train2014_instances, load_image_instances
from padt_eval.data.split import SplitInfo
from padt_eval.metrics.errors import ErrorThresholds
from padt_eval.tasks.error_breakdown import query_errors


def _write(path, anns, images=({"id": 1, "width": 20, "height": 10}, {"id": 2, "width": 20, "height": 10})):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": list(images), "annotations": anns, "categories": []}))
    return path


ANNS = [
    {"id": 5, "image_id": 1, "bbox": [0, 0, 4, 4], "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]], "iscrowd": 0, "category_id": 1},
    {
        "id": 6,
        "image_id": 1,
        "bbox": [10, 0, 5, 5],
        "segmentation": [[10, 0, 15, 0, 15, 5, 10, 5]],
        "iscrowd": 0,
        "category_id": 2,
    },
    {
        "id": 7,
        "image_id": 1,
        "bbox": [0, 0, 20, 10],
        "segmentation": {"size": [10, 20], "counts": [0, 200]},
        "iscrowd": 1,
        "category_id": 1,
    },
    {"id": 8, "image_id": 2, "bbox": [0, 0, 2, 2], "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]], "iscrowd": 0, "category_id": 1},
]


def test_keeps_only_wanted_images_and_no_crowds(tmp_path):
    inst = load_image_instances(_write(tmp_path / "i.json", ANNS), [1, "1"])
    assert set(inst.by_image) == {1}
    got = inst.get(1)
    assert [i.ann_id for i in got] == [5, 6]
    assert got[1].bbox == [10.0, 0.0, 15.0, 5.0]
    # the mask is the polygon rasterised at the image size (pycocotools' own rule)
    want = rlemod.decode(rlemod.from_polygons([[10, 0, 15, 0, 15, 5, 10, 5]], 10, 20))
    assert np.array_equal(rlemod.decode(got[1].mask), want)
    assert inst.get(2) is None and inst.get(None) is None


def test_cache_is_used_and_keyed_by_content(tmp_path):
    path = _write(tmp_path / "i.json", ANNS)
    first = load_image_instances(path, [1, 2])
    again = load_image_instances(path, [1, 2])
    assert again.by_image.keys() == first.by_image.keys() and again.sha256 == first.sha256
    _write(path, ANNS[:1])  # new content: a new cache key, not the stale cache
    assert [i.ann_id for i in load_image_instances(path, [1, 2]).get(1)] == [5]


def test_malformed_file_names_itself(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="bad.json"):
        load_image_instances(bad, [1])
    broken = _write(tmp_path / "broken.json", [{"id": 1, "image_id": 1}])
    with pytest.raises(DataError, match=r"annotations\[0\]: missing or bad .segmentation."):
        load_image_instances(broken, [1])


class _NoSamples:
    def __init__(self, info: SplitInfo) -> None:
        self.info = info

    def __iter__(self):
        return iter(())

    def image_ids(self):
        return set()


def test_a_bad_instances_file_costs_the_breakdown_not_the_run(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    info = SplitInfo("x", "refer", [], "", Task.REC, instances_file=str(tmp_path / "bad.json"))
    q = query_errors(_NoSamples(info), ErrorThresholds())
    s = q.summary()
    assert s["wrong_object_available"] is False and "bad.json" in s["instances"]["why"]


def test_train2014_file_is_found_next_to_the_images_or_under_the_data_root(tmp_path):
    images = tmp_path / "data" / "coco" / "train2014"
    images.mkdir(parents=True)
    assert find_train2014_instances(tmp_path / "data", images) is None
    p = _write(tmp_path / "data" / "coco" / "annotations" / "instances_train2014.json", ANNS)
    assert find_train2014_instances(None, images) == p
    assert find_train2014_instances(tmp_path / "data", None) == p
