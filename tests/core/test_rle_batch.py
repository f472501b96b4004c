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


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(one_rle(), max_size=12))
def test_a_batchs_areas_are_pycocotools_areas_of_its_valid_masks(rles):
    """`checked` gives `problems`' verdicts, and an area only for a valid mask: the one
    pycocotools computes from the same counts."""
    why, areas = rle.checked(rles)
    assert why == rle.problems(rles)
    for r, problem, area in zip(rles, why, areas.tolist()):
        if problem is not None:
            assert area == -1
        elif area != -1:
            assert area == int(cocomask.area(rle.to_cocotools(r)))


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


# -- the joined check against the single-mask check ---------------------------------------
def _encode_runs(runs: list[int], widths: dict[int, int] | None = None) -> str:
    """Any run lengths (negative or huge ones too) as a compressed counts string, written
    as pycocotools' `rleToString` writes one: the delta rule, five bits a character.
    `widths` pads run i's characters to widths[i] (the same value, spelt longer)."""
    out = []
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more, k = True, 0
        while more:
            c = x & 0x1F
            x >>= 5
            k += 1
            more = (x != -1 if c & 0x10 else x != 0) or k < (widths or {}).get(i, 0)
            out.append(chr(c + (0x20 if more else 0) + 48))
    return "".join(out)


def test_the_encoder_here_writes_what_pycocotools_writes():
    for seed in range(20):
        good = _encoded(30, 40, seed, 0.3)
        flat = rle.decode(good).ravel(order="F")  # column-major, as COCO runs go
        edges = np.flatnonzero(np.diff(flat)) + 1
        bounds = np.concatenate([[0], edges, [flat.size]])
        runs = np.diff(bounds).tolist()
        if flat[0]:
            runs = [0, *runs]
        assert _encode_runs(runs) == good["counts"]
        assert rle.problem({**good, "counts": _encode_runs(runs, {0: 7, len(runs) - 1: 7})}) is None
        assert rle.problem({**good, "counts": _encode_runs(runs, {1: 8})}) is not None


_RUN = st.one_of(
    st.integers(0, 40),
    st.integers(-3, 3),
    st.integers(2**28, 2**33),  # six- and seven-character run lengths
    st.integers(-(2**33), -(2**28)),
    st.sampled_from([2**29 - 1, 2**29, 2**32 - 1, 2**32, -(2**34), 2**34 - 1]),
    st.integers(2**34, 2**45),  # eight characters and more: refused
    st.integers(-(2**45), -(2**34)),
)


@st.composite
def runs_string(draw) -> tuple[bytes, int]:
    """A counts string of drawn runs, hostile ones included, with a pixel count that is
    mostly their sum (the cases where only the runs themselves are wrong) or near it."""
    runs = draw(st.lists(_RUN, min_size=1, max_size=12))
    # some runs spelt with more characters than they need: up to 7 is valid, 8 is not
    widths = draw(st.dictionaries(st.integers(0, len(runs) - 1), st.integers(2, 9), max_size=2))
    counts = _encode_runs(runs, widths)
    kind = draw(st.sampled_from(["sum", "sum", "off", "damaged"]))
    if kind == "damaged":
        i = draw(st.integers(0, len(counts) - 1))
        counts = counts[:i] + draw(st.sampled_from(ALPHABET)) + counts[i + 1 :]
    total = sum(runs) + (draw(st.integers(-2, 2)) if kind == "off" else 0)
    return counts.encode(), min(max(total, 0), 2**32 - 1)


def _single_verdict(counts: bytes, pixels: int) -> bool:
    return rle.problem({"size": [pixels, 1], "counts": counts.decode()}) is None


def _joined_valid(strings: list[bytes], pixels: list[int]) -> bool:
    """The joined pass's verdict; where it passes, each area is pycocotools' own."""
    areas = rle._joined_areas(strings, pixels)
    if areas is not None and areas.tolist() != [-1] * len(strings):
        want = [int(cocomask.area({"size": [p, 1], "counts": c})) for c, p in zip(strings, pixels)]
        assert areas.tolist() == want
    return areas is not None


@pytest.mark.timeout(120)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs_string())
def test_the_joined_check_accepts_exactly_what_the_single_check_accepts(case):
    counts, pixels = case
    assert _joined_valid([counts], [pixels]) == _single_verdict(counts, pixels)


@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(runs_string(), min_size=1, max_size=8), st.booleans())
def test_a_joined_block_passes_exactly_when_each_of_its_strings_does(cases, mostly_valid):
    if mostly_valid:  # blocks of valid strings with at most one bad one: the common case
        valid = [c for c in cases if _single_verdict(*c)]
        cases = valid + cases[:1] if valid else cases
    strings, pixels = [c[0] for c in cases], [c[1] for c in cases]
    assert _joined_valid(strings, pixels) == all(_single_verdict(s, p) for s, p in cases)


def test_a_block_of_real_masks_is_decided_whole_and_a_bad_one_anywhere_fails_it():
    rles = [_encoded(480, 640, s, f) for s, f in zip(range(60), np.linspace(0.001, 0.9, 60))]
    strings, pixels = [r["counts"].encode() for r in rles], [480 * 640] * len(rles)
    assert _joined_valid(strings, pixels)  # and the areas are pycocotools' (`_joined_valid`)
    assert rle.checked(rles)[1].tolist() == [int(cocomask.area(rle.to_cocotools(r))) for r in rles]
    for k in (0, 17, len(rles) - 1):
        shifted = pixels[:k] + [480 * 641] + pixels[k + 1 :]
        assert not _joined_valid(strings, shifted)
        cut = strings[:k] + [strings[k][:-1]] + strings[k + 1 :]
        assert not _joined_valid(cut, pixels) or _single_verdict(cut[k], pixels[k])


def test_a_join_past_the_exact_length_goes_mask_by_mask(monkeypatch):
    rles = [_encoded(20, 30, s, 0.4) for s in range(5)] + [{"size": [20, 30], "counts": "0"}]
    monkeypatch.setattr(rle, "_MAX_JOINED_CHARS", 10)
    assert not _joined_valid([r["counts"].encode() for r in rles[:5]], [600] * 5)
    assert rle.problems(rles) == [rle.problem(r) for r in rles] == [None] * 5 + [rle.problem(rles[-1])]


def test_a_run_length_of_seven_characters_is_valid_but_its_area_is_left_to_pycocotools():
    """pycocotools reads a 7-character run length (|value| >= 2**29) with shifts that
    overflow, so its area of such a mask can differ from the exact one: `checked` gives
    no area for its block (-1), and the caller asks pycocotools, as the object path does.
    (The counts here were found by hypothesis: exact area 536,870,913, pycocotools'
    1,073,741,825.)"""
    mask = {"size": [536_870_913, 1], "counts": "0QPPPP`00ooooo_O"}
    assert rle.problem(mask) is None
    assert int(cocomask.area(rle.to_cocotools(mask))) == 1_073_741_825  # more than the mask's pixels
    why, areas = rle.checked([mask, _encoded(20, 30, 2, 0.5)])
    assert why == [None, None]
    assert areas.tolist() == [-1, -1]  # the whole joined block
