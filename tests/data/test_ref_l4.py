"""Ref-L4's release layout (parquet, the card's columns) and the cleaned RefCOCO splits built
from its reviewed annotations: reading, scoring through the registry with Ref-L4's metrics,
and exactly which expressions the review drops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from padt_eval import api
from padt_eval.core.errors import DataError, UsageError
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split, split_status
from padt_eval.demo.ref_l4 import review_document
from padt_eval.demo.synthetic import iter_sentences, make_world, write_refer
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions, ScoringOptions
from padt_eval.report.leaderboard import build_leaderboard
from tests.metrics.ref_l4_case import REF_L4_CASE, as_xyxy

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "official_scorers" / "ref_l4_expected.json").read_text())


def _row(ann_id, xywh, cls, caption="the thing on the left", file_name="COCO_train2014_000000000001.jpg", **extra):
    """One annotation with the columns of the Ref-L4 card's example."""
    return {
        "id": ann_id,
        "caption": caption,
        "bbox": list(map(float, xywh)),
        "bbox_area": float(xywh[2] * xywh[3]),
        "bbox_id": f"coco_{ann_id}",
        "ori_category_id": cls,
        "image_id": "coco_1",
        "height": 1000,
        "width": 1000,
        "file_name": file_name,
        "is_rewrite": False,
        "split": "val",
        **extra,
    }


def _write(rows: list[dict], root: Path, split: str = "val") -> Path:
    path = root / "ref_l4" / f"ref-l4-{split}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    (root / "ref_l4" / "images").mkdir(exist_ok=True)
    return path


def test_reader_reads_the_release_columns(tmp_path):
    rows = [
        _row(7, [10, 20, 30, 40], "refcoco_1", caption="a long expression"),
        _row(9, [0.5, 1.25, 100, 50], "o365_56", file_name="objects365_v2_00012345.jpg"),
    ]
    _write(rows, tmp_path)
    reader = open_split("ref_l4_val", Task.REC, data_root=tmp_path)
    samples = list(reader)
    assert [s.sample_id for s in samples] == ["7", "9"]
    assert samples[0].expression == "a long expression"
    assert samples[0].objects[0].bbox == [10.0, 20.0, 40.0, 60.0]
    assert samples[1].objects[0].bbox == [0.5, 1.25, 100.5, 51.25]
    assert samples[1].meta["bbox_xywh"] == [0.5, 1.25, 100.0, 50.0]
    assert samples[1].meta["ori_category_id"] == "o365_56"
    assert samples[1].image.path.endswith("ref_l4/images/objects365_v2_00012345.jpg")
    assert (samples[0].image.width, samples[0].image.height) == (1000, 1000)
    assert reader.info.scorer == "ref_l4" and reader.info.layout == "ref-l4"
    status = {r["split"]: r for r in split_status(tmp_path)}
    assert status["ref_l4_val"]["found"] and status["ref_l4_val"]["n_samples"] == 2
    assert not status["ref_l4_test"]["found"]


def test_string_ids_and_the_first_card_versions_ann_id_are_read(tmp_path):
    row = _row("000123", [1, 2, 3, 4], "o365_3")
    old = {("ann_id" if k == "id" else k): v for k, v in _row(5, [1, 2, 3, 4], "o365_3").items()}
    _write([row], tmp_path)
    assert next(iter(open_split("ref_l4_val", Task.REC, data_root=tmp_path))).sample_id == "000123"
    _write([old], tmp_path, "test")
    assert next(iter(open_split("ref_l4_test", Task.REC, data_root=tmp_path))).sample_id == "5"


@pytest.mark.parametrize(
    "rows, says",
    [
        ([{k: v for k, v in _row(1, [1, 2, 3, 4], "o365_3").items() if k != "caption"}], "row 0: lacks 'caption'"),
        ([_row(1, [1, 2, 3, 4], "o365_3"), _row(1, [5, 6, 7, 8], "o365_3")], "row 1: id 1 appears twice"),
        ([_row(1, [1, 2, 3, -4], "o365_3")], "row 0 (id 1): 'bbox' must be four finite numbers"),
    ],
)
def test_a_bad_row_is_named(tmp_path, rows, says):
    _write(rows, tmp_path)
    with pytest.raises(DataError, match=says.replace("(", r"\(").replace(")", r"\)")):
        open_split("ref_l4_val", Task.REC, data_root=tmp_path)


def test_scoring_a_ref_l4_split_equals_the_ref_l4_evaluator(tmp_path):
    """The registry path (parquet -> reader -> `rec --split ref_l4_val --protocol official`)
    gives every number Ref-L4's own evaluator returned on the synthetic case."""
    _write([_row(sid, xywh, cls) for sid, (xywh, cls, _, _) in REF_L4_CASE.items()], tmp_path)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"sample_id": sid, "objects": [{"bbox": as_xyxy(box, fmt)}]}) + "\n"
            for sid, (_, _, box, fmt) in REF_L4_CASE.items()
        )
    )
    got = {}
    for protocol in ("official", "standard"):
        result = api.score(
            Task.REC,
            "ref_l4_val",
            PredictionsOptions(preds),
            data=DataOptions(data_root=tmp_path),
            scoring=ScoringOptions(protocol),
            output=OutputOptions(tmp_path / f"run-{protocol}", "case"),
        )
        got[protocol] = result.metrics
    keys = {
        "acc@0.5": "Ann-level acc iou 0.5",
        "acc@0.75": "Ann-level acc iou 0.75",
        "acc@0.9": "Ann-level acc iou 0.9",
        "macc": "Ann-level macc iou 0.5:0.95",
        "small_acc@0.5": "Small acc iou 0.5",
        "medium_macc": "Medium macc iou 0.5:0.95",
        "large_acc@0.5": "Large acc iou 0.5",
        "cls_acc@0.5": "Average class-level acc iou 0.5",
        "cls_macc": "Average class-level macc iou 0.5:0.95",
    }
    for ours, theirs in keys.items():
        assert got["official"][ours] * 100 == pytest.approx(FIXTURE["returned"][theirs], abs=1e-9), ours
    # the two boxes at IoU exactly 0.5 are hits under the standard protocol only
    assert got["standard"]["acc@0.5"] - got["official"]["acc@0.5"] == pytest.approx(2 / 18, abs=1e-12)
    assert got["official"]["acc@0.5_padt_eval"] == got["standard"]["acc@0.5"]
    # the leaderboard gives Ref-L4 a table of its own, and leaves it out of the REC table
    tables = {t.key: t for t in build_leaderboard(tmp_path, None).tables}
    assert "rec" not in tables
    rows = {r.cells["protocol"].text: r for r in tables["ref_l4"].rows}
    assert rows["official"].cells["*|macc"].value == pytest.approx(FIXTURE["returned"]["Ann-level macc iou 0.5:0.95"], abs=1e-9)
    assert rows["standard"].cells["*|acc@0.5"].value == pytest.approx(got["standard"]["acc@0.5"] * 100, abs=1e-9)


def test_official_protocol_is_refused_where_no_benchmark_scorer_exists(tmp_path):
    _write([_row(1, [1, 2, 3, 4], "o365_3")], tmp_path)
    preds = tmp_path / "p.jsonl"
    preds.write_text("")
    for split, protocol, says in (
        ("refcoco_val", "official", "official is for grec, gres and the splits of a benchmark with its own scorer"),
        ("ref_l4_val", "padt-release", "padt-release is not available on a ref_l4 split"),
    ):
        with pytest.raises(UsageError, match=says):
            options = dict(data=DataOptions(data_root=tmp_path), scoring=ScoringOptions(protocol))
            api.score(Task.REC, split, PredictionsOptions(preds), **options)


# ---- the cleaned RefCOCO splits -----------------------------------------------------------


@pytest.fixture()
def reviewed_root(tmp_path) -> tuple[Path, list, dict]:
    world = make_world(8, seed=5)
    write_refer(world, tmp_path / "refcoco")
    (tmp_path / "coco" / "train2014").mkdir(parents=True)
    doc, _ = review_document(world)
    for ann in doc["annotations"]:  # each test flags its own
        ann["caption_quality"] = 1
    return tmp_path, world, doc


def _write_review(root: Path, doc: dict) -> None:
    path = root / "ref_l4" / "refcocos_annotation_reviewed" / "refcoco_val_reviewed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_the_cleaned_split_drops_exactly_the_flagged_expressions(reviewed_root):
    root, world, doc = reviewed_root
    rng = np.random.default_rng(1)
    flags = rng.random(len(doc["annotations"])) < 0.3
    for ann, bad in zip(doc["annotations"], flags):
        ann["caption_quality"] = 0 if bad else 1
    # entries are in sentence order (MDETR's conversion walks refs, then sentences)
    want_dropped = {str(sent_id) for (sent_id, *_), bad in zip(iter_sentences(world), flags) if bad}
    # an entry without the COCO annotation id is matched by its box instead
    del doc["annotations"][2]["original_id"]
    _write_review(root, doc)
    full = open_split("refcoco_val", Task.RES, data_root=root)
    cleaned = open_split("refcoco_val_cleaned", Task.RES, data_root=root)
    assert set(full.sample_ids()) - set(cleaned.sample_ids()) == want_dropped
    assert set(cleaned.sample_ids()) <= set(full.sample_ids())
    for s in cleaned:  # a kept sample is the refer sample itself: same text, box and mask
        f = full.get(s.sample_id)
        assert (s.expression, s.objects[0].bbox, s.objects[0].mask) == (f.expression, f.objects[0].bbox, f.objects[0].mask)
    assert cleaned.info.notes == [
        f"Ref-L4 review (refcoco_val_reviewed.json): {len(want_dropped)} expression(s) marked erroneous dropped"
    ]
    assert cleaned.info.layout == "refer+reviewed" and cleaned.info.files[-1].endswith("refcoco_val_reviewed.json")


def test_a_sentence_without_review_entry_is_dropped_and_counted_not_guessed(reviewed_root):
    root, world, doc = reviewed_root
    removed = doc["annotations"].pop(4)  # sentence 4 loses its entry ...
    doc["images"][removed["image_id"]]["caption"] = "a sentence nobody wrote"  # ... and that entry matches nothing
    doc["annotations"].append(removed)
    _write_review(root, doc)
    cleaned = open_split("refcoco_val_cleaned", Task.REC, data_root=root)
    assert "4" not in set(cleaned.sample_ids())
    assert len(cleaned) == sum(1 for _ in iter_sentences(world)) - 1
    assert any("1 refer expression(s) have no review entry" in n for n in cleaned.info.notes)
    assert any("1 review entr(ies) match no refer expression" in n for n in cleaned.info.notes)


def test_a_review_entry_without_caption_quality_is_named(reviewed_root):
    root, _, doc = reviewed_root
    del doc["annotations"][3]["caption_quality"]
    _write_review(root, doc)
    with pytest.raises(DataError, match=r"annotations\[3\]: 'caption_quality' must be a number"):
        open_split("refcoco_val_cleaned", Task.REC, data_root=root)


def test_data_fetch_dry_run_lists_ref_l4s_hub_files_where_the_splits_look(tmp_path):
    from typer.testing import CliRunner

    from padt_eval.cli import app
    from padt_eval.data.split_table import SPLITS

    r = CliRunner().invoke(app, ["data", "fetch", "ref-l4", "ref-l4-images", "--dry-run", "--to", str(tmp_path)])
    assert r.exit_code == 0, r.output
    names = ["ref-l4-val.parquet", "ref-l4-test.parquet", "images.tar.gz"] + [
        f"refcocos_annotation_reviewed/{d}_{s}_reviewed.json"
        for d, s in [("refcoco", "val"), ("refcoco", "testA"), ("refcoco", "testB"), ("refcoco+", "val")]
        + [("refcoco+", "testA"), ("refcoco+", "testB"), ("refcocog", "val"), ("refcocog", "test")]
    ]
    for name in names:
        assert f"hf://datasets/JierunChen/Ref-L4/{name}" in r.output
    # each file installs where its split looks first
    for split in ("ref_l4_val", "refcoco+_testB_cleaned"):
        assert f"<data-root>/{SPLITS[split].layouts[0].files[-1][0]}" in r.output
