"""Malformed input is refused with the file and line or row named (exit 2), before any
results folder is written."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.errors import DataError
from padt_eval.demo import toolkit_files as tf
from padt_eval.imports import read_toolkit_file


def test_lmms_eval_bad_line_names_file_and_line(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"doc_id": 0, "filtered_resps": "x"}\n{not json\n')
    with pytest.raises(DataError, match=r"s\.jsonl:2: not JSON"):
        read_toolkit_file("lmms-eval", [p])


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_bytes(b'\n{"index": "\xff"}\n')
    with pytest.raises(DataError, match=r"r\.jsonl:2: not UTF-8"):
        read_toolkit_file("evalscope", [p])
    with pytest.raises(DataError, match=r"r\.jsonl:2: not UTF-8"):
        read_toolkit_file("lmms-eval", [p])


def test_lmms_eval_record_of_the_wrong_shape(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(
        json.dumps({"doc_id": 0, "filtered_resps": "x", "refcoco_ACC@0.5": {"pred": [1, 2], "bbox": [0, 0, 1, 1]}}) + "\n"
    )
    with pytest.raises(DataError, match=r"s\.jsonl:1: 'refcoco_ACC@0\.5\.pred' must be four numbers"):
        read_toolkit_file("lmms-eval", [p])


def test_vlmevalkit_sheet_errors_name_the_row(tmp_path):
    p = tmp_path / "m.tsv"
    tf.write_tsv([{"index": "a", "prediction": "x", "hit": "1"}, {"index": "b", "prediction": "y", "hit": "yes"}], p)
    with pytest.raises(DataError, match=r"m\.tsv row 3: column 'hit' must be a number"):
        read_toolkit_file("vlmevalkit", [p])
    tf.write_tsv([{"index": "a", "answer": "x"}], p)
    with pytest.raises(DataError, match=r"m\.tsv row 2: no 'prediction' column"):
        read_toolkit_file("vlmevalkit", [p])
    p.write_text('"index"\t"prediction"\n"a"\t"x"\t"extra"\n')
    with pytest.raises(DataError, match=r"m\.tsv row 2: 3 cells, the header has 2"):
        read_toolkit_file("vlmevalkit", [p])
    bad = tmp_path / "m.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"m\.xlsx: not a readable \.xlsx workbook"):
        read_toolkit_file("vlmevalkit", [bad])


def test_evalscope_and_release_errors(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"index": 0}) + "\n")
    with pytest.raises(DataError, match=r"r\.jsonl:1: neither a review"):
        read_toolkit_file("evalscope", [p])
    p.write_text(json.dumps({"image_id": 1, "category": "x", "bbox": [1, 2, 3]}) + "\n")
    with pytest.raises(DataError, match=r"r\.jsonl:1: 'bbox' must be four numbers"):
        read_toolkit_file("padt-release", [p])


def test_cli_refusals_exit_2(synth_root, tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text("{bad\n")
    base = ["import", str(p), "-s", "refcoco_val", "--data-root", str(synth_root), "--layout", "refer", "-o", str(tmp_path / "o")]
    r = CliRunner().invoke(app, [*base, "--from", "lmms-eval", "--format", "qwen3_vl"])
    assert r.exit_code == 2 and "s.jsonl:1: not JSON" in r.output
    r = CliRunner().invoke(app, [*base, "--from", "lmms-eval"])
    assert r.exit_code == 2 and "--format" in r.output
    r = CliRunner().invoke(app, [*base, "--from", "padt-release", "--format", "qwen3_vl"])
    assert r.exit_code == 2 and "leave out --format" in r.output
    r = CliRunner().invoke(app, [*base, "--from", "lmms_eval", "--format", "qwen3_vl"])
    assert r.exit_code == 2 and "did you mean 'lmms-eval'" in r.output
    assert not (tmp_path / "o").exists()


def test_cli_import_prints_matching_and_agreement(synth_root, tmp_path):
    from padt_eval.core.types import Task
    from padt_eval.data.registry import open_split

    samples = list(open_split("refcoco_val", Task.REC, data_root=synth_root, layout="refer", require_images=False))
    p = tmp_path / "samples.jsonl"
    tf.write_lmms_eval(samples, p)
    args = ["import", str(p), "--from", "lmms-eval", "-s", "refcoco_val", "--format", "qwen3_vl"]
    r = CliRunner().invoke(
        app, [*args, "--data-root", str(synth_root), "--layout", "refer", "-o", str(tmp_path / "o"), "--no-report"]
    )
    assert r.exit_code == 0, r.output
    assert "1 unmatched" in r.output and "Agreement with lmms-eval" in r.output and "coordinate_frame" in r.output
    assert (tmp_path / "o" / "metrics.json").is_file() and (tmp_path / "o" / "import.json").is_file()
