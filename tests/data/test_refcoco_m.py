"""The RefCOCO-M reader: the release's parquet layout, one sample per (instance, sentence)."""

from __future__ import annotations

from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")  # a dependency since RefCOCO-M; absent from an older environment
pq = pytest.importorskip("pyarrow.parquet")

from padt_eval.core import rle as rlemod  # noqa: E402
from padt_eval.core.errors import DataError  # noqa: E402
from padt_eval.core.types import Task  # noqa: E402
from padt_eval.data.registry import open_split, split_status  # noqa: E402
from padt_eval.data.split_table import CLEANER_VERSION_OF, SPLITS  # noqa: E402
from padt_eval.demo.seg_benchmarks import write_refcoco_m  # noqa: E402
from padt_eval.demo.synthetic import make_world  # noqa: E402

DATA = "refcoco-m/data"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("rcm")
    world_a, world_b = make_world(4, seed=11), make_world(3, seed=12, first_image_id=50)
    write_refcoco_m(world_a, root / DATA / "validation-00000-of-00002.parquet")
    write_refcoco_m(world_b, root / DATA / "validation-00001-of-00002.parquet")
    (root / "coco" / "train2014").mkdir(parents=True)
    return root, world_a + world_b


def test_written_file_has_the_release_columns(root):
    schema = pq.read_schema(root[0] / DATA / "validation-00000-of-00002.parquet")
    assert schema.names == ["image", "image_id", "file_name", "samples"]
    inst = schema.field("samples").type.value_type
    assert [inst.field(i).name for i in range(inst.num_fields)] == [
        "id",
        "image_id",
        "category",
        "supercategory",
        "label",
        "sentences",
        "bbox",
        "mask",
    ]


@pytest.mark.parametrize("task", [Task.RES, Task.REC])
def test_one_sample_per_sentence_with_the_instance_mask_and_box(root, task):
    data_root, world = root
    reader = open_split("refcoco_m_val", task, data_root=data_root, require_images=False)
    want = {
        (img.image_id * 100 + j, k): (o, s)
        for img in world
        for j, o in enumerate(img.objects)
        for k, s in enumerate(o.expressions)
    }
    assert sorted(reader.sample_ids()) == sorted(f"{a}:{k}" for a, k in want)
    for sample in reader:
        a, k = (int(v) for v in sample.sample_id.split(":"))
        obj, sentence = want[(a, k)]
        assert sample.expression == sentence
        x, y, w, h = obj.bbox_xywh
        assert sample.objects[0].bbox == pytest.approx([x, y, x + w, y + h], abs=1e-3)  # float32 in the file
        assert rlemod.area(sample.objects[0].mask) == obj.area
        assert sample.meta["ann_id"] == a and sample.meta["image_file"].endswith(".png")
    assert reader.info.layout == "refcoco-m" and len(reader.info.files) == 2


def test_status_counts_sentences_and_names_what_it_cleans(root):
    data_root, world = root
    rows = {r["split"]: r for r in split_status(data_root)}
    assert rows["refcoco_m_val"]["found"] and rows["refcoco_m_val"]["n_samples"] == sum(
        len(o.expressions) for i in world for o in i.objects
    )
    assert CLEANER_VERSION_OF["refcoco_m_val"] in SPLITS


def test_duplicate_instance_ids_across_files_are_refused(tmp_path):
    world = make_world(2, seed=1)
    write_refcoco_m(world, tmp_path / DATA / "validation-00000-of-00002.parquet")
    write_refcoco_m(world, tmp_path / DATA / "validation-00001-of-00002.parquet")
    with pytest.raises(DataError, match="appears twice"):
        open_split("refcoco_m_val", Task.RES, data_root=tmp_path, require_images=False)


def test_a_file_without_the_columns_is_named(tmp_path):
    bad = tmp_path / DATA / "validation-00000-of-00002.parquet"
    bad.parent.mkdir(parents=True)
    pq.write_table(pa.table({"image_id": [1]}), bad)
    pq.write_table(pa.table({"image_id": [2]}), bad.with_name("validation-00001-of-00002.parquet"))
    with pytest.raises(DataError, match="validation-0000"):
        open_split("refcoco_m_val", Task.RES, data_root=tmp_path, require_images=False)
