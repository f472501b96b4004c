"""The columnar REC/RES path (scoring/columnar.py) against the object path, its oracle.

Each case writes a PaDT-layout split and a predictions file, scores it through
`scoring.score` twice, once as it runs (the columnar path where it applies) and once with
the columnar path switched off, and requires identical metrics.json (but the run id,
which names the folder) and byte-identical per_sample.jsonl. Cases the columnar path
must hand over to the object path assert that it did (`score_columns` gave None).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest

import padt_eval.scoring.score as score_module
from padt_eval.core import rle
from padt_eval.core.errors import DataError
from padt_eval.core.types import Task
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions
from padt_eval.scoring.columnar import score_columns
from tests.helpers import random_box, random_mask

SIZES = [(24, 32), (30, 20), (16, 16)]
N = 60


def _split(folder: Path, rng: np.random.Generator) -> tuple[Path, list[dict]]:
    """A PaDT RefCOCO JSONL split (one blank line: ids are line indices) and its targets."""
    lines, targets = [], []
    for i in range(N):
        h, w = SIZES[(i % 7) % len(SIZES)]  # one size an image
        mask = random_mask(rng, h, w, empty_p=0.0)
        ys, xs = np.nonzero(mask)
        box = [float(xs.min() / w), float(ys.min() / h), float((xs.max() + 1) / w), float((ys.max() + 1) / h)]
        lines.append(
            json.dumps(
                {
                    "id": 100 + i % 7,
                    "image": f"img_{i}.jpg",
                    "objects": [{"bbox": box, "rle": rle.encode(mask), "label": f"thing {i}"}],
                }
            )
        )
        targets.append({"h": h, "w": w, "mask": mask, "box": [box[0] * w, box[1] * h, box[2] * w, box[3] * h]})
    lines.insert(5, "")
    path = folder / "split.json"
    path.write_text("\n".join(lines) + "\n")
    return path, targets


def _object(rng: np.random.Generator, t: dict, kind: str) -> dict:
    h, w = t["h"], t["w"]
    if kind == "hit":
        return {"bbox": t["box"], "mask": rle.encode(t["mask"])}
    if kind == "near":
        b = t["box"]
        m = t["mask"].copy()
        m[: h // 2] = False
        return {"bbox": [b[0], b[1], (b[0] + b[2]) / 2 + 1, b[3]], "mask": rle.encode(m)}
    return {"bbox": random_box(rng, h, w), "mask": rle.encode(random_mask(rng, h, w))}


def _uncompressed(mask: dict) -> dict:
    """The mask with its counts as a list of run lengths (column-major, background first)."""
    flat = rle.decode(mask).ravel(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = [0, *edges.tolist(), len(flat)]
    runs = [b - a for a, b in zip(bounds, bounds[1:])]
    return {"size": mask["size"], "counts": ([0] if flat[0] else []) + runs}


def _predictions(rng: np.random.Generator, targets: list[dict]) -> list[dict]:
    """Every kind of answer the columnar path reads: misses, multi-object answers (scored
    and not), empty answers, failed and errored outputs, mask-only and box-only objects,
    masks of the wrong size, reversed and empty boxes, meta, text, integer ids."""
    lines = []
    for i, t in enumerate(targets):
        sid: str | int = str(i if i < 5 else i + 1)  # the blank line 5 shifts the ids
        r = i % 12
        if r == 0:
            continue  # no line: missing
        if r == 11:
            sid = int(sid)
        objs = [_object(rng, t, ("hit", "near", "rand")[i % 3])]
        line: dict = {"sample_id": sid}
        if r == 1:
            objs.append(_object(rng, t, "hit"))  # two objects, unscored: the first is the answer
        elif r == 2:
            objs = [{**o, "score": s} for o, s in zip(objs + [_object(rng, t, "hit")], (0.2, 0.9))]
        elif r == 3:
            objs = []
        elif r == 4:
            line.update(parse_status="failed", parse_reason="could not read the box")
        elif r == 5:
            line.update(parse_status="error", parse_reason="CUDA out of memory", text="boom")
        elif r == 6 and i % 24 == 6:
            objs = [{"mask": objs[0]["mask"], "label": "only a mask"}]
        elif r == 6:  # uncompressed counts (COCO's crowd form): pycocotools gives their area
            objs = [{**objs[0], "mask": _uncompressed(objs[0]["mask"])}]
        elif r == 7 and i % 24 == 7:
            objs = [{"bbox": objs[0]["bbox"], "score": 1}]
        elif r == 7:  # one object with a float score and a label: a plain line, scored
            objs = [{**objs[0], "score": 0.75, "label": "the thing"}]
        elif r == 8:
            objs[0]["mask"] = rle.encode(np.ones((t["h"] + 1, t["w"]), bool))  # the wrong size for RES
        elif r == 9:
            b = objs[0]["bbox"]
            objs[0]["bbox"] = [b[2], b[3], b[0], b[1]]  # reversed: empty
        elif r == 10 and i % 24 == 10:
            line.update(text="the answer", meta={"latency_s": 0.5, "tokens": 12})
        elif r == 10:  # an answered line that says how it was read
            line.update(text="the answer", parse_status="ok", parse_reason="the second box of two")
        line["objects"] = objs
        lines.append(line)
    lines.append({"sample_id": "9999", "objects": []})  # not in the split
    return lines


def _write(path: Path, lines: list) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines))
    return path


def _instances(folder: Path, targets: list[dict]) -> DataOptions:
    """COCO instances of the split's images (every target of an image is an instance of
    it, so answers meet other objects), where a PaDT JSONL split looks for them."""
    images, annotations = {}, []
    for i, t in enumerate(targets):
        image_id = 100 + i % 7
        images[image_id] = {"id": image_id, "file_name": f"img_{image_id}.jpg", "width": t["w"], "height": t["h"]}
        x1, y1, x2, y2 = t["box"]
        annotations.append(
            {
                "id": i + 1,
                "image_id": image_id,
                "category_id": 1,
                "segmentation": rle.encode(t["mask"]),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": float(t["mask"].sum()),
                "iscrowd": 0,
            }
        )
    path = folder / "coco" / "annotations" / "instances_train2014.json"
    path.parent.mkdir(parents=True)
    doc = {"images": list(images.values()), "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}
    path.write_text(json.dumps(doc))
    return DataOptions(image_root=str(folder / "coco" / "train2014"))


def _score_both(task: Task, split: Path, preds: Path, tmp: Path, monkeypatch, strict: bool = False, data=None):
    """(columnar result, object result, whether the columnar path scored the file)."""
    taken = []
    real = score_columns

    def spy(*args, **kwargs):
        got = real(*args, **kwargs)
        taken.append(got is not None)
        return got

    out = {}
    for mode in ("columnar", "object"):
        monkeypatch.setattr(score_module, "score_columns", spy if mode == "columnar" else (lambda *a, **k: None))
        folder = tmp / mode
        score_module.score(
            task,
            str(split),
            PredictionsOptions(path=str(preds), strict=strict),
            data=data or DataOptions(),
            output=OutputOptions(out=folder),
        )
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics.pop("run_id")
        out[mode] = (metrics, (folder / "per_sample.jsonl").read_bytes())
    return out["columnar"], out["object"], taken == [True]


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(7)
    split, targets = _split(tmp_path, rng)
    return split, _predictions(rng, targets)


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
def test_columnar_path_equals_object_path_with_image_instances(task, tmp_path, monkeypatch):
    """The miss breakdown against the images' other instances: wrong_object and near_other."""
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(11)
    split, targets = _split(tmp_path, rng)
    data = _instances(tmp_path, targets)
    preds = _write(tmp_path / "preds.jsonl", _predictions(rng, targets))
    fast, slow, taken = _score_both(task, split, preds, tmp_path, monkeypatch, data=data)
    assert taken and fast == slow
    assert fast[0]["errors"]["wrong_object_available"]
    records = [orjson.loads(x) for x in fast[1].splitlines()]
    assert {"wrong_object", "near_other", "localization", "hit"} <= {r["error"] for r in records}
    assert any("error_iou_other" in r for r in records)


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
def test_columnar_path_equals_object_path(task, files, tmp_path, monkeypatch):
    split, lines = files
    preds = _write(tmp_path / "preds.jsonl", lines)
    fast, slow, taken = _score_both(task, split, preds, tmp_path, monkeypatch)
    assert taken, "the columnar path should score this file"
    assert fast == slow
    records = [orjson.loads(x) for x in fast[1].splitlines()]
    # the cases are all there, so that equality means something
    assert {r["error"] for r in records} == {"hit", "localization", "background", "no_object", "unparsed"}
    assert {r["status"] for r in records} == {"ok", "missing", "failed", "error"}
    assert fast[0]["problems"]["problems"] == {"unknown_id": 1}
    if task == Task.REC:
        assert fast[0]["counts"]["n_box_from_mask"] > 0
    else:
        assert fast[0]["counts"]["n_mask_size_mismatch"] > 0


def _bad_rle() -> dict:
    return {"size": [24, 32], "counts": "0000000000"}  # runs sum to 0, not 768


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
@pytest.mark.parametrize(
    "damage",
    ["malformed_json", "duplicate", "bad_bbox", "bad_score", "bad_status", "bad_answer_mask", "bad_id"],
)
def test_columnar_path_hands_over_what_it_does_not_reproduce(task, damage, files, tmp_path, monkeypatch):
    split, lines = files
    lines = list(lines)
    if damage == "malformed_json":
        lines.insert(3, b'{"sample_id": "3", "objects": [')
    elif damage == "duplicate":
        lines.append(lines[2])
    elif damage == "bad_bbox":
        lines[4] = {"sample_id": lines[4]["sample_id"], "objects": [{"bbox": [1, 2, 3]}]}
    elif damage == "bad_score":
        lines[4] = {"sample_id": lines[4]["sample_id"], "objects": [{"bbox": [1, 2, 3, 4], "score": True}]}
    elif damage == "bad_status":
        lines[4] = {"sample_id": lines[4]["sample_id"], "parse_status": "weird"}
    elif damage == "bad_answer_mask":
        lines[4] = {"sample_id": lines[4]["sample_id"], "objects": [{"mask": _bad_rle()}]}
    elif damage == "bad_id":
        lines[4] = {"sample_id": "", "objects": []}
    preds = _write(tmp_path / "preds.jsonl", lines)
    fast, slow, taken = _score_both(task, split, preds, tmp_path, monkeypatch)
    assert not taken, "the object path must score a file with this problem"
    assert fast == slow
    assert fast[0]["problems"]["first_problems"], "the problem is reported with its line"


def test_rec_never_checks_a_mask_it_does_not_use(files, tmp_path, monkeypatch):
    """REC reads a mask only for an answer without a box: a damaged mask elsewhere on the
    line does not make the line malformed (RES, which uses masks, still refuses it)."""
    split, lines = files
    lines = list(lines)
    lines[1] = {"sample_id": lines[1]["sample_id"], "objects": [{"bbox": [1.0, 1.0, 9.0, 9.0], "mask": _bad_rle()}]}
    preds = _write(tmp_path / "preds.jsonl", lines)
    fast, slow, taken = _score_both(Task.REC, split, preds, tmp_path, monkeypatch)
    assert taken and fast == slow
    assert fast[0]["problems"]["problems"] == {"unknown_id": 1}
    fast, slow, taken = _score_both(Task.RES, split, preds, tmp_path / "res", monkeypatch)
    assert not taken and fast == slow
    assert fast[0]["problems"]["problems"] == {"malformed": 1, "unknown_id": 1}


def test_strict_unknown_id_goes_to_the_object_path(files, tmp_path, monkeypatch):
    split, lines = files
    preds = _write(tmp_path / "preds.jsonl", lines)
    with pytest.raises(DataError, match=r"preds\.jsonl:\d+: sample_id '9999' is not in the split \(--strict\)"):
        score_module.score(
            Task.REC, str(split), PredictionsOptions(path=str(preds), strict=True), output=OutputOptions(out=tmp_path / "o")
        )


def test_empty_predictions_file(files, tmp_path, monkeypatch):
    split, _ = files
    preds = _write(tmp_path / "preds.jsonl", [])
    for task in (Task.REC, Task.RES):
        fast, slow, taken = _score_both(task, split, preds, tmp_path / task.value, monkeypatch)
        assert taken and fast == slow
        assert fast[0]["warnings"] and fast[0]["counts"]["n_missing"] == N


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
@pytest.mark.parametrize("n_worst", [0, 3, 12, 1000])
def test_report_selection_from_columns_equals_the_records_one(task, n_worst, files, tmp_path):
    """The samples a report draws, picked from the columns, are those picked from the records."""
    from padt_eval.data.registry import open_split
    from padt_eval.metrics.errors import ErrorThresholds
    from padt_eval.report.sample_selection import SampleSelection
    from padt_eval.tasks.metric import build_metric

    split, lines = files
    lines = list(lines)
    for i in (7, 19, 31):  # enough failures to cut the list
        lines[i] = {"sample_id": lines[i]["sample_id"], "parse_status": "failed", "parse_reason": f"bad {i}"}
    preds = _write(tmp_path / "preds.jsonl", lines)
    reader = open_split(str(split), task, require_images=False)
    metric = build_metric(task, "standard", reader, ErrorThresholds())
    columns = score_columns(task, reader, metric, preds, strict=False)
    assert columns is not None
    errors = metric.errors()
    assert errors is not None
    for errs in (errors, None):
        want = SampleSelection.of_records(list(columns.records()), errs, n_worst)
        got = columns.selection(errs, n_worst)
        assert dataclasses.replace(got, line_offsets=None) == want
        # and where each picked sample's line starts, for every picked sample that has one
        drawn = {r["sample_id"] for r in [*want.worst, *want.failures, *(r for v in want.by_category.values() for r in v)]}
        data = preds.read_bytes()
        assert got.line_offsets is not None
        assert set(got.line_offsets) == {sid for sid in drawn if any(str(x.get("sample_id")) == sid for x in lines)}
        for sid, at in got.line_offsets.items():
            assert str(orjson.loads(data[at : data.index(b"\n", at)])["sample_id"]) == sid
    assert want.n == N and len(want.failures) == want.n_failures > 3


def test_res_targets_are_checked_once_per_file_content(files, tmp_path, monkeypatch):
    """RES checks the targets' masks of a PaDT JSONL file once: the same bytes again are
    not re-checked, changed bytes are, and a bad target leaves the file to the reader."""
    from padt_eval.data import query_columns
    from padt_eval.data.registry import open_split

    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    split, _ = files
    checked = []
    real = query_columns.rlemod.problems
    monkeypatch.setattr(query_columns.rlemod, "problems", lambda masks: checked.append(len(masks)) or real(masks))

    def read():
        checked.clear()
        return query_columns.read_query_columns(open_split(str(split), Task.RES, require_images=False), Task.RES)

    assert read() is not None and sum(checked) == N
    assert read() is not None and checked == []
    split.write_text(split.read_text() + "\n")  # other bytes, the same samples
    assert read() is not None and sum(checked) == N
    lines = split.read_text().splitlines()
    bad = json.loads(lines[0])
    bad["objects"][0]["rle"]["counts"] = "0000"
    split.write_text("\n".join([json.dumps(bad), *lines[1:]]) + "\n")
    assert read() is None
    assert query_columns.read_query_columns(open_split(str(split), Task.REC, require_images=False), Task.REC) is not None


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
def test_answers_with_a_recorded_cost_are_scored_with_their_cost(task, files, tmp_path, monkeypatch):
    """The columnar path keeps no meta: a file whose answers carry a cost (a model run's
    predictions, core/answer_cost.py) goes to the object path, which writes each cost."""
    split, lines = files
    lines = list(lines)
    costed = next(i for i, x in enumerate(lines) if isinstance(x, dict) and x.get("objects"))
    lines[costed] = {**lines[costed], "meta": {"prompt_tokens": 40, "completion_tokens": 12, "hit_max_new_tokens": False}}
    preds = _write(tmp_path / "preds.jsonl", lines)
    fast, slow, taken = _score_both(task, split, preds, tmp_path, monkeypatch)
    for metrics, _ in (fast, slow):
        assert metrics["cost"].pop("scoring_seconds") >= 0  # a duration: differs from run to run
    assert not taken and fast == slow
    records = [orjson.loads(x) for x in fast[1].splitlines()]
    with_cost = [r for r in records if "cost" in r]
    assert [r["sample_id"] for r in with_cost] == [str(lines[costed]["sample_id"])]
    assert with_cost[0]["cost"]["completion_tokens"] == 12 and fast[0]["cost"]["answers"] == 1


ALARM_SIZES = [(48, 64), (60, 40), (50, 50)]
N_ALARMS = 120


def _alarm_split(folder: Path, rng: np.random.Generator) -> tuple[Path, list[dict]]:
    """A PaDT split for the alarms: small rectangular targets (a trivial answer rarely
    hits them), each expression asked of four images (the image-blind check's groups)."""
    lines, targets = [], []
    for i in range(N_ALARMS):
        h, w = ALARM_SIZES[i % len(ALARM_SIZES)]
        bw, bh = int(rng.integers(4, w // 3)), int(rng.integers(4, h // 3))
        x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        mask = np.zeros((h, w), dtype=bool)
        mask[y : y + bh, x : x + bw] = True
        box = [x / w, y / h, (x + bw) / w, (y + bh) / h]
        obj = {"bbox": box, "rle": rle.encode(mask), "label": f"Thing {i % 30} "}
        lines.append(json.dumps({"id": 100 + i % 9, "image": f"./imgs//img_{i}.jpg", "objects": [obj]}))
        targets.append({"h": h, "w": w, "mask": mask, "box": [float(x), float(y), float(x + bw), float(y + bh)], "expr": i % 30})
    path = folder / "alarm_split.json"
    path.write_text("\n".join(lines) + "\n")
    return path, targets


def _alarm_lines(case: str, targets: list[dict]) -> list[dict]:
    lines = []
    for i, t in enumerate(targets):
        h, w = t["h"], t["w"]
        whole = {"bbox": [0.0, 0.0, float(w), float(h)], "mask": rle.encode(np.ones((h, w), dtype=bool))}
        line: dict = {"sample_id": str(i), "text": "the object"}
        if case == "honest":  # the targets, each saying it ended at an end token
            line.update(objects=[{"bbox": t["box"], "mask": rle.encode(t["mask"])}], meta={"stopped": True})
        elif case == "whole_image":  # one answer (in hundredths) for every image
            line.update(objects=[whole])
        elif case == "expression_only":  # one box an expression, whatever the image (hundredths)
            e = t["expr"]
            rel = [(e % 5) / 10, (e // 5) / 10, (e % 5) / 10 + 0.3, (e // 5) / 10 + 0.35]
            line.update(objects=[{"bbox": [rel[0] * w, rel[1] * h, rel[2] * w, rel[3] * h]}])
        elif case == "cut_off":  # every third unreadable, all at the token limit
            ok = i % 3 != 0
            line.update(objects=[{"bbox": t["box"], "mask": rle.encode(t["mask"])}] if ok else [], meta={"stopped": False})
            if not ok:
                line.update(parse_status="failed", parse_reason="cut off", text="[12, 3")
        elif case == "two_objects":  # a box and a mask-only object (REC keys it by its label)
            line.update(objects=[{"bbox": whole["bbox"]}, {"mask": whole["mask"], "label": "all"}])
        lines.append(line)
    return lines


@pytest.mark.parametrize("task", [Task.REC, Task.RES])
@pytest.mark.parametrize(
    "case, expected",
    [
        ("honest", set()),
        ("whole_image", {"chance_level", "same_answer", "image_blind"}),
        ("expression_only", {"chance_level", "image_blind"}),
        ("cut_off", {"parse_failures", "hit_max_new_tokens"}),
        ("two_objects", None),  # REC: one key for all; RES: the mask's size splits them (both paths alike)
    ],
)
def test_columnar_path_equals_object_path_in_alarms(task, case, expected, tmp_path, monkeypatch):
    """The alarms (metrics.json `alarms` and `warnings`) are the same from the columns as
    from the objects, where they fire and where they stay silent."""
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    split, targets = _alarm_split(tmp_path, np.random.default_rng(5))
    preds = _write(tmp_path / "preds.jsonl", _alarm_lines(case, targets))
    fast, slow, taken = _score_both(task, split, preds, tmp_path, monkeypatch)
    assert taken, "the columnar path should score this file"
    assert fast[0].get("alarms") == slow[0].get("alarms") and fast[0].get("warnings") == slow[0].get("warnings")
    assert fast == slow
    names = {a["name"] for a in fast[0].get("alarms", [])}
    if expected is not None:
        assert names == expected
    elif task == Task.REC:
        assert names >= {"same_answer", "image_blind"}
        same = next(a for a in fast[0]["alarms"] if a["name"] == "same_answer")
        assert same["evidence"]["count"] == N_ALARMS and "'label', 'all'" in same["evidence"]["answer"]
    else:
        assert "same_answer" not in names  # three image sizes: three masks, none on half the samples
    for a in fast[0].get("alarms", []):
        assert a["message"] in fast[0]["warnings"]


def test_the_box_check_fast_case_agrees_with_is_finite_box() -> None:
    """`columnar._box_ok` takes a short cut for four floats; whatever it is given, its
    verdict is `is_finite_box`'s."""
    from padt_eval.core.boxes import is_finite_box
    from padt_eval.scoring.columnar import _box_ok

    rng = random.Random(3)
    values = [0.0, 1.5, -2.0, 1e308, -1e308, float("inf"), float("-inf"), float("nan"), 3, True, None, "1.0", 10**400]
    boxes = [[rng.choice(values) for _ in range(4)] for _ in range(3000)]
    boxes += [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0], (1.0, 2.0, 3.0, 4.0), "abcd", None, [1e308] * 4]
    for b in boxes:
        try:
            want = is_finite_box(b)
        except OverflowError:
            continue  # an int past a float's range: the exact check itself raises
        assert _box_ok(b) == want, b
