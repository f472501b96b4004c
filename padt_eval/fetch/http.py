"""Resumable, verified HTTP download with the standard library.

The bytes go to `<dest>.part`; an interrupted download resumes from there with a Range
request (and If-Range, so a file that changed on the server restarts instead of being
spliced). Size, SHA-256, MD5 and git blob SHA-1 are checked when known; only a file that
passes is renamed to `<dest>`. A file that fails is deleted: nothing half-right is left
where anyone would take it for complete.

Every wait is bounded. `timeout` bounds each wait for a byte; a minimum rate bounds a
transfer that gets its bytes, but too few of them (a server that sends one byte just
before each timeout would otherwise keep a download going for ever, H08): a try that
receives less than `min_rate` bytes/s over a whole `rate_window` is stalled, and is
retried from where it stopped like a broken connection. A minimum rate rather than an
overall deadline, because a deadline long enough for a 13 GB archive on a slow link
would never catch a stalled small file.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from padt_eval import __version__
from padt_eval.fetch.errors import FetchError

CHUNK = 1 << 20
USER_AGENT = f"padt-eval/{__version__} (+data fetch)"
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")


class Progress(Protocol):
    def start(self, description: str, total: int | None, completed: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, description: str, total: int | None, completed: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class Expected:
    """What the finished file must match; None = not known."""

    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    git_sha1: str | None = None  # git blob id, as the Hub reports for small files


@dataclass
class Downloaded:
    path: Path
    size: int
    sha256: str
    md5: str
    resumed_from: int  # bytes already on disk when this run started (0: a fresh download)
    checked: tuple[str, ...]  # which of size/sha256/md5/git-sha1 were verified


class _Hashes:
    def __init__(self, git_size: int | None) -> None:
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.git = hashlib.sha1(f"blob {git_size}\0".encode(), usedforsecurity=False) if git_size is not None else None

    def update(self, b: bytes) -> None:
        self.sha256.update(b)
        self.md5.update(b)
        if self.git is not None:
            self.git.update(b)


class _KeepAuthOnSameOrigin(urllib.request.HTTPRedirectHandler):
    """Follow redirects; carry the Authorization header only when the redirect stays on the same origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) == _origin(req.full_url):
            for k, v in req.unredirected_hdrs.items():
                if k.lower() == "authorization":
                    new.add_unredirected_header(k, v)
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    return p.scheme, (p.hostname or "").lower(), p.port


_opener = urllib.request.build_opener(_KeepAuthOnSameOrigin)
# Seconds to wait for a server's first byte (and each later read) before a try fails and
# is retried; `padt-eval data fetch --timeout` raises it for slow links.
DEFAULT_TIMEOUT = 10.0
# A try slower than this over a whole window is stalled (`data fetch --min-rate`, in KB/s).
DEFAULT_MIN_RATE = 1024.0  # bytes/s
RATE_WINDOW_S = 30.0


class _Stalled(Exception):
    """A transfer that goes on below the minimum rate."""


class _RateGuard:
    """Bytes received per window of `window` seconds, checked as they arrive."""

    def __init__(self, min_rate: float, window: float) -> None:
        self.min_rate, self.window = min_rate, window
        self.t0, self.got = time.monotonic(), 0

    def add(self, n: int) -> None:
        """Count `n` bytes; raise _Stalled when a whole window got less than the minimum."""
        self.got += n
        elapsed = time.monotonic() - self.t0
        if self.min_rate <= 0 or elapsed < self.window:
            return
        if self.got < self.min_rate * elapsed:
            raise _Stalled(
                f"too slow: {self.got:,} bytes in the last {elapsed:.0f} s, under the minimum of "
                f"{self.min_rate:,.0f} bytes/s (--min-rate)"
            )
        self.t0, self.got = time.monotonic(), 0


def network_error(url: str, exc: BaseException) -> FetchError:
    """A message for a request that never got an HTTP answer."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    host = urlsplit(url).netloc
    if isinstance(reason, socket.gaierror):
        what = f"cannot resolve {host} (no network, or DNS is down)"
    elif isinstance(reason, ConnectionRefusedError):
        what = f"connection refused by {host} (no network, or the server is down)"
    elif isinstance(reason, (socket.timeout, TimeoutError)):
        what = f"no answer from {host} (timed out)"
    elif isinstance(reason, ssl.SSLError):
        what = f"TLS error talking to {host}: {reason}"
    elif isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        what = f"network unreachable for {host} (no network?)"
    else:
        what = f"cannot reach {host}: {reason}"
    return FetchError(f"{what} while fetching {url}")


def http_error(url: str, code: int, reason: str = "") -> FetchError:
    hint = {
        401: " (authentication required: for Hugging Face set HF_TOKEN or run `hf auth login`)",
        403: " (access denied: for a gated Hugging Face dataset accept its terms and set HF_TOKEN)",
        404: " (not found: the source moved or the name is wrong)",
    }.get(code, "")
    return FetchError(f"HTTP {code} {reason}{hint} for {url}".replace("  ", " "))


def _disk_full(path: Path, exc: OSError) -> FetchError:
    return FetchError(
        f"disk full while writing {path} ({exc.strerror}); free some space and run the same command again: "
        "the download resumes from the bytes already saved"
    )


def _interrupted(url: str, part: Path, offset: int, total: int | None, why: str) -> FetchError:
    of = f" of {total:,}" if total is not None else ""
    return FetchError(
        f"download interrupted after {offset:,}{of} bytes of {url} ({why}); "
        f"the partial file {part} is kept: run the same command again to resume"
    )


def _read_meta(meta: Path) -> dict:
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}


def _discard(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def part_paths(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def download(
    url: str,
    dest: str | Path,
    expected: Expected | None = None,
    *,
    headers: dict[str, str] | None = None,
    auth_header: str | None = None,
    progress: Progress | None = None,
    description: str | None = None,
    retries: int = 4,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = 1.0,
    check_space: Callable[[int], None] | None = None,
    notify: Callable[[str], None] | None = None,
    min_rate: float = DEFAULT_MIN_RATE,
    rate_window: float = RATE_WINDOW_S,
) -> Downloaded:
    """Download `url` to `dest`, resuming `<dest>.part`, verifying against `expected`.

    `timeout` bounds the wait for the server's first byte (and for each later read); a
    try that gets less than `min_rate` bytes/s over `rate_window` seconds (0: no minimum)
    is stalled. A failed or stalled try is retried `retries` times with a growing wait,
    and `notify` is told of each retry, why, and how long it waits, so a slow or silent
    server is never a silent wait.

    `check_space(n)` is called with the bytes still to download as soon as the total is
    known, before any body byte is written. `auth_header` (e.g. "Bearer …") is sent to the
    URL's origin only, never to a host it redirects to.
    """
    dest = Path(dest)
    expected = expected or Expected()
    if expected.git_sha1 is not None and expected.size is None:
        raise ValueError("a git blob SHA-1 can only be checked with a known size")
    progress = progress or NoProgress()
    part, meta = part_paths(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    info = _read_meta(meta) if part.exists() else {}
    if part.exists() and info.get("url") not in (None, url):
        _discard(part, meta)  # a partial file of some other source
        info = {}
    offset = part.stat().st_size if part.exists() else 0
    if expected.size is not None and offset > expected.size:
        _discard(part, meta)
        offset, info = 0, {}
    resumed_from = offset
    hashes: _Hashes | None = None
    attempts = 0
    started = False
    total = expected.size
    say = notify or (lambda _msg: None)

    def wait_before_retry(why: str) -> None:
        """Count a failed try, say so, and wait before the next one."""
        nonlocal attempts
        attempts += 1
        delay = backoff * attempts
        say(f"{url}: {why}; retry {attempts} of {retries} in {delay:.0f} s")
        time.sleep(delay)

    def hash_existing() -> _Hashes:
        """Hash the bytes already on disk (before any request: a long re-read must not stall a connection)."""
        h = _Hashes(expected.size if expected.git_sha1 else None)
        progress.start(f"{description or dest.name} (re-reading the partial download)", offset, 0)
        try:
            with open(part, "rb") as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    h.update(chunk)
                    progress.advance(len(chunk))
        finally:
            progress.finish()
        return h

    if offset > 0:
        hashes = hash_existing()
    try:
        while True:
            if total is not None and offset == total:
                if hashes is None:
                    hashes = hash_existing()
                break
            req = urllib.request.Request(
                url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
            )
            if auth_header:
                req.add_unredirected_header("Authorization", auth_header)
            if offset > 0:
                req.add_header("Range", f"bytes={offset}-")
                validator = info.get("etag") or info.get("last_modified")
                if validator:
                    req.add_header("If-Range", validator)
            try:
                resp = _opener.open(req, timeout=timeout)
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code == 416 and offset > 0:
                    m = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range", "") or "")
                    if m and int(m.group(1)) == offset:
                        total = offset  # the part already holds the whole file
                        continue
                    _discard(part, meta)
                    offset, info, hashes = 0, {}, None
                    attempts += 1
                    if attempts > retries:
                        raise http_error(url, exc.code, exc.reason) from None
                    continue
                if exc.code in _RETRY_STATUS and attempts < retries:
                    wait_before_retry(f"HTTP {exc.code} {exc.reason}".strip())
                    continue
                raise http_error(url, exc.code, exc.reason) from None
            except (urllib.error.URLError, OSError) as exc:
                if attempts < retries and not isinstance(getattr(exc, "reason", exc), (socket.gaierror, ConnectionRefusedError)):
                    wait_before_retry(str(network_error(url, exc)).split(" while fetching ")[0])
                    continue
                raise network_error(url, exc) from None
            with resp:
                status = resp.status
                if status == 206:
                    m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "") or "")
                    if not m or int(m.group(1)) != offset:
                        raise FetchError(
                            f"server answered a resume request with a wrong range ({resp.headers.get('Content-Range')}) for {url}"
                        )
                    if m.group(3) != "*":
                        total = int(m.group(3))
                    if hashes is None:  # only when offset == 0: nothing was on disk to hash
                        hashes = _Hashes(expected.size if expected.git_sha1 else None)
                    mode = "ab"
                else:  # 200: the whole file (the server ignored the range, or the file changed)
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length is not None else total
                    offset, hashes, mode = 0, _Hashes(expected.size if expected.git_sha1 else None), "wb"
                if expected.size is not None and total is not None and total != expected.size:
                    _discard(part, meta)
                    raise FetchError(
                        f"size mismatch for {url}: the server sends {total:,} bytes, expected {expected.size:,}; "
                        "the source changed or the sources table is wrong (nothing was kept)"
                    )
                if check_space is not None and total is not None:
                    check_space(total - offset)
                if mode == "wb" or not info:
                    info = {
                        "url": url,
                        "etag": _strong_etag(resp.headers.get("ETag")),
                        "last_modified": resp.headers.get("Last-Modified"),
                    }
                    meta.write_text(json.dumps(info))
                progress.start(description or dest.name, total, offset)  # again after a retry: from `offset`
                started = True
                try:
                    f = open(part, mode)
                except OSError as exc:
                    raise FetchError(f"cannot write {part}: {exc.strerror}") from None
                rate = _RateGuard(min_rate, rate_window)
                with f:
                    try:
                        while True:
                            chunk = resp.read1(CHUNK)  # what has arrived: a trickle still returns, to be timed
                            if not chunk:
                                break
                            try:
                                f.write(chunk)
                            except OSError as exc:
                                if exc.errno == errno.ENOSPC:
                                    raise _disk_full(part, exc) from None
                                raise FetchError(f"cannot write {part}: {exc.strerror}") from None
                            hashes.update(chunk)
                            offset += len(chunk)
                            progress.advance(len(chunk))
                            rate.add(len(chunk))
                    except (http.client.HTTPException, OSError, _Stalled) as exc:
                        f.flush()
                        why = str(exc) if isinstance(exc, _Stalled) else f"{type(exc).__name__}: {exc}"
                        if attempts >= retries:
                            raise _interrupted(url, part, offset, total, why) from None
                        wait_before_retry(f"transfer broke off at {offset:,} bytes ({why})")
                        continue
            if total is None:
                total = offset
            if offset < total:  # the connection closed early
                if attempts >= retries:
                    raise _interrupted(url, part, offset, total, "connection closed early")
                wait_before_retry(f"connection closed early at {offset:,} of {total:,} bytes")
                continue
            break
    finally:
        if started:
            progress.finish()

    assert hashes is not None
    got_sha256, got_md5 = hashes.sha256.hexdigest(), hashes.md5.hexdigest()
    checks = [
        ("size", expected.size, offset),
        ("sha256", expected.sha256, got_sha256),
        ("md5", expected.md5, got_md5),
        ("git-sha1", expected.git_sha1, hashes.git.hexdigest() if hashes.git is not None else None),
    ]
    checked = []
    for name, want, got in checks:
        if want is None:
            continue
        if str(want).lower() != str(got).lower():
            _discard(part, meta)
            raise FetchError(
                f"checksum mismatch for {url}: {name} is {got}, expected {want}. The download was deleted; "
                "run again to retry, and if it persists the source changed or the sources table is wrong"
            )
        checked.append(name)
    os.replace(part, dest)
    _discard(meta)
    return Downloaded(dest, offset, got_sha256, got_md5, resumed_from, tuple(checked))


def _strong_etag(etag: str | None) -> str | None:
    """If-Range needs a strong validator: drop weak ETags (W/"…")."""
    if etag is None or etag.startswith("W/"):
        return None
    return etag
