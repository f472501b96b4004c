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


def _age(path, seconds: float) -> None:
    """Set the file's mtime back: only a settled file's digest is remembered."""
    t = os.stat(path).st_mtime_ns - int(seconds * 1e9)
    os.utime(path, ns=(t, t))


def test_sha256_file_remembers_a_settled_file_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_DIGESTS", {})
    f = tmp_path / "preds.jsonl"
    f.write_bytes(b"a" * 1000)
    _age(f, 10)
    # ctime cannot be set back: the settle rule uses the later of mtime and ctime, so
    # pretend the clock has moved on instead
    monkeypatch.setattr(fileio.time, "time_ns", lambda: os.stat(f).st_ctime_ns + 10**10)
    assert fileio.sha256_file(f) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert len(fileio._DIGESTS) == 1
    assert fileio.sha256_file(f) == hashlib.sha256(b"a" * 1000).hexdigest()

    f.write_bytes(b"b" * 1000)  # same size: the ctime (and mtime) change
    assert fileio.sha256_file(f) == hashlib.sha256(b"b" * 1000).hexdigest()


def test_sha256_file_does_not_remember_a_file_written_just_now(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_DIGESTS", {})
    f = tmp_path / "preds.jsonl"
    f.write_bytes(b"a" * 1000)
    assert fileio.sha256_file(f) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert fileio._DIGESTS == {}
    # a same-size rewrite within the kernel's clock tick could keep every time stamp
    # equal; with nothing remembered the new content is hashed
    stat = os.stat(f)
    f.write_bytes(b"b" * 1000)
    os.utime(f, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fileio.sha256_file(f) == hashlib.sha256(b"b" * 1000).hexdigest()
