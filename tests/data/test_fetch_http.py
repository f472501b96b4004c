"""The resumable download against a local server: full, resumed, refused, errors."""

from __future__ import annotations

import hashlib
import socket

import pytest

from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.http import Expected, download, part_paths

from .local_server import FileServer

DATA = bytes(range(256)) * 4096  # 1 MiB


def expected(data: bytes = DATA) -> Expected:
    return Expected(size=len(data), sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest())


def test_full_download_verified(server, tmp_path):
    server.files["/f.bin"] = DATA
    got = download(server.url("/f.bin"), tmp_path / "f.bin", expected())
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert got.checked == ("size", "sha256", "md5") and got.resumed_from == 0
    assert not any(p.exists() for p in part_paths(tmp_path / "f.bin"))
    assert "Range" not in server.gets("/f.bin")[0]["headers"]


def test_dropped_connection_resumes_with_range_in_the_same_run(server, tmp_path):
    server.files["/f.bin"] = DATA
    server.drops["/f.bin"] = [300_000, 700_000]  # two drops, then a clean answer
    got = download(server.url("/f.bin"), tmp_path / "f.bin", expected(), backoff=0)
    assert (tmp_path / "f.bin").read_bytes() == DATA and "sha256" in got.checked
    ranges = [r["headers"].get("Range") for r in server.gets("/f.bin")]
    assert ranges == [None, "bytes=300000-", "bytes=700000-"]
    assert all(r["headers"].get("If-Range") == FileServer.etag(DATA) for r in server.gets("/f.bin")[1:])


def test_interrupted_run_resumes_in_the_next_run(server, tmp_path):
    server.files["/f.bin"] = DATA
    server.drops["/f.bin"] = [400_000]
    dest = tmp_path / "f.bin"
    with pytest.raises(
        FetchError,
        match=r"interrupted after 400,000 of 1,048,576 bytes of http://127\.0\.0\.1:\d+/f\.bin.*run the same command again",
    ):
        download(server.url("/f.bin"), dest, expected(), retries=0)
    part, _ = part_paths(dest)
    assert not dest.exists() and part.stat().st_size == 400_000  # nothing where a reader looks
    got = download(server.url("/f.bin"), dest, expected())
    assert dest.read_bytes() == DATA and got.resumed_from == 400_000 and "sha256" in got.checked
    assert server.gets("/f.bin")[-1]["headers"]["Range"] == "bytes=400000-"
    assert not part.exists()


def test_checksum_mismatch_refused_and_nothing_left(server, tmp_path):
    server.files["/f.bin"] = DATA
    bad = Expected(size=len(DATA), sha256="0" * 64)
    with pytest.raises(
        FetchError, match=r"checksum mismatch for http://127\.0\.0\.1:\d+/f\.bin: sha256 is [0-9a-f]{64}, expected 0{64}"
    ):
        download(server.url("/f.bin"), tmp_path / "f.bin", bad)
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_refused_before_the_body(server, tmp_path):
    server.files["/f.bin"] = DATA
    with pytest.raises(FetchError, match="size mismatch .* sends 1,048,576 bytes, expected 1,000"):
        download(server.url("/f.bin"), tmp_path / "f.bin", Expected(size=1000))
    assert list(tmp_path.iterdir()) == []


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.files["/f.bin"] = DATA
    server.drops["/f.bin"] = [500_000]
    server.ignore_range.add("/f.bin")
    got = download(server.url("/f.bin"), tmp_path / "f.bin", expected(), backoff=0)
    assert (tmp_path / "f.bin").read_bytes() == DATA and "sha256" in got.checked


def test_file_changed_on_server_between_runs_is_not_spliced(server, tmp_path):
    server.files["/f.bin"] = DATA
    server.drops["/f.bin"] = [400_000]
    dest = tmp_path / "f.bin"
    with pytest.raises(FetchError):
        download(server.url("/f.bin"), dest, retries=0)
    new = DATA[::-1]
    server.files["/f.bin"] = new  # new ETag: If-Range makes the server send the whole new file
    download(server.url("/f.bin"), dest)
    assert dest.read_bytes() == new


def test_404_names_the_url(server, tmp_path):
    with pytest.raises(FetchError, match=r"HTTP 404 .*not found.* for http://127\.0\.0\.1:\d+/nope\.zip"):
        download(server.url("/nope.zip"), tmp_path / "nope.zip")
    assert list(tmp_path.iterdir()) == []


def test_no_network_names_the_url(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/refcoco.zip"
    with pytest.raises(
        FetchError, match=rf"connection refused by 127\.0\.0\.1:{port} \(no network, or the server is down\) while fetching {url}"
    ):
        download(url, tmp_path / "refcoco.zip", retries=0)


def test_authorization_stays_on_the_origin(tmp_path):
    with FileServer(lifetime=30) as origin, FileServer(lifetime=30) as storage:
        storage.files["/blob"] = DATA
        origin.redirects["/file"] = (302, storage.url("/blob"), {})
        download(origin.url("/file"), tmp_path / "f", expected(), auth_header="Bearer secret")
        assert origin.requests[0]["headers"].get("Authorization") == "Bearer secret"
        assert "Authorization" not in storage.requests[0]["headers"]


def test_space_check_runs_before_any_byte_is_written(server, tmp_path):
    server.files["/f.bin"] = DATA

    def no_space(n: int) -> None:
        raise FetchError(f"not enough disk space: needs {n}")

    with pytest.raises(FetchError, match="needs 1048576"):
        download(server.url("/f.bin"), tmp_path / "f.bin", check_space=no_space)
    part, _ = part_paths(tmp_path / "f.bin")
    assert not (tmp_path / "f.bin").exists() and (not part.exists() or part.stat().st_size == 0)


class SilentServer:
    """Accepts connections on 127.0.0.1 and never sends a byte (a hung host)."""

    def __init__(self) -> None:
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.mark.timeout(60)  # the hang detector: a download that waits forever fails here
def test_a_host_that_never_answers_is_retried_aloud_then_named(tmp_path):
    silent = SilentServer()
    url = f"http://127.0.0.1:{silent.port}/refcoco.zip"
    said: list[str] = []
    try:
        with pytest.raises(FetchError) as e:
            download(url, tmp_path / "refcoco.zip", timeout=0.2, retries=2, backoff=0.05, notify=said.append)
    finally:
        silent.close()
    assert str(e.value) == f"no answer from 127.0.0.1:{silent.port} (timed out) while fetching {url}"
    assert said == [
        f"{url}: no answer from 127.0.0.1:{silent.port} (timed out); retry 1 of 2 in 0 s",
        f"{url}: no answer from 127.0.0.1:{silent.port} (timed out); retry 2 of 2 in 0 s",
    ]
    assert len(silent.held) == 3  # the first try and two retries, each a new connection


def test_fetch_timeout_option_reaches_the_download(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import padt_eval.fetch as fetch_pkg
    from padt_eval.cli import app
    from padt_eval.fetch.http import DEFAULT_TIMEOUT

    seen = {}

    def fake_fetch(names, to, annotations, **kw):
        seen.update(kw)
        kw["notify"]("a retry notice")
        return []

    monkeypatch.setattr(fetch_pkg, "fetch", fake_fetch)
    r = CliRunner().invoke(app, ["data", "fetch", "refcoco", "--to", str(tmp_path), "--timeout", "90"])
    assert r.exit_code == 0, r.output
    assert seen["timeout"] == 90.0 and "a retry notice" in r.output
    r = CliRunner().invoke(app, ["data", "fetch", "refcoco", "--to", str(tmp_path)])
    assert seen["timeout"] == DEFAULT_TIMEOUT <= 10  # a few seconds by default, not a minute


@pytest.mark.timeout(60)  # the hang detector: without a minimum rate this download takes 600 s
def test_H08_a_server_that_trickles_under_the_timeout_is_stalled_then_named(tmp_path):
    """One byte every 0.3 s keeps each read under the 0.5 s timeout for ever; under the
    minimum rate (100 B/s over 1 s windows) each try is stalled, retried from where it
    stopped, and the last one ends with the partial file kept for a later resume."""
    data = bytes(range(256)) * 8  # 2 KiB: 600 s at this pace
    said: list[str] = []
    with FileServer({"/slow.zip": data}, lifetime=50) as srv:
        srv.trickle["/slow.zip"] = 0.3
        url = srv.url("/slow.zip")
        dest = tmp_path / "slow.zip"
        with pytest.raises(FetchError) as e:
            download(
                url, dest, expected(data), timeout=0.5, retries=2, backoff=0.01, min_rate=100, rate_window=1.0, notify=said.append
            )
        gets = srv.gets("/slow.zip")
    part, _ = part_paths(dest)
    kept = part.stat().st_size
    assert 0 < kept < len(data) and not dest.exists()
    assert part.read_bytes() == data[:kept]  # what the retries wrote is the file's start, in order
    assert len(gets) == 3  # the first try and two retries, each resuming where the last stopped
    assert [g["headers"].get("Range") for g in gets][1:] == [f"bytes={n}-" for n in _resumed_offsets(said)]
    assert len(said) == 2 and all("too slow:" in s and "under the minimum of 100 bytes/s (--min-rate)" in s for s in said), said
    assert str(e.value).startswith(f"download interrupted after {kept:,} of {len(data):,} bytes of {url} (too slow: ")
    assert str(e.value).endswith(f"the partial file {part} is kept: run the same command again to resume")


def _resumed_offsets(said: list[str]) -> list[int]:
    """The byte offsets each retry notice says the transfer stopped at."""
    import re

    return [int(re.search(r"broke off at ([\d,]+) bytes", s).group(1).replace(",", "")) for s in said]
