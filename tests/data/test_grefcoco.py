"""The gRefCOCO reader (grefs(unc).json + instances.json): 0/1/many targets, splits, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.types import Task
from padt_eval.data.readers.grefcoco import GrefcocoReader
from padt_eval.data.registry import open_split, split_status
from padt_eval.demo.grefcoco import split_of, write_grefcoco
from padt_eval.demo.synthetic import make_world


@pytest.fixture(scope="module")
def gref_root(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("gref")
    world = make_world(9, seed=3)
    write_grefcoco(world, root / "grefcoco")
    (root / "coco" / "train2014").mkdir(parents=True)
    return root, world


def _refs(root: Path) -> list[dict]:
    return json.loads((root / "grefcoco" / "grefs(unc).json").read_text())


def test_samples_carry_every_target_and_none_for_no_target(gref_root):
    root, world = gref_root
    reader = open_split("grefcoco_val", Task.GREC, data_root=root, require_images=False)
    refs = [r for r in _refs(root) if r["split"] == "val"]
    assert len(reader) == sum(len(r["sentences"]) for r in refs)
    anns = {a["id"]: a for a in json.loads((root / "grefcoco" / "instances.json").read_text())["annotations"]}
    by_sent = {str(s["sent_id"]): r for r in refs for s in r["sentences"]}
    kinds = set()
    for sample in reader:
        ref = by_sent[sample.sample_id]
        want = [] if ref["ann_id"] == [-1] else ref["ann_id"]
        assert sample.meta["no_target"] == (not want)
        x_y_w_h = [anns[a]["bbox"] for a in want]
        assert [o.bbox for o in sample.objects] == [[x, y, x + w, y + h] for x, y, w, h in x_y_w_h]
        assert all(o.mask is not None for o in sample.objects)
        kinds.add(min(len(want), 2))
    assert kinds == {0, 1, 2}  # no-target, single and multi-target samples are all there
    assert {split_of(i.image_id) for i in world if i.image_id in {s.meta["image_id"] for s in reader}} == {"val"}


def test_the_three_splits_partition_the_file_and_status_counts_them(gref_root):
    root, _ = gref_root
    sizes = {
        s: len(open_split(f"grefcoco_{s}", Task.GRES, data_root=root, require_images=False)) for s in ("val", "testA", "testB")
    }
    assert sum(sizes.values()) == sum(len(r["sentences"]) for r in _refs(root))
    rows = {r["split"]: r for r in split_status(root)}
    assert {s: rows[f"grefcoco_{s}"]["n_samples"] for s in sizes} == sizes
    assert all(rows[f"grefcoco_{s}"]["found"] and rows[f"grefcoco_{s}"]["layout"] == "grefcoco" for s in sizes)


def test_a_grefs_file_given_by_path_reads_every_split(gref_root):
    root, _ = gref_root
    reader = open_split(str(root / "grefcoco" / "grefs(unc).json"), Task.GREC, data_root=root, require_images=False)
    assert len(reader) == sum(len(r["sentences"]) for r in _refs(root))


def _write(tmp_path: Path, refs: list[dict], instances: dict) -> tuple[Path, Path]:
    d = tmp_path / "grefcoco"
    d.mkdir(exist_ok=True)
    (d / "grefs(unc).json").write_text(json.dumps(refs))
    (d / "instances.json").write_text(json.dumps(instances))
    return d / "grefs(unc).json", d / "instances.json"


INSTANCES = {
    "images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 10}],
    "annotations": [{"id": 7, "image_id": 1, "bbox": [1, 1, 4, 4], "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]], "iscrowd": 0}],
}


def _ref(ann_id, **extra) -> dict:
    return {"ref_id": 0, "image_id": 1, "split": "val", "ann_id": ann_id, "sentences": [{"sent_id": 3, "sent": "x"}], **extra}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (_ref([-1, 7]), "mixes the no-target id -1"),
        (_ref([-1], no_target=False), "no_target is False"),
        (_ref([7], no_target=True), "no_target is True"),
        (_ref([8]), "id 8 is not in"),
        (_ref("seven"), "ann_id must be"),
    ],
)
def test_a_bad_ref_is_refused_naming_its_position(tmp_path, ref, message):
    refs, instances = _write(tmp_path, [ref], INSTANCES)
    with pytest.raises(DataError, match=message) as exc:
        GrefcocoReader(refs, instances, "val", tmp_path, Task.GREC)
    assert "ref #0" in str(exc.value)


def test_a_bare_int_ann_id_and_a_matching_flag_are_read(tmp_path):
    refs, instances = _write(tmp_path, [_ref(7, no_target=False)], INSTANCES)
    [sample] = list(GrefcocoReader(refs, instances, "val", tmp_path, Task.GRES))
    assert sample.sample_id == "3" and [o.bbox for o in sample.objects] == [[1.0, 1.0, 5.0, 5.0]]


def test_an_unknown_split_name_suggests_the_grefcoco_ones(tmp_path):
    with pytest.raises(UsageError, match="grefcoco_val"):
        open_split("grefcoco_vall", Task.GREC, data_root=tmp_path, require_images=False)


def test_data_status_lists_grefcoco_with_its_three_splits(gref_root):
    from padt_eval.fetch import status

    root, _ = gref_root
    [row] = [r for r in status(root) if r.dataset == "grefcoco"]
    assert row.state == "present" and "3/3 splits" in row.contents
