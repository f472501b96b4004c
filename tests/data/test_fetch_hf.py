"""The Hugging Face path for real through huggingface_hub, with HF_ENDPOINT at a fake Hub on 127.0.0.1.

The fake Hub answers like the real one: a 302 from `/datasets/<repo>/resolve/<rev>/<file>` to
a storage host (another local server) carrying X-Repo-Commit, X-Linked-Etag (SHA-256) and
X-Linked-Size, or a 200 with the git blob SHA-1 as ETag for a small file.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.data.registry import locate_samples
from padt_eval.fetch import fetch, status
from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.state import stamp_path

from .local_server import FakeHub

runner = CliRunner()


def test_padt_jsonl_fetched_through_the_hub_and_found_by_the_registry(hub, payloads, tmp_path):
    root = tmp_path / "data"
    r = runner.invoke(app, ["data", "fetch", "refcoco", "refcocog", "--annotations", "padt", "--to", str(root)])
    assert r.exit_code == 0, r.output
    for split in ("refcoco_val", "refcoco_testA", "refcoco_testB", "refcocog_val", "refcocog_test"):
        layout, files, n, _ = locate_samples(split, root, "padt-jsonl")
        assert files == [root / "PaDT-MLLM" / "RefCOCO" / f"{split}.json"]
        assert files[0].read_bytes() == payloads[f"padt/{split}.json"]
        assert layout == "padt-jsonl" and n == sum(1 for line in payloads[f"padt/{split}.json"].splitlines() if line.strip())
    lfs = json.loads(stamp_path(root, "padt-refcoco_val").read_text())
    assert lfs["verified"] == ["size", "sha256"] and lfs["hub"]["commit"] == FakeHub.COMMIT
    assert lfs["sha256"] == hashlib.sha256(payloads["padt/refcoco_val.json"]).hexdigest()
    small = json.loads(stamp_path(root, "padt-refcocog_val").read_text())
    assert small["verified"] == ["size", "git-sha1"]
    # the bytes came from the commit the Hub named, the token went to the Hub only
    gets = hub.hub.gets()
    assert gets and all(f"/resolve/{FakeHub.COMMIT}/" in g["path"] for g in gets)
    assert all(r["headers"].get("Authorization") == "Bearer hf_test_token" for r in hub.hub.requests)
    assert hub.cdn.requests and all("Authorization" not in r["headers"] for r in hub.cdn.requests)
    rows = {(r.dataset, r.annotations): r for r in status(root)}
    assert rows[("refcoco", "padt")].state == "verified" and rows[("refcoco", "padt")].contents.startswith("3/3 splits")
    assert rows[("refcoco", "official")].state == "missing"


def test_hub_rerun_makes_no_request(hub, tmp_path):
    root = tmp_path / "data"
    fetch(["ric"], root)
    n = len(hub.hub.requests) + len(hub.cdn.requests)
    assert [o.action for o in fetch(["ric"], root)] == ["skipped"]
    assert len(hub.hub.requests) + len(hub.cdn.requests) == n


def test_hub_download_resumes_with_range(hub, payloads, tmp_path):
    data = payloads["padt/refcoco_val.json"]
    blob = f"/blobs/{hashlib.sha256(data).hexdigest()}"
    hub.cdn.drops[blob] = [len(data) // 3]
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="interrupted .* run the same command again to resume"):
        fetch(["refcoco"], root, "padt", retries=0)
    assert not (root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json").exists()
    fetch(["refcoco"], root, "padt")
    assert hub.cdn.gets(blob)[-1]["headers"]["Range"] == f"bytes={len(data) // 3}-"
    assert (root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json").read_bytes() == data


def test_hub_checksum_mismatch_refused(hub, payloads, tmp_path):
    data = payloads["padt/ric_instances_val2017.json"]
    blob = f"/blobs/{hashlib.sha256(data).hexdigest()}"
    hub.cdn.files[blob] = data.upper()  # storage serves other bytes than the Hub's SHA-256 says
    root = tmp_path / "data"
    r = runner.invoke(app, ["data", "fetch", "ric", "--to", str(root)])
    assert r.exit_code == 2 and "checksum mismatch" in r.output and "ric_instances_val2017.json" in r.output
    assert not (root / "PaDT-MLLM").exists() and not stamp_path(root, "padt-ric-val2017").exists()


def test_hub_missing_file_404(hub, catalog, tmp_path):
    hub.hub.redirects.clear()
    hub.missing("PaDT-MLLM/COCO", "instances_val2017.json")
    r = runner.invoke(app, ["data", "fetch", "coco-val2017", "--annotations", "padt", "--to", str(tmp_path)])
    assert r.exit_code == 2, r.output
    out = r.output.replace("\n", "")
    assert "file instances_val2017.json not found in dataset PaDT-MLLM/COCO (HTTP 404 for" in out
    assert f"{hub.hub.base}/datasets/PaDT-MLLM/COCO/resolve/main/instances_val2017.json" in out


def test_hub_offline_mode_is_respected(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = runner.invoke(app, ["data", "fetch", "ric", "--to", str(tmp_path)])
    assert r.exit_code == 2
    assert (
        "offline mode is on (HF_HUB_OFFLINE), so hf://datasets/PaDT-MLLM/ReferringImageCaptioning/ric_instances_val2017.json cannot be downloaded"
        in r.output.replace("\n", "")
    )
    assert hub.hub.requests == []


def test_hub_unreachable(hub, tmp_path):
    hub.hub.stop()
    r = runner.invoke(app, ["data", "fetch", "ric", "--to", str(tmp_path)])
    assert r.exit_code == 2
    assert f"cannot reach the Hugging Face Hub at {hub.hub.base} (no network?)" in r.output.replace("\n", "")
