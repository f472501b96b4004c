"""`rle.problems` (many masks checked at once) gives exactly `rle.problem`'s verdict and
message for each mask, whatever its neighbours in the batch hold."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as cocomask

from padt_eval.core import rle
from padt_eval.scoring.predictions_file import PredictionsFile

ALPHABET = [chr(c) for c in range(48, 112)]


def _encoded(h: int, w: int, seed: int, fill: float) -> dict:
    mask = (np.random.default_rng(seed).random((h, w)) < fill).astype(np.uint8)
    return {"size": [h, w], "counts": cocomask.encode(np.asfortranarray(mask))["counts"].decode()}


@st.composite
def one_rle(draw) -> object:
    h, w = draw(st.integers(0, 60)), draw(st.integers(0, 60))
    kind = draw(st.sampled_from(["valid", "appended", "cut", "changed", "resized", "alphabet", "text", "list", "odd"]))
    good = _encoded(max(h, 1), max(w, 1), draw(st.integers(0, 2**32 - 1)), draw(st.floats(0, 1)))
    counts = good["counts"]
    if kind == "valid":
        return good
    if kind == "appended":
        return {**good, "counts": counts + draw(st.text(alphabet=ALPHABET, min_size=1, max_size=3))}
    if kind == "cut":
        return {**good, "counts": counts[: draw(st.integers(0, max(len(counts) - 1, 0)))]}
    if kind == "changed":
        i = draw(st.integers(0, len(counts) - 1))
        return {**good, "counts": counts[:i] + draw(st.sampled_from(ALPHABET)) + counts[i + 1 :]}
    if kind == "resized":
        return {**good, "size": [good["size"][0] + draw(st.integers(-1, 1)), good["size"][1]]}
    if kind == "alphabet":
        return {"size": [h, w], "counts": draw(st.text(alphabet=ALPHABET, max_size=40))}
    if kind == "text":
        return {"size": [h, w], "counts": draw(st.text(max_size=20))}
    if kind == "list":
        return {"size": [h, w], "counts": draw(st.lists(st.integers(-2, 50), max_size=10))}
    return draw(
        st.sampled_from(
            [None, [], {"size": [h]}, {"size": [h, w]}, {"size": [-1, w], "counts": "0"}, {"size": [h, w], "counts": 3}]
        )
    )


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(one_rle(), max_size=12))
def test_a_batch_gets_each_masks_own_verdict_and_message(rles):
    assert rle.problems(rles) == [rle.problem(r) for r in rles]


def test_a_run_length_cut_off_at_a_strings_end_does_not_spill_into_the_next_mask():
    good = _encoded(20, 30, 1, 0.4)
    # 'P' carries the continuation bit: read alone it would run on into the next string
    cut = {"size": [20, 30], "counts": good["counts"] + "P"}
    assert rle.problems([cut, good, cut]) == [rle.problem(cut), None, rle.problem(cut)]
    assert rle.problem(cut) is not None


def test_a_big_realistic_batch_is_all_valid_and_sums_are_exact():
    rles = [_encoded(480, 640, s, f) for s, f in zip(range(40), np.linspace(0.01, 0.99, 40))]
    rles.append({"size": [480, 640], "counts": rles[3]["counts"]})
    rles.append({"size": [480, 641], "counts": rles[3]["counts"]})  # one column more than its runs fill
    got = rle.problems(rles)
    assert got[:-1] == [None] * (len(rles) - 1)
    assert got[-1] is not None and "not height × width" in got[-1]


def test_the_predictions_file_reads_a_chunk_as_it_reads_line_by_line(tmp_path):
    good = _encoded(10, 10, 3, 0.5)
    lines = [
        {"sample_id": "0", "objects": [{"bbox": [0, 0, 4, 4], "mask": good}]},
        {"sample_id": "1", "objects": [{"bbox": [0, 0, 4, 4], "mask": {**good, "counts": good["counts"] + "1"}}]},
        {"sample_id": "2", "objects": [{"bbox": [0, 0, 4, "x"], "mask": {"size": [10, 10], "counts": "!!"}}]},
        {"sample_id": "3", "objects": [{"mask": {"size": [10, 10], "counts": "!!"}}, {"bbox": [1, 1, 2, 2]}]},
        {"sample_id": "4", "objects": [{"bbox": [1, 1, 2, 2], "mask": good}, {"mask": good}]},
    ]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    ids = ["4", "9", "1", "0", "3", "2"]
    one, many = PredictionsFile(f), PredictionsFile(f)
    singles = [one.get(i) for i in ids]
    assert many.get_many(ids) == singles
    assert [p is None for p in singles] == [False, True, True, False, True, True]
    assert many.summary() == one.summary()
    assert [str(p) for p in many.problems] == [str(p) for p in one.problems]


def test_rec_reads_a_split_whose_masks_it_never_uses_and_res_refuses_it(synth_root, tmp_path):
    """REC scores boxes: a ground-truth mask with bad counts (but a readable size) costs it
    nothing, and its report does not try to draw it; RES refuses the same line."""
    from typer.testing import CliRunner

    from padt_eval.cli import app
    from padt_eval.core.errors import DataError
    from padt_eval.core.types import Task
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader

    src = synth_root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json"
    lines = src.read_text().splitlines()
    obj = json.loads(lines[2])
    h, w = obj["objects"][0]["rle"]["size"]
    obj["objects"][0]["rle"] = {"size": [h, w], "counts": "0PdUa9"}  # runs summing to 10**7
    lines[2] = json.dumps(obj)
    split = tmp_path / "split.json"
    split.write_text("\n".join(lines) + "\n")
    images = synth_root / "coco" / "train2014"
    with pytest.raises(DataError, match=r"split.json:3: objects\[0\].rle is not a valid COCO RLE: run lengths sum"):
        list(PadtRefcocoJsonlReader(split, images, Task.RES))
    samples = list(PadtRefcocoJsonlReader(split, images, Task.REC))
    assert (samples[2].image.height, samples[2].image.width) == (h, w)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"sample_id": s.sample_id, "objects": [{"bbox": s.objects[0].bbox}]}) + "\n" for s in samples)
    )
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["rec", "-s", str(split), "--image-root", str(images), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["metrics"]["acc@0.5"] == 1.0
    assert (out / "report.html").is_file()
