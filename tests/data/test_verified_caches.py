"""Derived caches are verified, never trusted (S08), and an unwritable cache costs only
speed (F07); refer files of the wrong shape are named by file, entry and field (S05, S06)."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core import fileio
from padt_eval.core.errors import DataError
from padt_eval.core.types import Task
from padt_eval.data.instances import load_image_instances
from padt_eval.data.refer import ReferReader
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions

runner = CliRunner()
WARNING = "warning: cannot write"
CHECK_SUFFIX = ".check.json"  # the record beside each cache (docs/cli.md, core/derived_cache.py)


def check_path(cache):
    return cache.with_name(cache.name + CHECK_SUFFIX)


def _val_sentences(refer_dir) -> list[str]:
    """The 'val' sentence ids, read from the refs pickle itself (not through the reader)."""
    with open(refer_dir / "refs(unc).p", "rb") as f:
        refs = pickle.load(f)
    return [str(s["sent_id"]) for r in refs if r["split"] == "val" for s in r["sentences"]]


def _edit_expression(cache):
    """A cache that still parses but no longer says what the sources say."""
    cache.write_bytes(cache.read_bytes().replace(b'"expression": "', b'"expression": "not ', 1))


def _plain(s):
    return (s.sample_id, s.expression, s.image.path, s.objects[0].bbox, s.objects[0].mask)


def _unwritable_cache(tmp_path, monkeypatch):
    """A cache folder that cannot be created: its parent is a file (works as root too,
    where a chmod-ed read-only folder would still be written)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PADT_EVAL_CACHE", str(blocker / "cache"))


def test_S08_a_split_cache_cut_at_a_line_boundary_is_rebuilt(synth_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    want = _val_sentences(synth_root / "refcoco")
    full = open_split("refcoco_val", Task.REC, data_root=synth_root)
    assert list(full.sample_ids()) == want
    assert full.cache_record["n_items"] == len(want) and full.cache_record["ground_truth_validated"] is True
    (cache,) = (tmp_path / "cache" / "refer").glob("*.jsonl")
    whole = cache.read_bytes()
    lines = whole.splitlines(keepends=True)
    cache.write_bytes(b"".join(lines[: len(lines) // 2]))  # still valid JSONL, half the split

    preds = tmp_path / "preds.jsonl"
    make_predictions(full, preds, seed=1)
    out = tmp_path / "run"
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["counts"]["n_samples"] == len(want)
    assert cache.read_bytes() == whole  # rebuilt on disk, not trusted by name


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda c: _edit_expression(c), id="content-changed"),
        pytest.param(lambda c: (_edit_expression(c), check_path(c).unlink()), id="record-missing"),
        pytest.param(lambda c: (_edit_expression(c), check_path(c).write_text("{")), id="record-garbage"),
    ],
)
def test_S08_any_cache_that_disagrees_with_its_record_is_rebuilt(synth_root, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    first = ReferReader(
        synth_root / "refcoco" / "refs(unc).p", synth_root / "refcoco" / "instances.json", "val", synth_root, Task.REC
    )
    samples = [_plain(s) for s in first]
    (cache,) = (tmp_path / "cache" / "refer").glob("*.jsonl")
    whole = cache.read_bytes()
    damage(cache)
    again = ReferReader(
        synth_root / "refcoco" / "refs(unc).p", synth_root / "refcoco" / "instances.json", "val", synth_root, Task.REC
    )
    assert [_plain(s) for s in again] == samples
    assert cache.read_bytes() == whole


def test_S08_the_instances_cache_is_verified_too(tmp_path, monkeypatch, synth_root):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    instances = synth_root / "refcoco" / "instances.json"
    doc = json.loads(instances.read_text())
    ids = [img["id"] for img in doc["images"]]
    first = load_image_instances(instances, ids)
    (cache,) = [p for p in (tmp_path / "cache" / "instances").glob("*.json") if not p.name.endswith(CHECK_SUFFIX)]
    kept = json.loads(cache.read_text())
    dropped = next(iter(kept))
    del kept[dropped]  # a valid JSON cache that lost an image
    cache.write_text(json.dumps(kept))
    again = load_image_instances(instances, ids)
    assert again.by_image == first.by_image
    # independent count: the file's non-crowd annotations of that image
    assert len(again.get(int(dropped))) == sum(
        1 for a in doc["annotations"] if a["image_id"] == int(dropped) and not a.get("iscrowd")
    )


def test_F07_an_unwritable_cache_costs_only_speed(synth_root, tmp_path, monkeypatch):
    """A model run with every cache unwritable (split, instances for the error breakdown)
    finishes, writes its results with the breakdown, and says so once; a rerun works too."""
    _unwritable_cache(tmp_path, monkeypatch)
    out = tmp_path / "run"
    cmd = ["res", "-s", "refcoco_val", "--data-root", str(synth_root), "--model", "colour-finder", "-o", str(out)]
    cmd += ["--device", "cpu", "--loader-workers", "0", "-b", "4"]
    r = runner.invoke(app, cmd)
    assert r.exit_code == 0, r.output
    assert r.output.count(WARNING) == 1, r.output
    assert "Traceback" not in r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["counts"]["n_samples"] == len(_val_sentences(synth_root / "refcoco"))
    assert doc["errors"]["wrong_object_available"] is True
    monkeypatch.setenv("PADT_EVAL_CACHE_WARNED", "")  # a new run in the same process
    shutil.rmtree(out)
    again = runner.invoke(app, cmd)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "metrics.json").read_text())["metrics"] == doc["metrics"]


def test_F07_the_weight_hash_cache_warns_once_and_still_hashes(tmp_path, monkeypatch, capsys):
    import hashlib

    _unwritable_cache(tmp_path, monkeypatch)
    files = [tmp_path / f"w{i}.bin" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 100)
    assert [fileio.cached_sha256(f) for f in files] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert capsys.readouterr().err.count(WARNING) == 1


def test_F07_a_damaged_weight_digest_is_recomputed(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    fileio.cached_sha256(f)
    (entry,) = (tmp_path / "cache" / "weight-hashes").iterdir()
    entry.write_text("z" * 64)  # the right length, not a digest
    assert fileio.cached_sha256(f) == hashlib.sha256(b"weights").hexdigest()


# -- S05, S06: refer files of the wrong shape ---------------------------------------------
def _copy_refer(synth_root, tmp_path):
    d = tmp_path / "refcoco"
    shutil.copytree(synth_root / "refcoco", d)
    with open(d / "refs(unc).p", "rb") as f:
        refs = pickle.load(f)
    return d, refs, json.loads((d / "instances.json").read_text())


def _open(d):
    return ReferReader(d / "refs(unc).p", d / "instances.json", "val", d, Task.REC)


def _refs_without_sent_id(refs, inst):
    del refs[0]["sentences"][-1]["sent_id"]


def _refs_sentences_not_a_list(refs, inst):
    refs[0]["sentences"] = "a dog"


def _refs_no_image_id(refs, inst):
    del refs[0]["image_id"]


def _instances_image_without_height(refs, inst):
    img = next(i for i in inst["images"] if i["id"] == refs[0]["image_id"])
    del img["height"]


def _instances_annotation_without_segmentation(refs, inst):
    ann = next(a for a in inst["annotations"] if a["id"] == refs[0]["ann_id"])
    del ann["segmentation"]


def _instances_images_not_a_list(refs, inst):
    inst["images"] = {"id": 1}


@pytest.mark.parametrize(
    ("damage", "file", "wanted"),
    [
        (_refs_without_sent_id, "refs(unc).p", r"ref #0\) sentences\[\d+\]: no 'sent_id' field"),
        (_refs_sentences_not_a_list, "refs(unc).p", r"ref #0\): 'sentences' must be list, got str"),
        (_refs_no_image_id, "refs(unc).p", r"ref #0\): no 'image_id' field"),
    ],
)
def test_S05_refs_pickle_of_the_wrong_shape_names_ref_and_field(synth_root, tmp_path, monkeypatch, damage, file, wanted):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    d, refs, inst = _copy_refer(synth_root, tmp_path)
    damage(refs, inst)
    with open(d / "refs(unc).p", "wb") as f:
        pickle.dump(refs, f)
    with pytest.raises(DataError, match=wanted) as err:
        _open(d)
    assert str(d / file) in str(err.value)


@pytest.mark.parametrize(
    ("damage", "wanted"),
    [
        (_instances_image_without_height, r"image \d+ \(used by .*ref #0\)\): no 'height' field"),
        (_instances_annotation_without_segmentation, r"annotation \d+ \(used by .*ref #0\)\): no 'segmentation' field"),
        (_instances_images_not_a_list, r"'images' must be list, got dict"),
    ],
)
def test_S06_instances_json_of_the_wrong_shape_names_entry_and_field(synth_root, tmp_path, monkeypatch, damage, wanted):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    d, refs, inst = _copy_refer(synth_root, tmp_path)
    damage(refs, inst)
    (d / "instances.json").write_text(json.dumps(inst))
    with pytest.raises(DataError, match=wanted) as err:
        _open(d)
    assert str(d / "instances.json") in str(err.value)
    # the same file read for the error breakdown names the entry and field too
    if damage is not _instances_images_not_a_list:
        with pytest.raises(DataError, match=r"(images|annotations)\[\d+\]: missing or bad '(height|segmentation)'"):
            load_image_instances(d / "instances.json", [refs[0]["image_id"]])


def test_S05_S06_through_the_cli_exit_2_without_traceback(synth_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    d, refs, inst = _copy_refer(synth_root, tmp_path)
    shutil.copytree(synth_root / "coco", tmp_path / "coco")
    _refs_without_sent_id(refs, inst)
    with open(d / "refs(unc).p", "wb") as f:
        pickle.dump(refs, f)
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"sample_id": "0", "objects": []}\n')
    r = runner.invoke(
        app, ["rec", "-s", "refcoco_val", "--data-root", str(tmp_path), "-p", str(preds), "-o", str(tmp_path / "o")]
    )
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "sent_id" in r.output and "refs(unc).p" in r.output
