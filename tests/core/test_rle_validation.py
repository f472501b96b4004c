"""RLE validation before any pycocotools call: bounded work on any input, and agreement
with pycocotools (its encoder is the independent source of valid RLEs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as cocomask

from padt_eval.core import rle
from padt_eval.core.errors import DataError
from padt_eval.core.types import Task
from padt_eval.scoring.predictions_file import PredictionsFile

# The inputs of the issue that sent pycocotools' merge into an endless loop.
HANGING = [
    {"size": [208, 304], "counts": "0PdUa9"},  # runs summing to 10**7 on a 63,232-pixel image
    {"size": [208, 304], "counts": "!!!!~~~~"},  # not the RLE alphabet at all
]

sizes = st.tuples(st.integers(0, 300), st.integers(0, 300))


@pytest.mark.timeout(60)  # the hang detector: a validator that loops fails here
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=sizes, counts=st.one_of(st.text(max_size=200), st.text(alphabet=[chr(c) for c in range(48, 112)], max_size=200)))
def test_any_counts_string_is_judged_and_accepted_ones_are_what_pycocotools_reads(size, counts):
    r = {"size": list(size), "counts": counts}
    why = rle.problem(r)
    if why is None:
        # Safe to hand to pycocotools now; it must see the same mask our decoder saw.
        runs = rle._string_runs(counts)
        assert int(runs.sum()) == size[0] * size[1]
        assert rle.area(r) == int(runs[1::2].sum())
        assert rle.decode(r).shape == size
    else:
        assert isinstance(why, str) and why


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(
    size=sizes, counts=st.lists(st.one_of(st.integers(-5, 10**6), st.floats(), st.text(max_size=3), st.booleans()), max_size=50)
)
def test_any_uncompressed_counts_are_judged(size, counts):
    r = {"size": list(size), "counts": counts}
    why = rle.problem(r)
    ok = all(type(v) is int and v >= 0 for v in counts) and sum(v for v in counts if type(v) is int) == size[0] * size[1]
    assert (why is None) == ok
    if ok:
        # pycocotools' own reading of the same runs gives the same area
        assert rle.area(r) == sum(counts[1::2])


@pytest.mark.timeout(60)
@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 80), w=st.integers(1, 80), seed=st.integers(0, 2**32 - 1), fill=st.floats(0, 1))
def test_pycocotools_encodings_are_accepted_and_corruptions_rejected(h, w, seed, fill):
    mask = (np.random.default_rng(seed).random((h, w)) < fill).astype(np.uint8)
    encoded = cocomask.encode(np.asfortranarray(mask))
    r = {"size": [h, w], "counts": encoded["counts"].decode()}
    assert rle.problem(r) is None
    assert int(rle._string_runs(r["counts"])[1::2].sum()) == int(mask.sum())
    # the uncompressed form of the same runs is accepted too
    assert rle.problem({"size": [h, w], "counts": rle._string_runs(r["counts"]).tolist()}) is None
    assert rle.problem({**r, "counts": r["counts"] + "1"}) is not None  # one more run: too many pixels
    assert rle.problem({**r, "counts": r["counts"][:-1]}) is not None  # a run lost or cut in half
    assert rle.problem({**r, "size": [h + 1, w]}) is not None  # the runs no longer fill the image


@pytest.mark.parametrize("bad", HANGING)
def test_the_hanging_inputs_are_refused_with_a_reason(bad):
    why = rle.problem(bad)
    assert why is not None
    assert ("sum to 10,000,000" in why) if bad["counts"] == "0PdUa9" else ("alphabet" in why)


def test_structural_problems_are_named():
    assert "size" in rle.problem({"size": [1], "counts": ""})
    assert "counts" in rle.problem({"size": [1, 1], "counts": 3})
    assert "continuation" in rle.problem({"size": [1, 1], "counts": "0P"})  # 'P' has the continuation bit
    assert "run 2" in rle.problem({"size": [2, 2], "counts": "01@"})  # '@' is -16: run 2 < 0


def test_bad_prediction_masks_are_malformed_lines(tmp_path):
    good = rle.encode(np.ones((208, 304), np.uint8))
    p = tmp_path / "preds.jsonl"
    lines = [{"sample_id": "0", "objects": [{"mask": good}]}] + [
        {"sample_id": str(i + 1), "objects": [{"bbox": [0, 0, 1, 1]}, {"mask": bad}]} for i, bad in enumerate(HANGING)
    ]
    p.write_text("".join(json.dumps(line) + "\n" for line in lines))
    pf = PredictionsFile(p)
    assert pf.get("0") is not None and pf.get("1") is None and pf.get("2") is None
    assert pf.problem_counts == {"malformed": 2}
    assert str(pf.problems[0]).startswith(f"{p}:2: objects[1].mask is not a valid COCO RLE")
    assert str(pf.problems[1]).startswith(f"{p}:3: objects[1].mask is not a valid COCO RLE")
    with pytest.raises(DataError, match=r"preds.jsonl:2: objects\[1\].mask is not a valid COCO RLE.*--strict"):
        PredictionsFile(p, strict=True).get("1")


def _rewrite_line(path, out, index, mutate):
    lines = path.read_text().splitlines()
    obj = json.loads(lines[index])
    mutate(obj)
    lines[index] = json.dumps(obj)
    out.write_text("\n".join(lines) + "\n")
    return out


def test_bad_ground_truth_masks_in_split_files_name_file_line_and_field(synth_root, coco_root, tmp_path):
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
    from padt_eval.data.ric import RicJsonlReader

    src = synth_root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json"
    f = _rewrite_line(src, tmp_path / "res.json", 2, lambda o: o["objects"][0].update(rle=HANGING[0]))
    with pytest.raises(DataError, match=r"res.json:3: objects\[0\].rle is not a valid COCO RLE: run lengths sum"):
        PadtRefcocoJsonlReader(f, synth_root / "coco" / "train2014", Task.RES).validate()

    src = coco_root / "PaDT-MLLM" / "ReferringImageCaptioning" / "ric_instances_val2017.json"
    f = _rewrite_line(src, tmp_path / "ric.json", 1, lambda o: o["objects"][0].update(rle=HANGING[1]))
    with pytest.raises(DataError, match=r"ric.json:2: objects\[0\].rle is not a valid COCO RLE: .*alphabet"):
        RicJsonlReader(f, coco_root / "coco" / "val2017")


@pytest.mark.parametrize(
    "segmentation, message",
    [
        (HANGING[0], "segmentation is not a valid COCO RLE: run lengths sum"),
        ([[1, 2, "3", 4, 5, 6]], "polygon 0, coordinate 2 must be a finite number, got '3'"),
        ([[1, 2, 3]], "polygon 0 must be a flat list of x, y pairs, got list [1, 2, 3]"),
        ([None], "polygon 0 must be a flat list of x, y pairs, got NoneType None"),
    ],
)
def test_bad_official_coco_segmentations_name_the_file_and_annotation(coco_root, tmp_path, segmentation, message):
    from padt_eval.data.coco import CocoReader

    data = json.loads((coco_root / "coco" / "annotations" / "instances_val2017.json").read_text())
    ann = data["annotations"][3]
    ann["segmentation"] = segmentation
    f = tmp_path / "instances.json"
    f.write_text(json.dumps(data))
    with pytest.raises(DataError) as e:
        CocoReader(f, coco_root / "coco" / "val2017")
    assert str(e.value).startswith(f"{f}: image {ann['image_id']!r}: annotation {ann['id']!r}: {message}")
