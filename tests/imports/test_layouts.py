"""Each toolkit's own layout, written from synthetic data with a designed case per sample
(padt_eval/demo/toolkit_files.py), imported: matched and unmatched counts, the score, and
the agreement section with the reason each case was built to show."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo import toolkit_files as tf
from padt_eval.options import DataOptions, OutputOptions


def _samples(synth_root: Path, split: str = "refcoco_val", layout: str = "refer"):
    return list(open_split(split, Task.REC, data_root=synth_root, layout=layout, require_images=False))


def _check(result, design: tf.Design, n_samples: int, n_rows: int) -> None:
    m = result.matching
    assert m["rows"] == n_rows
    assert m["samples_matched"] == len(design.case_of)
    assert m["samples_without_row"] == n_samples - len(design.case_of) == 1
    assert m["unmatched"]["count"] == design.extra_rows.get("unmatched", 0)
    assert sum(m["rows_of_other_splits"].values()) == design.extra_rows.get("other_split", 0)
    assert m["ambiguous"]["count"] == m["conflicting"]["count"] == 0

    expected = design.expected()
    a = result.agreement
    assert a is not None and a["n_compared"] == len(expected)
    tally = Counter((tk, ours) for tk, ours, _ in expected.values())
    assert (a["both_correct"], a["both_wrong"], a["only_toolkit"], a["only_padt_eval"]) == (
        tally[(True, True)],
        tally[(False, False)],
        tally[(True, False)],
        tally[(False, True)],
    )
    named = {d["sample_id"]: d["reason"] for d in a["differences"]}
    assert named == {sid: reason for sid, (_, _, reason) in expected.items() if reason is not None}
    for d in a["differences"]:
        tk, ours, _ = expected[d["sample_id"]]
        assert (d["toolkit_hit"], d["padt_eval_hit"]) == (tk, ours)
    # padt-eval's own score is the designed answers' score: a sample without a row is a miss
    ours_hits = sum(ours for _, ours, _ in expected.values())
    assert result.run.metrics["acc@0.5"] == pytest.approx(ours_hits / n_samples)
    assert result.run.counts["n_missing"] == 1
    doc = json.loads(result.record.read_text())
    assert doc["agreement"]["reasons"] == dict(Counter(named.values()))


def test_lmms_eval_log_samples_layout(synth_root, tmp_path):
    samples = _samples(synth_root)
    path = tmp_path / "20260101_000000_samples_refcoco_bbox_rec_val.jsonl"
    design = tf.write_lmms_eval(samples, path)
    result = api.import_predictions(
        "lmms-eval", [path], "refcoco_val", text_format="qwen3_vl",
        data=DataOptions(synth_root, layout="refer"), output=OutputOptions(tmp_path / "out", report=False),
    )  # fmt: skip
    _check(result, design, len(samples), len(design.case_of) + 1)
    assert set(design.case_of.values()) == set(tf.LMMS_EVAL_CASES)
    assert result.matching["matched_by"] == {"ann_id+expression": len(design.case_of)}
    # the predictions file holds the raw answers, in split order, as the rows wrote them
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    lines = [json.loads(x) for x in result.predictions.read_text().splitlines()]
    assert [x["text"] for x in lines] == [r["filtered_resps"] for r in rows[:-1]]
    assert all("objects" not in x for x in lines)


@pytest.mark.parametrize("suffix", ["xlsx", "tsv"])
def test_vlmevalkit_detail_sheet_layout(synth_root, tmp_path, suffix):
    samples = _samples(synth_root)
    rows, design = tf.vlmevalkit_rows(samples)
    path = tmp_path / f"model_RefCOCO_detail.{suffix}"
    (tf.write_xlsx if suffix == "xlsx" else tf.write_tsv)(rows, path)
    result = api.import_predictions(
        "vlmevalkit", [path], "refcoco_val", text_format="internvl",
        data=DataOptions(synth_root, layout="refer"), output=OutputOptions(tmp_path / "out", report=False),
    )  # fmt: skip
    _check(result, design, len(samples), len(rows))
    assert set(design.case_of.values()) == set(tf.VLMEVALKIT_CASES)
    assert result.matching["rows_of_other_splits"] == {"RefCOCO_testA": 1}


def test_vlmevalkit_split_named_by_the_toolkit(synth_root, tmp_path):
    rows, _ = tf.vlmevalkit_rows(_samples(synth_root), split_label="RefCOCO_testB")
    path = tmp_path / "model_RefCOCO.tsv"
    tf.write_tsv(rows, path)
    kwargs = dict(text_format="internvl", data=DataOptions(synth_root, layout="refer"))
    from padt_eval.core.errors import UsageError

    with pytest.raises(UsageError, match="--toolkit-split"):
        api.import_predictions("vlmevalkit", [path], "refcoco_val", output=OutputOptions(tmp_path / "a", report=False), **kwargs)
    result = api.import_predictions(
        "vlmevalkit",
        [path],
        "refcoco_val",
        toolkit_split="RefCOCO_testB",
        output=OutputOptions(tmp_path / "b", report=False),
        **kwargs,
    )
    assert result.matching["rows_of_other_splits"] == {"RefCOCO_testA": 1}


def test_evalscope_reviews_layout_with_repeats(synth_root, tmp_path):
    samples = _samples(synth_root)
    path = tmp_path / "reviews" / "model" / "refcoco_val.jsonl"
    design = tf.write_evalscope_reviews(samples, path)
    n_rows = len(path.read_text().splitlines())
    result = api.import_predictions(
        "evalscope", [path], "refcoco_val", text_format="qwen3_vl",
        data=DataOptions(synth_root, layout="refer"), output=OutputOptions(tmp_path / "out", report=False),
    )  # fmt: skip
    _check(result, design, len(samples), n_rows)
    assert n_rows > len(design.case_of)  # the best_of_n samples have two generations
    # padt-eval scores the first generation of each sample
    lines = {json.loads(x)["sample_id"]: json.loads(x) for x in result.predictions.read_text().splitlines()}
    best = {d["sample_id"]: d for d in result.agreement["differences"] if d["reason"] == "best_of_n"}
    for sid, case in design.case_of.items():
        if case == "best_of_n":
            assert len(lines[sid]["meta"]["imported_from"]) == 1
            assert best[sid]["toolkit_iou"] > 0.99  # the generation that decided its verdict


def test_padt_release_results_layout(synth_root, tmp_path):
    split = str(synth_root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json")
    samples = _samples(synth_root, split, "auto")
    path = tmp_path / "refcoco_val_0_pred_results_demo.json"
    design = tf.write_padt_release(samples, path)
    with open(path, "a") as f:  # a completion line of the other file type is skipped, and said so
        f.write(json.dumps({"image_id": 1, "completion": 'The "x" refers to <|VRT_3|>.'}) + "\n")
    n_rows = len(path.read_text().splitlines()) - 1
    result = api.import_predictions(
        "padt-release", [path], split, data=DataOptions(synth_root), output=OutputOptions(tmp_path / "out", report=False)
    )
    _check(result, design, len(samples), n_rows)
    doc = json.loads(result.record.read_text())
    assert any("pred_comp" in n for n in doc["notes"])
    # the objects are written as decoded: xywh -> xyxy, with their scores
    lines = [json.loads(x) for x in result.predictions.read_text().splitlines()]
    two = [x for x in lines if len(x["objects"]) == 2]
    assert len(two) == sum(c == "best_box" for c in design.case_of.values())
    assert all("text" not in x for x in lines)


def test_no_verdict_no_agreement(synth_root, tmp_path):
    """VLMEvalKit's prediction sheet (before evaluate) holds no verdict: scored, no agreement."""
    rows, _ = tf.vlmevalkit_rows(_samples(synth_root))
    for r in rows:
        del r["hit"], r["iou"], r["pred_bbox"]
    path = tmp_path / "model_RefCOCO.tsv"
    tf.write_tsv(rows, path)
    result = api.import_predictions(
        "vlmevalkit", [path], "refcoco_val", text_format="internvl",
        data=DataOptions(synth_root, layout="refer"), output=OutputOptions(tmp_path / "out", report=False),
    )  # fmt: skip
    assert result.agreement is None
    doc = json.loads(result.record.read_text())
    assert "agreement_note" in doc and any("_detail" in n for n in doc["notes"])


def test_lmms_eval_old_log_with_doc_matches_by_image_and_expression(synth_root, tmp_path):
    """An older lmms-eval log (`{"logs": [...]}`, `doc` kept): a `question_id` that is not a
    COCO annotation id matches nothing, and the doc's file name and expression match instead."""
    samples = _samples(synth_root)
    path = tmp_path / "new.jsonl"
    design = tf.write_lmms_eval(samples, path)
    logs = []
    by_id = {s.sample_id: s for s in samples}
    for line, sid in zip(path.read_text().splitlines(), design.case_of):
        row = json.loads(line)
        s = by_id[sid]
        for key in [k for k in row if k.startswith("refcoco_")]:
            row[key] = {**row[key], "ann_id": f"refcoco_val_{sid}"}
        row["doc"] = {"question_id": f"refcoco_val_{sid}", "file_name": f"COCO_train2014_{s.meta['image_id']:012d}.jpg"}
        logs.append(row)
    old = tmp_path / "refcoco_bbox_rec_val.json"
    old.write_text(json.dumps({"args": {}, "logs": logs}))
    result = api.import_predictions(
        "lmms-eval", [old], "refcoco_val", text_format="qwen3_vl",
        data=DataOptions(synth_root, layout="refer"), output=OutputOptions(tmp_path / "out", report=False),
    )  # fmt: skip
    assert result.matching["matched_by"] == {"image_id+expression": len(design.case_of)}
    assert result.matching["unmatched"]["count"] == 0
    assert result.agreement["n_compared"] == len(design.case_of)
