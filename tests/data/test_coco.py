"""COCO readers: official file vs its normalised cache, PaDT's filtering rules on crafted
data, PaDT's COCO JSONL, the registry, and the OpenCV-exact resize behind the patch rule."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from padt_eval.core import rle
from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.types import Task
from padt_eval.data import coco as coco_mod
from padt_eval.data.coco import CocoReader, PadtCocoJsonlReader, padt_eval_box, padt_normalised_box
from padt_eval.data.padt_patches import covered_patches, cv2_resize_linear_u8
from padt_eval.data.registry import open_split, split_status


def _instances(root):
    return root / "coco" / "annotations" / "instances_val2017.json"


def test_official_reader_equals_the_file(coco_root):
    data = json.loads(_instances(coco_root).read_text())
    r = CocoReader(_instances(coco_root), coco_root / "coco" / "val2017")
    samples = list(r)
    assert [s.sample_id for s in samples] == [str(img["id"]) for img in data["images"]] == list(r.sample_ids())
    assert r.info.categories == [(1, "circle"), (2, "square"), (3, "triangle")]
    for s, img in zip(samples, data["images"]):
        anns = [a for a in data["annotations"] if a["image_id"] == img["id"]]
        assert s.task == Task.OVD and s.categories == ["circle", "square", "triangle"]
        assert (s.image.width, s.image.height) == (img["width"], img["height"])
        assert s.image.path.endswith(img["file_name"])
        assert len(s.objects) == len(anns)
        for o, a in zip(s.objects, anns):
            x, y, w, h = a["bbox"]
            assert o.bbox == [x, y, x + w, y + h] and o.category_id == a["category_id"] and o.area == a["area"]
            assert o.mask == rle.from_segmentation(a["segmentation"], img["height"], img["width"])
    assert r.get(samples[3].sample_id).objects[0].mask == samples[3].objects[0].mask


def test_cache_is_built_once(coco_root, monkeypatch):
    CocoReader(_instances(coco_root), coco_root / "coco" / "val2017")

    def boom(*a, **k):
        raise AssertionError("cache rebuilt")

    monkeypatch.setattr(coco_mod, "build_coco_cache", boom)
    assert len(CocoReader(_instances(coco_root), coco_root / "coco" / "val2017")) == 10


def _crafted(tmp_path):
    """224x168 (multiples of 28: the resize is the identity) and a >1288-px image."""
    anns = []

    def add(image_id, cat, bbox, seg=True, crowd=0):
        x, y, w, h = bbox
        a = {"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": bbox, "area": w * h, "iscrowd": crowd}
        if seg:
            a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
        anns.append(a)

    for k in range(51):  # class 1: 51 instances -> dropped from prompt and GT
        add(1, 1, [100 + k % 5, 50, 40, 40])
    for k in range(50):  # class 2: exactly 50 -> kept
        add(1, 2, [10, 10 + k % 3, 60, 60])
    add(2, 3, [2, 2, 5, 5])  # 25 px in one patch: mean 8.1 < 255/28 -> dropped
    add(2, 3, [30, 2, 6, 6])  # 36 px: mean 11.7 -> kept
    add(2, 3, [100, 100, 3, 30], seg=False)  # no segmentation: PaDT rasterises the rounded box; 90 px -> kept
    add(2, 2, [10.4, 20.5, 30.25, 40.7])  # rounding: x 10, y 20 (half to even), w 30, h 41
    add(3, 2, [10, 10, 50, 50])  # image 3 is 1300 px wide: PaDT skips it
    data = {
        "images": [
            {"id": 1, "file_name": "1.png", "width": 224, "height": 168},
            {"id": 2, "file_name": "2.png", "width": 224, "height": 168},
            {"id": 3, "file_name": "3.png", "width": 1300, "height": 168},
        ],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}, {"id": 3, "name": "cup"}],
    }
    p = tmp_path / "instances.json"
    p.write_text(json.dumps(data))
    (tmp_path / "img").mkdir()
    return p


def test_padt_filtered_rules(tmp_path):
    p = _crafted(tmp_path)
    off = {s.sample_id: s for s in CocoReader(p, tmp_path / "img")}
    fil = {s.sample_id: s for s in CocoReader(p, tmp_path / "img", gt="padt-filtered")}
    assert set(off) == {"1", "2", "3"} and set(fil) == {"1", "2"}  # >1288 px skipped
    assert len(off["1"].objects) == 101 and off["1"].categories == ["person", "car", "cup"]
    assert fil["1"].categories == ["car", "cup"] and {o.category_id for o in fil["1"].objects} == {2}
    assert len(fil["1"].objects) == 50
    kept = fil["2"].objects
    # PaDT's order: class by class in id order (car 2, then cup 3)
    assert [o.bbox for o in kept] == [[10.0, 20.0, 40.0, 61.0], [30.0, 2.0, 36.0, 8.0], [100.0, 100.0, 103.0, 130.0]]
    assert kept[1].area == 36 and kept[1].mask is not None and kept[2].mask is None
    r = CocoReader(p, tmp_path / "img", gt="padt-filtered")
    assert r.stats["padt_dropped_small_objects"] == 1 and r.stats["padt_dropped_crowded_class_objects"] == 51
    assert r.stats["padt_skipped_large_images"] == 1 and "PaDT-filtered GT" in r.info.notes[0]


def test_padt_box_rounding_matches_their_arithmetic():
    # eval_coco.py: round(x1n*W), round(y1n*H), round((x2n-x1n)*W), round((y2n-y1n)*H)
    nb = padt_normalised_box([10.4, 20.5, 30.25, 40.7], 224, 168)
    assert padt_eval_box(nb, 224, 168) == [10.0, 20.0, 40.0, 61.0]
    assert padt_eval_box([0.5 / 100, 0, 0.5, 0.5], 100, 100) == [0.0, 0.0, 50.0, 50.0]  # round(0.5) == 0


def test_padt_coco_jsonl_reader(tmp_path):
    p = _crafted(tmp_path)
    fil = CocoReader(p, tmp_path / "img", gt="padt-filtered").get("2")
    # the line process_coco.py would write for image 2
    data = json.loads(p.read_text())
    objs = []
    for a in data["annotations"]:
        if a["image_id"] == 2 and a["id"] != 102:  # 102: the 5x5 object PaDT drops
            o = {
                "bbox": padt_normalised_box(a["bbox"], 224, 168),
                "iscrowd": 0,
                "area": a["area"],
                "label": {2: "car", 3: "cup"}[a["category_id"]],
                "patches": [],
            }
            if "segmentation" in a:
                o["rle"] = rle.from_segmentation(a["segmentation"], 168, 224)
            objs.append(o)
    objs.sort(key=lambda o: o["label"] != "car")  # car (id 2) before cup (id 3)
    line = {
        "id": 2,
        "image": "2.png",
        "conversations": [
            {
                "from": "human",
                "value": 'Please carefully check the image and detect the following objects: ["person", "car", "cup"].',
            }
        ],
        "answer_template": "...",
        "objects": objs,
        "task": "ovd",
    }
    f = tmp_path / "padt.json"
    f.write_text(json.dumps(line) + "\n" + json.dumps({**line, "id": 9, "conversations": [{"value": "no list"}]}) + "\n")
    with pytest.raises(DataError, match=r"padt.json:2: conversations\[0\].value holds no JSON list"):
        PadtCocoJsonlReader(f, tmp_path / "img")
    f.write_text(json.dumps(line) + "\n")
    s = PadtCocoJsonlReader(f, tmp_path / "img", categories=[(1, "person"), (2, "car"), (3, "cup")]).get("2")
    assert s.categories == ["person", "car", "cup"] and (s.image.width, s.image.height) == (224, 168)
    assert sorted(o.bbox for o in s.objects) == sorted(o.bbox for o in fil.objects)
    assert sorted(o.category_id for o in s.objects) == sorted(o.category_id for o in fil.objects)


def test_registry_finds_coco_and_explains_what_is_missing(coco_root, tmp_path):
    r = open_split("coco_val2017", Task.OVD, data_root=coco_root)
    assert r.info.layout == "coco" and r.info.name == "coco_val2017" and len(r) == 10
    rf = open_split("coco_val2017", Task.OVD, data_root=coco_root, gt="padt-filtered")
    assert rf.info.name == "coco_val2017_padt_filtered"
    with pytest.raises(UsageError) as e:
        open_split("coco_val2017", Task.OVD, data_root=tmp_path)
    msg = str(e.value)
    for place in ("coco/annotations/instances_val2017.json", "annotations/instances_val2017.json", "coco2017/annotations"):
        assert place in msg
    (tmp_path / "PaDT-MLLM" / "COCO").mkdir(parents=True)
    (tmp_path / "PaDT-MLLM" / "COCO" / "instances_val2017.json").write_text("{}\n")
    with pytest.raises(UsageError, match="filtered GT only"):
        open_split("coco_val2017", Task.OVD, data_root=tmp_path)
    with pytest.raises(UsageError, match="unknown OVD split 'coco_val'"):
        open_split("coco_val", Task.OVD, data_root=coco_root)
    rows = {row["split"]: row for row in split_status(coco_root)}
    assert rows["coco_val2017"]["found"] and rows["ric_val"]["found"] and not rows["refcoco_val"]["found"]


# sha256[:16] of cv2.resize(mask * 255, (round(w/28)*28, round(h/28)*28)) for `_golden_masks()`,
# computed with opencv-python-headless 4.10.0 and 5.0.0 (identical).
CV2_GOLDEN = [
    "034d9903e1b4297d",
    "8dd6bc8680d8b437",
    "2dbdd7fd35e110ed",
    "c00f05b76509eb2f",
    "056e8dca4a37f7c6",
    "c20845c953278fe8",
    "10d04b9cda153008",
    "bb518da70f9f1fe2",
    "f0734d0213dc5fda",
    "f6ffddb7b74780d3",
    "5a06e785cff6919a",
    "d83133738e692a63",
    "eb30d8523724af91",
    "4c6f52f12784bfad",
    "8c60902abaf99cb5",
    "d3213931017be933",
    "268efb988a782805",
    "5c050f6767f50c61",
    "3ee9b9e534804a91",
    "65acb974628eea5d",
    "85cac0d95cef5516",
    "4d21b00f1dd9d6e0",
    "3ac1a4f52d1ae7ac",
    "5a83eaa500dfc948",
]


def _golden_masks():
    rng = np.random.default_rng(2024)
    out = []
    for _ in range(24):
        h, w = int(rng.integers(15, 700)), int(rng.integers(15, 700))
        yy, xx = np.mgrid[0:h, 0:w]
        m = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.3, h / 3 + 1), rng.uniform(0.3, w / 3 + 1)
            m[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
        out.append(m)
    return out


def test_resize_equals_opencv_golden():
    for m, want in zip(_golden_masks(), CV2_GOLDEN):
        h, w = m.shape
        got = cv2_resize_linear_u8(m * 255, int(round(w / 28) * 28), int(round(h / 28) * 28))
        assert hashlib.sha256(np.ascontiguousarray(got).tobytes()).hexdigest()[:16] == want


def test_resize_equals_installed_opencv():
    cv2 = pytest.importorskip("cv2")
    for m in _golden_masks()[:8]:
        h, w = m.shape
        for dw, dh in ((int(round(w / 28) * 28), int(round(h / 28) * 28)), (w + 7, max(1, h - 5))):
            assert np.array_equal(cv2_resize_linear_u8(m * 255, dw, dh), cv2.resize(m * 255, (dw, dh)))


def test_patch_rule_threshold():
    m = np.zeros((56, 56), np.uint8)
    m[0:5, 0:5] = 1
    assert not covered_patches(m).any()
    m[0:6, 0:6] = 1
    assert covered_patches(m).tolist() == [[True, False], [False, False]]
