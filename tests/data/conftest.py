"""Fixtures of the fetch tests: synthetic archives and JSONL files shaped like the real ones,
a local server on 127.0.0.1 serving them, and a sources catalog pointing at it."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from padt_eval.core.types import Task
from padt_eval.data.split_table import splits_for
from padt_eval.fetch import sources as src_mod
from padt_eval.fetch.sources import Catalog

from .local_server import FakeHub, FileServer

# the eight RefCOCO/+/g splits: those PaDT's processed files exist for (not Ref-L4's)
REFERRING_SPLITS = [name for name, s in splits_for(Task.REC).items() if any(lay.name == "padt-jsonl" for lay in s.layouts)]

REFER = {
    "refcoco": ("unc", ("val", "testA", "testB")),
    "refcoco+": ("unc", ("val", "testA", "testB")),
    "refcocog": ("umd", ("val", "test")),
}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="session")
def payloads(tmp_path_factory) -> dict:
    """name -> bytes for every synthetic source, plus counts the catalog needs."""
    from padt_eval.demo.synthetic import (
        as_val2017,
        make_world,
        write_coco_instances,
        write_images,
        write_padt_jsonl,
        write_refer,
        write_ric_jsonl,
    )

    tmp = tmp_path_factory.mktemp("payloads")
    world = make_world(9, seed=7)
    out: dict = {"n_train_images": len(world)}
    for ds, (by, splits) in REFER.items():
        d = tmp / ds
        write_refer(world, d, split_by=by, split_of=lambda image_id, s=splits: s[image_id % len(s)])
        members = {f"{ds}/{p.name}": p.read_bytes() for p in sorted(d.iterdir())}
        members[f"{ds}/refs(google).p"] = members[f"{ds}/refs({by}).p"]  # the real archives hold both partitions
        out[f"{ds}.zip"] = zip_bytes(members)
    write_images(world, tmp / "train2014")
    out["train2014.zip"] = zip_bytes({f"train2014/{p.name}": p.read_bytes() for p in sorted((tmp / "train2014").iterdir())})
    val = as_val2017(make_world(4, seed=8, first_image_id=139))  # COCO val2017-style names
    write_images(val, tmp / "val2017")
    out["val2017.zip"] = zip_bytes({f"val2017/{p.name}": p.read_bytes() for p in sorted((tmp / "val2017").iterdir())})
    out["n_val_images"] = len(val)
    write_coco_instances(val, tmp / "instances_val2017.json")
    instances = (tmp / "instances_val2017.json").read_bytes()
    out["instances_val2017.json"] = instances
    out["annotations_trainval2017.zip"] = zip_bytes(
        {
            "annotations/instances_val2017.json": instances,
            "annotations/captions_val2017.json": b"{}",
            "annotations/instances_train2017.json": b"{}",
        }
    )
    for i, split in enumerate(REFERRING_SPLITS):  # each split file different, as on the Hub
        write_padt_jsonl(world[: 1 + i], tmp / f"{split}.json")
        out[f"padt/{split}.json"] = (tmp / f"{split}.json").read_bytes()
    out["padt/coco_instances_val2017.json"] = b'{"id": 139, "image": "000000000139.jpg"}\n'
    write_ric_jsonl(val, tmp / "ric.jsonl")
    out["padt/ric_instances_val2017.json"] = (tmp / "ric.jsonl").read_bytes()
    return out


URL_PAYLOAD = {
    "refcoco-refer": "refcoco.zip",
    "refcoco+-refer": "refcoco+.zip",
    "refcocog-refer": "refcocog.zip",
    "coco-train2014": "train2014.zip",
    "coco-val2017": "val2017.zip",
    "coco-annotations2017": "annotations_trainval2017.zip",
}


def local_catalog(server: FileServer, payloads: dict) -> Catalog:
    """The real catalog, with every plain URL moved to `server` and sizes/checksums those of the synthetic files."""
    sources = {}
    for key, s in src_mod.CATALOG.sources.items():
        if key in URL_PAYLOAD:
            name = URL_PAYLOAD[key]
            data = payloads[name]
            server.files[f"/{name}"] = data
            outputs = tuple(
                dataclasses.replace(
                    o, n_files=payloads["n_train_images"] if key == "coco-train2014" else payloads["n_val_images"]
                )
                if o.n_files is not None
                else o
                for o in s.outputs
            )
            s = dataclasses.replace(
                s,
                url=server.url(f"/{name}"),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                md5=hashlib.md5(data).hexdigest() if s.md5 else None,
                outputs=outputs,
            )
        sources[key] = s
    return Catalog(sources, src_mod.CATALOG.datasets)


@pytest.fixture
def server():
    with FileServer(lifetime=60) as s:
        yield s


@pytest.fixture
def catalog(server, payloads, monkeypatch) -> Catalog:
    """A catalog served by `server`; also installed as the default, so the CLI uses it."""
    cat = local_catalog(server, payloads)
    monkeypatch.setattr(src_mod, "CATALOG", cat)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return cat


HF_FILES = {("PaDT-MLLM/RefCOCO", f"{split}.json"): f"padt/{split}.json" for split in REFERRING_SPLITS} | {
    ("PaDT-MLLM/COCO", "instances_val2017.json"): "padt/coco_instances_val2017.json",
    ("PaDT-MLLM/ReferringImageCaptioning", "ric_instances_val2017.json"): "padt/ric_instances_val2017.json",
}


@pytest.fixture
def hub(payloads, monkeypatch):
    """A fake Hub on 127.0.0.1 that HF_ENDPOINT points at, with every PaDT-MLLM file the catalog names."""
    import huggingface_hub.constants as hf_constants

    with FakeHub(lifetime=60) as h:
        for (repo, name), key in HF_FILES.items():
            h.add(repo, name, payloads[key], lfs=not name.startswith("refcocog"))  # refcocog_*: small-file path
        monkeypatch.setenv("HF_ENDPOINT", h.hub.base)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        yield h


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """No fetch test may reach (or even look up) any host but 127.0.0.1: a guard, should a source escape the local catalog."""
    import socket

    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no lookup of {host!r} outside 127.0.0.1")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
