"""The RefCOCO-M reader: the release's parquet layout, one sample per (instance, sentence);
with RefCOCO's refs beside it, RefCOCO's sentence ids, so runs pair with refcoco_val."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")  # a dependency since RefCOCO-M; absent from an older environment
pq = pytest.importorskip("pyarrow.parquet")

from padt_eval.core import rle as rlemod  # noqa: E402
from padt_eval.core.errors import DataError  # noqa: E402
from padt_eval.core.types import Task  # noqa: E402
from padt_eval.data.registry import open_split, split_status  # noqa: E402
from padt_eval.data.split_table import SPLITS  # noqa: E402
from padt_eval.demo.seg_benchmarks import write_refcoco_m  # noqa: E402
from padt_eval.demo.synthetic import iter_sentences, make_world, write_refer  # noqa: E402

DATA = "refcoco-m/data"
FILES = ("validation-00000-of-00002.parquet", "validation-00001-of-00002.parquet")


def _write(root: Path, world: list, split_at: int = 4) -> None:
    write_refcoco_m(world[:split_at], root / DATA / FILES[0])
    write_refcoco_m(world[split_at:], root / DATA / FILES[1], 1 + sum(len(i.objects) for i in world[:split_at]))


def _kept(world: list) -> dict[int, tuple]:
    """annotation id -> (object, the eroded mask) of every instance the writer keeps."""
    out, ann_id = {}, 0
    for img in world:
        for o in img.objects:
            ann_id += 1
            if ann_id % 4:
                m = rlemod.decode(o.mask).astype(bool)
                inner = m.copy()
                inner[1:] &= m[:-1]
                inner[:-1] &= m[1:]
                inner[:, 1:] &= m[:, :-1]
                inner[:, :-1] &= m[:, 1:]
                out[ann_id] = (o, inner)
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("rcm")
    world = make_world(7, seed=11)
    _write(root, world)
    (root / "coco" / "train2014").mkdir(parents=True)
    return root, world


def test_written_file_has_the_release_columns(root):
    schema = pq.read_schema(root[0] / DATA / FILES[0])
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
    kept = _kept(world)
    want = {f"{a}:{k}": (a, s) for a, (o, _) in kept.items() for k, s in enumerate(o.expressions)}
    assert sorted(reader.sample_ids()) == sorted(want)
    for sample in reader:
        ann_id, sentence = want[sample.sample_id]
        _, mask = kept[ann_id]
        assert sample.expression == sentence and sample.meta["ann_id"] == ann_id
        assert (rlemod.decode(sample.objects[0].mask).astype(bool) == mask).all()
        ys, xs = np.nonzero(mask)
        assert sample.objects[0].bbox == pytest.approx([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], abs=1e-3)
    assert reader.info.layout == "refcoco-m" and len(reader.info.files) == 2


def test_with_refcoco_refs_samples_take_refcoco_sentence_ids(tmp_path):
    world = make_world(5, seed=13)
    _write(tmp_path, world, split_at=2)
    write_refer(world, tmp_path / "refcoco")
    m = open_split("refcoco_m_val", Task.RES, data_root=tmp_path, require_images=False)
    original = open_split("refcoco_val", Task.RES, data_root=tmp_path, require_images=False)
    assert m.info.layout == "refcoco-m+refer" and m.info.files[-1].endswith("refs(unc).p")
    kept = _kept(world)
    ann_of = {}  # sent_id -> annotation id, numbered as write_refer numbers them
    first = {}
    for sent_id, img, j, _expr in iter_sentences(world):
        key = (img.image_id, j)
        first.setdefault(key, len(first) + 1)
        ann_of[str(sent_id)] = first[key]
    assert sorted(m.sample_ids()) == sorted(s for s, a in ann_of.items() if a in kept)
    assert set(m.sample_ids()) < set(original.sample_ids())  # a cleaner subset, paired by id
    for s in m:
        assert original.get(s.sample_id).expression == s.expression and s.meta["refcoco_sent_id"] == int(s.sample_id)


def test_status_counts_sentences_and_names_what_it_cleans(root):
    data_root, world = root
    rows = {r["split"]: r for r in split_status(data_root)}
    n = sum(len(o.expressions) for o, _ in _kept(world).values())
    assert rows["refcoco_m_val"]["found"] and rows["refcoco_m_val"]["n_samples"] == n
    assert SPLITS["refcoco_m_val"].cleaner_of == "refcoco_val" and "refcoco_val" in SPLITS


def test_duplicate_instance_ids_across_files_are_refused(tmp_path):
    world = make_world(2, seed=1)
    write_refcoco_m(world, tmp_path / DATA / FILES[0])
    write_refcoco_m(world, tmp_path / DATA / FILES[1])
    with pytest.raises(DataError, match="appears twice"):
        open_split("refcoco_m_val", Task.RES, data_root=tmp_path, require_images=False)


def test_a_file_without_the_columns_is_named(tmp_path):
    bad = tmp_path / DATA / FILES[0]
    bad.parent.mkdir(parents=True)
    pq.write_table(pa.table({"image_id": [1]}), bad)
    pq.write_table(pa.table({"image_id": [2]}), bad.with_name(FILES[1]))
    with pytest.raises(DataError, match="validation-0000"):
        open_split("refcoco_m_val", Task.RES, data_root=tmp_path, require_images=False)
