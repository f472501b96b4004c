"""Split readers: both RefCOCO layouts, the registry, and refusals of bad input."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest

from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.images import open_rgb
from padt_eval.core.types import Task
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.refer import ReferReader
from padt_eval.data.registry import open_split, split_status
from padt_eval.data.safe_pickle import load_restricted


def _jsonl(root):
    return root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json"


def test_both_layouts_read_to_the_same_samples(synth_root):
    a = PadtRefcocoJsonlReader(_jsonl(synth_root), synth_root / "coco" / "train2014", Task.RES)
    b = ReferReader(
        synth_root / "refcoco" / "refs(unc).p",
        synth_root / "refcoco" / "instances.json",
        "val",
        synth_root / "coco" / "train2014",
        Task.RES,
    )
    sa, sb = list(a), list(b)
    assert len(sa) == len(sb) == len(a) == len(b) > 20
    for x, y in zip(sa, sb):
        assert (x.sample_id, x.expression, x.image) == (y.sample_id, y.expression, y.image)
        assert x.objects[0].mask == y.objects[0].mask
        assert x.objects[0].bbox == pytest.approx(y.objects[0].bbox, abs=1e-9)
    # random access agrees with streaming
    assert b.get(sb[7].sample_id).expression == sb[7].expression
    assert a.get("3").objects[0].mask == sa[3].objects[0].mask
    with pytest.raises(KeyError):
        a.get("99999")


def test_registry_prefers_refer_layout_and_falls_back(synth_root, tmp_path):
    r = open_split("refcoco_val", Task.REC, data_root=synth_root)
    assert r.info.layout == "refer" and r.info.name == "refcoco_val"
    r2 = open_split("refcoco_val", Task.REC, data_root=synth_root, layout="padt-jsonl")
    assert r2.info.layout == "padt-jsonl"
    rows = {row["split"]: row for row in split_status(synth_root)}
    assert rows["refcoco_val"]["found"] and not rows["refcoco_testA"]["found"]


def test_unknown_split_lists_known_names(synth_root):
    with pytest.raises(UsageError) as e:
        open_split("refcoco_tset", Task.REC, data_root=synth_root)
    msg = str(e.value)
    assert "unknown split 'refcoco_tset'" in msg and "refcocog_test" in msg and "refcoco+_testB" in msg


def test_missing_split_lists_every_place_looked(tmp_path):
    with pytest.raises(UsageError) as e:
        open_split("refcocog_val", Task.REC, data_root=tmp_path)
    msg = str(e.value)
    assert "refs(umd).p" in msg and "PaDT-MLLM/RefCOCO/refcocog_val.json" in msg and "RefCOCO/refcocog_val.jsonl" in msg


def test_direct_path_to_split_file(synth_root):
    r = open_split(str(_jsonl(synth_root)), Task.REC, image_root=synth_root / "coco" / "train2014")
    assert r.info.layout == "padt-jsonl" and len(r) > 0


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/padt_eval_pwned",))


def test_hostile_pickle_is_refused_without_running_code(tmp_path):
    p = tmp_path / "refs(unc).p"
    p.write_bytes(pickle.dumps([{"split": "val", "x": _Evil()}]))
    with pytest.raises(DataError) as e:
        load_restricted(p)
    assert "refused to load global" in str(e.value) and "system" in str(e.value) and str(p) in str(e.value)
    assert not (tmp_path / "pwned").exists()
    import os

    assert not os.path.exists("/tmp/padt_eval_pwned")


def test_refs_with_sets_still_load(tmp_path):
    p = tmp_path / "refs.p"
    p.write_bytes(pickle.dumps([{"ids": {1, 2}}], protocol=2))
    assert load_restricted(p) == [{"ids": {1, 2}}]


def test_corrupt_pickle_message(tmp_path):
    p = tmp_path / "refs(unc).p"
    p.write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match="not a readable refs pickle"):
        load_restricted(p)


@pytest.mark.parametrize("bad_path", ["../../etc/passwd", "/etc/passwd", "sub/../../outside.png", "C:\\windows\\x.png"])
def test_image_path_escape_is_refused(synth_root, tmp_path, bad_path):
    lines = _jsonl(synth_root).read_text().splitlines()
    obj = json.loads(lines[2])
    obj["image"] = bad_path
    lines[2] = json.dumps(obj)
    f = tmp_path / "split.json"
    f.write_text("\n".join(lines) + "\n")
    reader = PadtRefcocoJsonlReader(f, synth_root / "coco" / "train2014", Task.REC)
    with pytest.raises(DataError) as e:
        reader.validate()
    assert f"{f}:3" in str(e.value) and repr(bad_path) in str(e.value)
    # streaming and random access refuse it too
    with pytest.raises(DataError, match=f"{f}:3"):
        list(reader)
    with pytest.raises(DataError):
        reader.get("2")


def test_symlink_escape_is_refused(synth_root, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "link.png").symlink_to("/etc/hostname")
    lines = _jsonl(synth_root).read_text().splitlines()
    obj = json.loads(lines[0])
    obj["image"] = "link.png"
    f = tmp_path / "split.json"
    f.write_text(json.dumps(obj) + "\n")
    # the path is checked as text when read, and on the filesystem when opened
    sample = next(iter(PadtRefcocoJsonlReader(f, images, Task.REC)))
    with pytest.raises(DataError, match="resolves to /etc/hostname, outside the image root"):
        open_rgb(sample.image)


def test_malformed_split_line_names_file_and_line(synth_root, tmp_path):
    lines = _jsonl(synth_root).read_text().splitlines()
    lines[4] = lines[4][:-10]
    f = tmp_path / "split.json"
    f.write_text("\n".join(lines) + "\n")
    reader = PadtRefcocoJsonlReader(f, synth_root / "coco" / "train2014", Task.REC)
    with pytest.raises(DataError) as e:
        reader.validate()
    assert f"{f}:5: malformed JSON line" in str(e.value)


def test_bad_box_in_split_names_line(synth_root, tmp_path):
    lines = _jsonl(synth_root).read_text().splitlines()
    obj = json.loads(lines[1])
    obj["objects"][0]["bbox"] = [0.1, 0.2, "x", 0.4]
    lines[1] = json.dumps(obj)
    f = tmp_path / "split.json"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"split.json:2: objects\[0\].bbox must be four finite numbers"):
        PadtRefcocoJsonlReader(f, synth_root / "coco" / "train2014", Task.REC).validate()


def test_duplicate_sent_ids_in_refer_split_are_refused(synth_root, tmp_path):
    ds = tmp_path / "refcoco"
    shutil.copytree(synth_root / "refcoco", ds)
    refs = load_restricted(ds / "refs(unc).p")
    refs[1]["sentences"][0]["sent_id"] = refs[0]["sentences"][0]["sent_id"]
    (ds / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    with pytest.raises(DataError, match="appears 2 times"):
        ReferReader(ds / "refs(unc).p", ds / "instances.json", "val", synth_root / "coco" / "train2014", Task.REC)


def test_lazy_image_errors_name_the_file(synth_root, tmp_path):
    r = PadtRefcocoJsonlReader(_jsonl(synth_root), synth_root / "coco" / "train2014", Task.REC)
    s = next(iter(r))
    assert open_rgb(s.image).size == (s.image.width, s.image.height)
    from padt_eval.core.types import ImageRef

    with pytest.raises(DataError, match="image not found: /nope.png"):
        open_rgb(ImageRef("/nope.png", 3, 3))
    corrupt = tmp_path / "c.png"
    corrupt.write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=f"image cannot be read: {corrupt}"):
        open_rgb(ImageRef(str(corrupt), 3, 3))
