"""`data fetch` end to end against a local server: registry layout, idempotence, resumption, refusals."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.data.registry import split_status
from padt_eval.fetch import fetch, status
from padt_eval.fetch import fetcher as fetcher_mod
from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.state import downloads_dir, stamp_path, tmp_dir

from .conftest import REFERRING_SPLITS, zip_bytes

runner = CliRunner()


def _rows(root, **kw):
    return {(r.dataset, r.annotations): r for r in status(root, **kw)}


def test_fetch_unpacks_into_the_registry_layout_and_splits_finds_them(catalog, server, tmp_path):
    root = tmp_path / "data"
    r = runner.invoke(app, ["data", "fetch", "refcoco", "refcoco+", "refcocog", "coco-train2014-images", "--to", str(root)])
    assert r.exit_code == 0, r.output
    assert (root / "refcoco" / "refs(unc).p").is_file() and (root / "refcoco" / "instances.json").is_file()
    assert (root / "refcocog" / "refs(umd).p").is_file()
    assert len(list((root / "coco" / "train2014").iterdir())) == 9
    for key in ("refcoco-refer", "refcoco+-refer", "refcocog-refer", "coco-train2014"):
        stamp = json.loads(stamp_path(root, key).read_text())
        assert stamp["verified"] == ["size", "sha256"] + (["md5"] if key == "coco-train2014" else [])
    # archives removed after unpacking; no partial or temporary file anywhere
    assert list(downloads_dir(root).iterdir()) == [] and list(tmp_dir(root).iterdir()) == []
    assert not list(root.rglob("*.part")) and not list(root.rglob("*.tmp"))
    r = runner.invoke(app, ["splits", "--data-root", str(root)])
    assert r.exit_code == 0, r.output
    rows = {row["split"]: row for row in split_status(root) if row["split"] in REFERRING_SPLITS}
    assert all(row["found"] and row["layout"] == "refer" for row in rows.values()), rows
    assert rows["refcoco_testA"]["n_samples"] > 0 and rows["refcocog_test"]["n_samples"] > 0
    assert all(
        _rows(root)[(d, k)].state == "verified"
        for d, k in [("refcoco", "official"), ("refcocog", "official"), ("coco-train2014-images", "images")]
    )


def test_second_run_checks_and_skips_without_downloading(catalog, server, tmp_path):
    root = tmp_path / "data"
    fetch(["refcoco", "coco-train2014-images"], root)
    n = len(server.requests)
    outcomes = fetch(["refcoco", "coco-train2014-images"], root)
    assert [o.action for o in outcomes] == ["skipped", "skipped"]
    assert len(server.requests) == n  # not even a HEAD
    r = runner.invoke(app, ["data", "fetch", "refcoco", "--to", str(root)])
    assert r.exit_code == 0 and "already fetched and verified" in r.output and "0 fetched, 1 already there" in r.output


def test_interrupted_fetch_leaves_nothing_in_place_and_resumes(catalog, server, tmp_path):
    root = tmp_path / "data"
    cut = len(server.files["/train2014.zip"]) // 2
    server.drops["/train2014.zip"] = [cut]
    with pytest.raises(FetchError, match="interrupted .* run the same command again to resume"):
        fetch(["coco-train2014-images"], root, retries=0)
    assert not (root / "coco").exists() and not stamp_path(root, "coco-train2014").exists()
    row = _rows(root)[("coco-train2014-images", "images")]
    assert row.state == "missing" and "partial download" in " ".join(row.notes)
    (outcome,) = fetch(["coco-train2014-images"], root)
    assert outcome.action == "fetched" and outcome.resumed_from == cut
    assert server.gets("/train2014.zip")[-1]["headers"]["Range"] == f"bytes={cut}-"
    assert len(list((root / "coco" / "train2014").iterdir())) == 9


def test_checksum_mismatch_is_refused_and_nothing_is_left(catalog, server, tmp_path):
    root = tmp_path / "data"
    data = bytearray(server.files["/refcoco.zip"])
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    server.files["/refcoco.zip"] = bytes(data)
    r = runner.invoke(app, ["data", "fetch", "refcoco", "--to", str(root)])
    assert r.exit_code == 2
    assert "checksum mismatch for http://127.0.0.1" in r.output and "/refcoco.zip" in r.output
    assert not (root / "refcoco").exists() and not stamp_path(root, "refcoco-refer").exists()
    assert list(downloads_dir(root).iterdir()) == []


def test_404_and_no_network_exit_2_with_the_url(catalog, server, tmp_path, monkeypatch):
    root = tmp_path / "data"
    del server.files["/refcocog.zip"]
    r = runner.invoke(app, ["data", "fetch", "refcocog", "--to", str(root)])
    assert r.exit_code == 2 and "HTTP 404" in r.output and f"{server.base}/refcocog.zip" in r.output.replace("\n", "")
    server.stop()  # the network is gone
    monkeypatch.setattr(fetcher_mod.http, "download", _no_retry(fetcher_mod.http.download))
    r = runner.invoke(app, ["data", "fetch", "refcoco", "--to", str(root)])
    assert r.exit_code == 2 and "connection refused" in r.output and "no network" in r.output
    assert f"{server.base}/refcoco.zip" in r.output.replace("\n", "")


def _no_retry(fn):
    def wrapped(*a, **kw):
        kw["retries"] = 0
        return fn(*a, **kw)

    return wrapped


def test_disk_space_is_checked_before_starting(catalog, server, tmp_path, monkeypatch):
    root = tmp_path / "data"

    class Usage:
        free = 1000

    monkeypatch.setattr(fetcher_mod.shutil, "disk_usage", lambda _p: Usage)
    r = runner.invoke(app, ["data", "fetch", "coco-train2014-images", "--to", str(root)])
    assert r.exit_code == 2 and "not enough disk space for COCO train2014 images" in r.output
    assert "only 1.0 KB free" in r.output and "/train2014.zip" in r.output.replace("\n", "")
    assert server.requests == []  # refused before any request


def test_coco_val2017_and_ric_land_where_the_ovd_and_ric_readers_look(catalog, server, hub, tmp_path):
    from padt_eval.core.types import Task
    from padt_eval.data.registry import open_split

    root = tmp_path / "data"
    rows = _rows(root)
    assert rows[("ric", "padt")].command == f"padt-eval data fetch ric coco-val2017 --to {root}"
    fetch(["ric"], root)
    row = _rows(root)[("ric", "padt")]
    assert row.state == "verified" and row.contents == "1/1 splits: ric_val (images missing)"
    assert row.command == f"padt-eval data fetch coco-val2017 --to {root}"
    fetch(["coco-val2017"], root)
    # only the needed member of annotations_trainval2017.zip is kept
    assert sorted(p.name for p in (root / "coco" / "annotations").iterdir()) == ["instances_val2017.json"]
    assert len(list((root / "coco" / "val2017").iterdir())) == 4
    rows = _rows(root)
    assert (
        rows[("coco-val2017", "official")].state == "verified"
        and rows[("coco-val2017", "official")].contents == "1/1 splits: coco_val2017"
    )
    assert rows[("ric", "padt")].command is None and rows[("coco-val2017", "padt")].state == "incomplete"
    found = {r["split"]: r for r in split_status(root)}
    assert found["coco_val2017"]["found"] and found["coco_val2017"]["layout"] == "coco" and found["ric_val"]["found"]
    assert len(open_split("coco_val2017", Task.OVD, data_root=root)) == 4
    assert len(open_split("ric_val", Task.RIC, data_root=root)) == 4  # one sample an image (3 captions each)
    r = runner.invoke(app, ["splits", "--data-root", str(root)])
    assert r.exit_code == 0 and "coco_val2017" in r.output and "ric_val" in r.output


def test_status_present_changed_and_incomplete(catalog, server, tmp_path, synth_root):
    # data put in place by hand: found, but not verified
    rows = _rows(synth_root)
    # the refer files hold only the val partition: status counts the splits `padt-eval splits` finds
    from padt_eval.data.registry import split_status

    found = [r["split"] for r in split_status(synth_root) if r["found"] and r["dataset"] == "refcoco"]
    assert found == ["refcoco_val"]
    assert (
        rows[("refcoco", "official")].state == "present" and rows[("refcoco", "official")].contents == "1/3 splits: refcoco_val"
    )
    assert rows[("refcoco", "padt")].state == "incomplete" and "refcoco_val" in rows[("refcoco", "padt")].contents
    images = rows[("coco-train2014-images", "images")]
    assert images.state == "incomplete" and images.contents == "train2014/: 12 of 9 files"  # the catalog expects 9
    assert rows[("refcocog", "official")].state == "missing" and rows[
        ("refcocog", "official")
    ].command == "padt-eval data fetch refcocog --to " + str(synth_root)
    # fetched, then changed by hand
    root = tmp_path / "data"
    fetch(["refcoco"], root)
    inst = root / "refcoco" / "instances.json"
    data = inst.read_bytes()
    inst.write_bytes(data.replace(b'"id"', b'"ID"'))  # same size: only --verify sees it
    assert _rows(root)[("refcoco", "official")].state == "verified"
    assert _rows(root, deep=True)[("refcoco", "official")].state == "changed"
    inst.write_bytes(data + b" ")
    assert _rows(root)[("refcoco", "official")].state == "changed"
    with pytest.raises(FetchError, match="changed since it was fetched"):
        fetch(["refcoco"], root)
    r = runner.invoke(app, ["data", "status", "--data-root", str(root), "--verify"])
    assert r.exit_code == 0 and "changed" in r.output
    # removed by hand: fetched anew
    shutil.rmtree(root / "refcoco")
    (o,) = fetch(["refcoco"], root)
    assert o.action == "fetched" and _rows(root)[("refcoco", "official")].state == "verified"


def test_existing_incomplete_folder_is_not_overwritten(catalog, server, tmp_path):
    root = tmp_path / "data"
    (root / "coco" / "train2014").mkdir(parents=True)
    (root / "coco" / "train2014" / "one.jpg").write_bytes(b"x")
    with pytest.raises(FetchError, match=r"train2014 exists but is incomplete \(holds 1 of 9 files\); move it away"):
        fetch(["coco-train2014-images"], root)
    assert server.requests == []


def test_complete_data_not_fetched_by_us_is_left_alone(catalog, server, tmp_path, synth_root):
    outcomes = fetch(["refcoco"], synth_root)
    assert [o.action for o in outcomes] == ["in-place"] and server.requests == []


def test_unsafe_archive_member_is_refused(catalog, server, tmp_path):
    import dataclasses
    import hashlib

    evil = zip_bytes({"refcoco/instances.json": b"{}", "refcoco/refs(unc).p": b"x", "refcoco/../../escape.txt": b"boo"})
    server.files["/refcoco.zip"] = evil
    catalog.sources["refcoco-refer"] = dataclasses.replace(
        catalog.sources["refcoco-refer"], size=len(evil), sha256=hashlib.sha256(evil).hexdigest()
    )
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="unsafe member name 'refcoco/../../escape.txt'"):
        fetch(["refcoco"], root)
    assert not (root / "refcoco").exists() and not (tmp_path / "escape.txt").exists()


def test_unknown_dataset_and_annotations(catalog, tmp_path):
    r = runner.invoke(app, ["data", "fetch", "refclef", "--to", str(tmp_path)])
    assert r.exit_code == 2 and "unknown dataset 'refclef'" in r.output
    r = runner.invoke(app, ["data", "fetch", "coco-val2017", "--annotations", "nope", "--to", str(tmp_path)])
    assert r.exit_code == 2 and "--annotations must be one of official, padt, both" in r.output


def test_sources_command_lists_every_source():
    r = runner.invoke(app, ["data", "sources"])
    assert r.exit_code == 0
    out = r.output
    assert "images.cocodataset.org/zips/train2014.zip" in out and "md5 0da8c0bd3d6becc4dcb32757491aca88" in out
    assert "hf://datasets/PaDT-MLLM/ReferringImageCaptioning/ric_instances_val2017.json" in out


def test_keep_archives_then_a_stopped_install_is_stamped_from_the_archive(catalog, server, tmp_path):
    root = tmp_path / "data"
    fetch(["refcocog"], root, keep_archives=True)
    archive = downloads_dir(root) / "refcocog.zip"
    assert archive.is_file()
    stamp_path(root, "refcocog-refer").unlink()  # as if the run stopped between unpacking and stamping
    n = len(server.requests)
    (o,) = fetch(["refcocog"], root)
    assert o.action == "fetched" and "stamped now" in o.detail and len(server.requests) == n
    assert not archive.exists() and _rows(root)[("refcocog", "official")].state == "verified"


def test_disk_full_while_writing_keeps_the_partial_file(catalog, server, tmp_path, monkeypatch):
    import errno

    from padt_eval.fetch import http as http_mod

    real_open = open

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            if self.n:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.n += len(b)
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def fake_open(path, mode="r", *a, **kw):
        f = real_open(path, mode, *a, **kw)
        return Full(f) if str(path).endswith(".part") and "b" in mode and mode != "rb" else f

    monkeypatch.setattr(http_mod, "CHUNK", 4096)
    monkeypatch.setattr(http_mod, "open", fake_open, raising=False)
    root = tmp_path / "data"
    with pytest.raises(FetchError, match=r"disk full while writing .*train2014\.zip\.part .*run the same command again"):
        fetch(["coco-train2014-images"], root)
    assert (downloads_dir(root) / "train2014.zip.part").stat().st_size == 4096 and not (root / "coco").exists()
    monkeypatch.delattr(http_mod, "open")  # the disk has room again
    (o,) = fetch(["coco-train2014-images"], root)
    assert o.resumed_from == 4096


def test_a_second_fetch_of_the_same_source_is_refused(catalog, server, tmp_path):
    from padt_eval.fetch.state import lock

    root = tmp_path / "data"
    with lock(root, "refcoco-refer"):
        with pytest.raises(FetchError, match="another padt-eval is fetching refcoco-refer"):
            fetch(["refcoco"], root)


def test_one_failed_source_does_not_stop_the_others(catalog, server, tmp_path):
    root = tmp_path / "data"
    del server.files["/refcoco+.zip"]
    r = runner.invoke(app, ["data", "fetch", "refcoco", "refcoco+", "refcocog", "--to", str(root)])
    assert r.exit_code == 2
    out = r.output.replace("\n", "")
    assert "1 of 3 sources failed (the others are in place):" in out and "refcoco+-refer: HTTP 404" in out
    assert (root / "refcoco" / "refs(unc).p").is_file() and (root / "refcocog" / "refs(umd).p").is_file()
    assert not (root / "refcoco+").exists()
