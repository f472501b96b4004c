"""`cached_sha256`: weight digests are computed once per (path, size, mtime)."""

from __future__ import annotations

import hashlib
import os

import padt_eval.core.fileio as fileio


def _count_hashing(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = fileio.sha256_file

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(fileio, "sha256_file", counting)
    return calls


def test_digest_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    calls = _count_hashing(monkeypatch)
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"a" * 1000)
    expected = hashlib.sha256(b"a" * 1000).hexdigest()

    assert fileio.cached_sha256(f) == expected
    assert fileio.cached_sha256(f) == expected
    assert len(calls) == 1  # the second call read the cache, not the file

    f.write_bytes(b"b" * 1000)  # same size, new content and mtime
    os.utime(f, ns=(1, 1))
    assert fileio.cached_sha256(f) == hashlib.sha256(b"b" * 1000).hexdigest()
    assert len(calls) == 2


def test_unwritable_cache_still_hashes(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("PADT_EVAL_CACHE", str(blocker))  # cache folder cannot be created
    f = tmp_path / "w.bin"
    f.write_bytes(b"xyz")
    assert fileio.cached_sha256(f) == hashlib.sha256(b"xyz").hexdigest()


def test_padt_adapter_and_run_identity_hash_once(tiny_checkpoint, tmp_path, monkeypatch):
    """A model run hashes its weights for the run identity and for the model description;
    with the cache that is one read of the weights, and a rerun reads them not at all."""
    from padt_eval.models.padt.adapter import load_padt
    from padt_eval.runner.fingerprint import model_identity

    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path / "cache"))
    calls = _count_hashing(monkeypatch)
    ident = model_identity(str(tiny_checkpoint))
    desc = load_padt(str(tiny_checkpoint)).describe()
    assert desc["weights_sha256"] == ident["weights_sha256"]
    assert (
        desc["weights_sha256"]["model.safetensors"]
        == hashlib.sha256((tiny_checkpoint / "model.safetensors").read_bytes()).hexdigest()
    )
    assert len(calls) == 1
    load_padt(str(tiny_checkpoint)).describe()
    model_identity(str(tiny_checkpoint))
    assert len(calls) == 1
