"""The ReasonSeg reader: LISA's layout, its painting order, queries and subsets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from padt_eval.core import rle as rlemod
from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.types import Task
from padt_eval.data.readers.reasonseg import IGNORE, TARGET, label_map
from padt_eval.data.registry import open_split, reopen_from_manifest, split_status
from padt_eval.demo.seg_benchmarks import write_reasonseg
from padt_eval.demo.synthetic import make_world
from padt_eval.tasks.metric import build_metric

VAL = "reason_seg/ReasonSeg/val"


def _square(x0, y0, x1, y1, label):
    return {"label": label, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}


def test_larger_shapes_are_painted_first_and_flags_skipped():
    shapes = [
        _square(2, 2, 5, 5, "target"),  # small target inside a large ignore region: painted last, stays 1
        _square(0, 0, 9, 9, "Ignore"),
        _square(0, 0, 9, 9, "flag"),  # would cover everything if painted
    ]
    labels = label_map(shapes, 12, 12, "case")
    assert (labels[2:6, 2:6] == TARGET).all()
    assert (labels[0:10, 0:10] != 0).all() and (labels[0:10, 0:10][labels[0:10, 0:10] != TARGET] == IGNORE).all()
    assert (labels[10:, :] == 0).all() and int((labels == TARGET).sum()) == 16


@pytest.fixture
def data_root(tmp_path) -> Path:
    world = make_world(8, seed=5)
    write_reasonseg(world[:6], tmp_path / VAL)
    write_reasonseg(world[6:], tmp_path / "reason_seg/ReasonSeg/test")
    return tmp_path


def test_one_sample_per_query_and_the_first_is_the_stem(data_root):
    reader = open_split("reasonseg_val", Task.RES, data_root=data_root)
    by_image: dict[str, list] = {}
    for s in reader:
        by_image.setdefault(s.meta["image_file"], []).append(s)
    for image, samples in by_image.items():
        anno = json.loads((data_root / VAL / image).with_suffix(".json").read_text())
        assert [s.expression for s in samples] == anno["text"]
        assert [s.sample_id for s in samples] == [Path(image).stem] + [f"{Path(image).stem}#{k}" for k in range(1, len(samples))]
        assert all(s.meta["is_sentence"] == anno["is_sentence"] for s in samples)
        w, h = Image.open(data_root / VAL / image).size
        assert (samples[0].image.width, samples[0].image.height) == (w, h)
    assert any(len(v) > 1 for v in by_image.values()) and any(s.meta["ignore_mask"] for s in reader)


def test_short_and_long_subsets_partition_test(data_root):
    full = {s.sample_id for s in open_split("reasonseg_test", Task.RES, data_root=data_root)}
    short = open_split("reasonseg_test_short", Task.RES, data_root=data_root)
    long_ = open_split("reasonseg_test_long", Task.RES, data_root=data_root)
    assert {s.sample_id for s in short} | {s.sample_id for s in long_} == full
    assert not any(s.meta["is_sentence"] for s in short) and all(s.meta["is_sentence"] for s in long_)
    assert len(short) == len(list(short)) and len(short) + len(long_) == len(full)


def test_status_finds_the_folders_and_reopens_from_a_manifest(data_root):
    rows = {r["split"]: r for r in split_status(data_root)}
    reader = open_split("reasonseg_val", Task.RES, data_root=data_root)
    assert rows["reasonseg_val"]["found"] and rows["reasonseg_val"]["n_samples"] == len(reader)
    assert len(reader) > len(list((data_root / VAL).glob("*.jpg")))  # queries are counted, not images
    assert rows["reasonseg_test_short"]["n_samples"] == len(open_split("reasonseg_test_short", Task.RES, data_root=data_root))
    manifest_split = {
        "name": "reasonseg_val",
        "layout": "reasonseg",
        "files": reader.info.files,
        "image_root": reader.info.image_root,
    }
    again, why = reopen_from_manifest(manifest_split, "res", "reasonseg_val", "official")
    assert why == "" and list(again.sample_ids()) == list(reader.sample_ids())


def test_an_image_without_its_json_is_named(data_root):
    folder = data_root / VAL
    victim = sorted(folder.glob("*.json"))[0]
    victim.unlink()
    with pytest.raises(DataError, match=victim.name):
        open_split("reasonseg_val", Task.RES, data_root=data_root)


def test_official_protocol_needs_a_reasonseg_split(data_root):
    reader = open_split("reasonseg_val", Task.RES, data_root=data_root)
    assert type(build_metric(Task.RES, "official", reader)).__name__ == "ReasonSegMetric"
    assert type(build_metric(Task.RES, "standard", reader)).__name__ == "ReasonSegMetric"
    with pytest.raises(UsageError, match="padt-release"):
        build_metric(Task.RES, "padt-release", reader)
    with pytest.raises(UsageError, match="grec, gres and the splits of a benchmark with its own scorer"):
        build_metric(Task.REC, "official")


def test_target_mask_is_the_painted_target(data_root):
    s = next(iter(open_split("reasonseg_val", Task.RES, data_root=data_root)))
    anno = json.loads((data_root / VAL / s.meta["annotation"]).read_text())
    labels = label_map(anno["shapes"], s.image.height, s.image.width, "x")
    assert (rlemod.decode(s.objects[0].mask).astype(bool) == (labels == TARGET)).all()
    assert np.asarray(s.objects[0].bbox).tolist() == rlemod.bbox_xyxy(s.objects[0].mask)


def test_a_protocol_the_split_cannot_score_stops_a_model_run_before_it_starts(data_root, tmp_path):
    from padt_eval import api
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions, ScoringOptions

    out = tmp_path / "run"
    with pytest.raises(UsageError, match="padt-release"):
        api.run_model(
            Task.RES,
            "reasonseg_val",
            ModelOptions("colour-finder", "colour-finder", {}),
            data=DataOptions(data_root=data_root),
            run=RunOptions(nproc=1, device="cpu", batch_size=4, loader_workers=0),
            scoring=ScoringOptions("padt-release"),
            output=OutputOptions(out, "colour-finder"),
        )
    assert not out.exists()
