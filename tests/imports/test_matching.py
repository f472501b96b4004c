"""Rows are matched by a key or listed: unmatched, ambiguous, conflicting; never guessed."""

from __future__ import annotations

import pytest

from padt_eval.core.errors import UsageError
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.imports.matching import match_rows
from padt_eval.imports.rows import ImportedFile, ImportedRow, RowKeys, normalised_expression


def _sample(sid: str, image_id: int, expr: str, box: list[float], ann_id: int | None = None) -> Sample:
    meta = {"image_id": image_id, "raw": expr.capitalize()}
    if ann_id is not None:
        meta["ann_id"] = ann_id
    return Sample(sid, Task.REC, ImageRef("x.png", 100, 80), expression=expr, objects=[GroundTruthObject(box)], meta=meta)


def _row(n: int, image_id=None, expr=None, ann_id=None, sample_id=None, text="t", generation=None, split=None) -> ImportedRow:
    keys = RowKeys(
        sample_id,
        None if ann_id is None else str(ann_id),
        None if image_id is None else str(image_id),
        normalised_expression(expr),
    )
    return ImportedRow(f"f:{n}", keys, text=text, generation=generation, split=split)


def _file(rows, grouped=False) -> ImportedFile:
    return ImportedFile("t", ["f"], rows, "test", grouped_objects=grouped)


SAMPLES = [
    _sample("0", 1, "the red circle", [0, 0, 10, 10], ann_id=11),
    _sample("1", 1, "red circle", [0, 0, 10, 10], ann_id=11),
    _sample("2", 1, "the cat", [20, 20, 30, 30], ann_id=12),
    _sample("3", 1, "the cat", [40, 40, 50, 50], ann_id=13),  # same image and words, another object
    _sample("4", 2, "the dog", [5, 5, 9, 9], ann_id=14),
    _sample("5", 2, "the dog", [5, 5, 9, 9], ann_id=14),  # a sentence written twice for one object
]


def test_expressions_match_as_sentences_not_as_bytes():
    m = match_rows(_file([_row(1, image_id=1, expr='"The Red  Circle."')]), SAMPLES, "s")
    assert list(m.rows_by_sample) == ["0"] and m.matched_by == {"image_id+expression": 1}


def test_annotation_id_first_then_image_id():
    # ann 12 + "the cat" names one sample, where image 1 + "the cat" names two
    m = match_rows(_file([_row(1, image_id=1, ann_id=12, expr="the cat")]), SAMPLES, "s")
    assert list(m.rows_by_sample) == ["2"] and m.matched_by == {"ann_id+expression": 1}


def test_unmatched_rows_are_listed_with_their_keys():
    m = match_rows(_file([_row(1, image_id=9, expr="the cat"), _row(2, text="no keys")]), SAMPLES, "s")
    assert [p.where for p in m.unmatched] == ["f:1", "f:2"]
    assert "image_id='9'" in m.unmatched[0].keys and "no sample of s" in m.unmatched[0].reason
    assert not m.rows_by_sample


def test_ambiguous_rows_are_listed_with_the_candidates_and_not_scored():
    m = match_rows(_file([_row(1, image_id=1, expr="the cat")]), SAMPLES, "s")
    assert not m.rows_by_sample
    assert len(m.ambiguous) == 1 and "2, 3" in m.ambiguous[0].reason


def test_two_rows_for_two_objects_of_one_key_stay_ambiguous():
    """As many rows as samples, but the samples differ in ground truth: pairing would be a guess."""
    m = match_rows(
        _file([_row(1, image_id=1, expr="the cat", text="a"), _row(2, image_id=1, expr="the cat", text="b")]), SAMPLES, "s"
    )
    assert not m.rows_by_sample and len(m.ambiguous) == 2


def test_the_same_question_twice_is_paired_in_order():
    """One object, one sentence written twice: either pairing scores the same."""
    m = match_rows(
        _file([_row(1, image_id=2, expr="the dog", text="a"), _row(2, image_id=2, expr="the dog", text="b")]), SAMPLES, "s"
    )
    assert {k: [r.text for r in v] for k, v in m.rows_by_sample.items()} == {"4": ["a"], "5": ["b"]}
    assert m.interchangeable == 2


def test_rows_that_disagree_on_one_sample_conflict():
    rows = [_row(1, sample_id="0", text="a"), _row(2, sample_id="0", text="b")]
    m = match_rows(_file(rows), SAMPLES, "s")
    assert not m.rows_by_sample and [p.where for p in m.conflicting] == ["f:1", "f:2"]


def test_the_same_answer_twice_is_kept_once():
    m = match_rows(_file([_row(1, sample_id="0", text="a"), _row(2, sample_id="0", text="a")]), SAMPLES, "s")
    assert [r.where for r in m.rows_by_sample["0"]] == ["f:1"] and m.repeated_identical == 1


def test_generations_are_kept_and_the_first_is_the_answer():
    rows = [_row(1, sample_id="0", text="b", generation=1), _row(2, sample_id="0", text="a", generation=0)]
    m = match_rows(_file(rows), SAMPLES, "s")
    assert len(m.rows_by_sample["0"]) == 2 and [r.text for r in m.answer_rows("0")] == ["a"]


def test_objects_of_one_answer_are_grouped():
    rows = [_row(1, image_id=1, expr="red circle"), _row(2, image_id=1, expr="red circle")]
    m = match_rows(_file(rows, grouped=True), SAMPLES, "s")
    assert [r.where for r in m.rows_by_sample["1"]] == ["f:1", "f:2"]


def test_rows_of_other_splits_are_counted_and_a_wrong_split_name_is_refused():
    rows = [_row(1, sample_id="0", split="RefCOCO_val"), _row(2, sample_id="1", split="RefCOCO_testA")]
    m = match_rows(_file(rows), SAMPLES, "refcoco_val")
    assert list(m.rows_by_sample) == ["0"] and m.other_split == {"RefCOCO_testA": 1}
    with pytest.raises(UsageError, match="RefCOCO_testA, RefCOCO_val"):
        match_rows(_file(rows), SAMPLES, "refcocog_val")


def test_an_annotation_id_on_a_split_without_them_says_so():
    samples = [_sample("0", 1, "the cat", [0, 0, 5, 5])]  # a PaDT JSONL split: image ids only
    m = match_rows(_file([_row(1, ann_id=7, expr="the cat")]), samples, "s")
    assert len(m.unmatched) == 1 and "--layout refer" in m.unmatched[0].reason
