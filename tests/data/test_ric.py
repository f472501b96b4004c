"""The RIC reader: captions grouped per image, references cleaned, objects de-duplicated,
errors with file and line."""

from __future__ import annotations

import json

import pytest

from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.data.ric import RicJsonlReader
from padt_eval.demo.synthetic import as_val2017, make_world, ric_captions


def _ric(root):
    return root / "PaDT-MLLM" / "ReferringImageCaptioning" / "ric_instances_val2017.json"


def test_one_sample_per_image_with_all_captions(coco_root):
    r = open_split("ric_val", Task.RIC, data_root=coco_root)
    world = as_val2017(make_world(10, seed=9, first_image_id=500))
    assert len(r) == 10 and list(r.sample_ids()) == [str(i.image_id) for i in world]
    for s, img in zip(r, world):
        assert s.task == Task.RIC and s.references == [plain for _, plain, _ in ric_captions(img)]
        assert len(s.objects) == len(img.objects)  # caption 1 names every object; 2 and 3 repeat some
        got = sorted(tuple(round(v, 6) for v in o.bbox) for o in s.objects)
        want = sorted(
            tuple(
                round(v, 6)
                for v in (o.bbox_xywh[0], o.bbox_xywh[1], o.bbox_xywh[0] + o.bbox_xywh[2], o.bbox_xywh[1] + o.bbox_xywh[3])
            )
            for o in img.objects
        )
        assert got == want
        assert {o.mask["counts"] for o in s.objects} == {o.mask["counts"] for o in img.objects}
        assert (s.image.width, s.image.height) == (img.width, img.height)


def test_interleaved_lines_are_grouped(coco_root, tmp_path):
    lines = _ric(coco_root).read_text().splitlines()
    mixed = lines[0::2] + lines[1::2]  # captions of one image no longer adjacent
    f = tmp_path / "ric.json"
    f.write_text("\n".join(mixed) + "\n")
    a = {s.sample_id: s for s in RicJsonlReader(f, coco_root / "coco" / "val2017")}
    b = {s.sample_id: s for s in open_split("ric_val", Task.RIC, data_root=coco_root)}
    assert a.keys() == b.keys()
    for k in a:
        assert sorted(a[k].references) == sorted(b[k].references) and len(a[k].objects) == len(b[k].objects)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda o: o.pop("answer_template"), r"'answer_template' \(the caption\) must be a string"),
        (lambda o: o.update(objects=[{"bbox": [0, 0, 1]}]), r"objects\[0\].bbox must be four finite numbers"),
        (lambda o: o.update(image="other.png"), "differs from"),
    ],
)
def test_bad_lines_name_file_and_line(coco_root, tmp_path, mutate, message):
    lines = _ric(coco_root).read_text().splitlines()
    obj = json.loads(lines[1])
    mutate(obj)
    lines[1] = json.dumps(obj)
    f = tmp_path / "ric.json"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as e:
        RicJsonlReader(f, coco_root / "coco" / "val2017")
    assert f"{f}:2" in str(e.value)


def test_malformed_json_and_unknown_split(coco_root, tmp_path):
    f = tmp_path / "ric.json"
    f.write_text(_ric(coco_root).read_text() + "{oops\n")
    with pytest.raises(DataError, match=r"ric.json:31: malformed JSON line"):
        RicJsonlReader(f, coco_root / "coco" / "val2017")
    with pytest.raises(UsageError) as e:
        open_split("ric_val", Task.RIC, data_root=tmp_path)
    assert "PaDT-MLLM/ReferringImageCaptioning/ric_instances_val2017.json" in str(e.value)
