"""A small HTTP/1.1 file server on 127.0.0.1 for the fetch tests, and a Hugging Face Hub imitation.

`FileServer` serves bytes from a dict, answers Range and If-Range like a real server,
logs every request (method, path, headers), and can misbehave on purpose: drop the
connection after N bytes, ignore Range, redirect, trickle the body a byte at a time. It binds 127.0.0.1 only, on a free
port, and stops itself after `lifetime` seconds even if a test forgets to.

`FakeHub` answers HEAD/GET `/datasets/<repo>/resolve/<rev>/<file>` the way the Hub does:
a 302 to a storage host (a second `FileServer`) with X-Repo-Commit, X-Linked-Etag (the
SHA-256) and X-Linked-Size, or, for a small file, a 200 with the git blob SHA-1 as ETag.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d+)-$")


class FileServer:
    def __init__(self, files: dict[str, bytes] | None = None, lifetime: float = 120.0) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.requests: list[dict] = []
        self.drops: dict[str, list[int]] = {}  # path -> absolute offsets to cut successive GETs at
        self.ignore_range: set[str] = set()
        self.redirects: dict[str, tuple[int, str, dict[str, str]]] = {}  # path -> (code, location, headers)
        self.responses: dict[str, tuple[int, dict[str, str], bytes]] = {}  # path -> canned (code, headers, body)
        self.extra_headers: dict[str, dict[str, str]] = {}
        self.trickle: dict[str, float] = {}  # path -> seconds between the body's bytes
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                server._handle(self, head=True)

            def do_GET(self) -> None:
                server._handle(self, head=False)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._stopped = False

    # -- lifecycle
    def start(self) -> FileServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for tests
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def gets(self, path: str | None = None) -> list[dict]:
        return [r for r in self.requests if r["method"] == "GET" and (path is None or r["path"] == path)]

    @staticmethod
    def etag(body: bytes) -> str:
        return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    # -- the handler
    def _send(self, h: BaseHTTPRequestHandler, code: int, headers: dict[str, str], body: bytes, head: bool) -> None:
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Connection", "close")
        h.end_headers()
        if not head:
            h.wfile.write(body)
        h.close_connection = True

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append({"method": h.command, "path": path, "headers": h.headers})  # case-insensitive get
        if path in self.redirects:
            code, location, headers = self.redirects[path]
            return self._send(h, code, {"Location": location, **headers}, b"", head)
        if path in self.responses:
            code, headers, body = self.responses[path]
            return self._send(h, code, headers, body, head)
        if path not in self.files:
            return self._send(h, 404, {"Content-Type": "text/plain"}, b"not found", head)
        body = self.files[path]
        headers = {
            "ETag": self.etag(body),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            **self.extra_headers.get(path, {}),
        }
        etag = headers["ETag"]
        start = 0
        m = _RANGE.match(h.headers.get("Range", "") or "")
        if_range = h.headers.get("If-Range")
        if m and path not in self.ignore_range and (if_range is None or if_range == etag):
            start = int(m.group(1))
            if start >= len(body):
                return self._send(h, 416, {"Content-Range": f"bytes */{len(body)}"}, b"", head)
        if head:
            return self._send(h, 200, headers, body, head=True)
        cut = None
        cuts = self.drops.get(path)
        if cuts:
            cut = cuts.pop(0)
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        h.send_response(206 if start else 200)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) - start))
        h.end_headers()
        if cut is not None and cut > start:
            h.wfile.write(body[start:cut])
            h.wfile.flush()
            try:  # drop the connection mid-body, as a flaky network would
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            h.close_connection = True
            return
        if path in self.trickle:
            self._trickle(h, body[start:], self.trickle[path])
            return
        h.wfile.write(body[start:])
        h.close_connection = True

    def _trickle(self, h: BaseHTTPRequestHandler, body: bytes, every: float) -> None:
        """One byte, then a pause, until the body is sent, the client hangs up or the
        server stops (its lifetime bounds this too)."""
        try:
            for i in range(len(body)):
                if self._stopped:
                    break
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
                time.sleep(every)
        except OSError:  # the client gave up on us
            pass
        h.close_connection = True


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class FakeHub:
    """A Hub endpoint (for HF_ENDPOINT) plus a separate storage server it redirects LFS files to."""

    COMMIT = "0123456789abcdef0123456789abcdef01234567"

    def __init__(self, lifetime: float = 120.0) -> None:
        self.hub = FileServer(lifetime=lifetime)
        self.cdn = FileServer(lifetime=lifetime)

    def add(self, repo: str, filename: str, data: bytes, lfs: bool = True) -> None:
        for rev in ("main", self.COMMIT):
            path = f"/datasets/{repo}/resolve/{rev}/{filename}"
            if lfs:
                sha = hashlib.sha256(data).hexdigest()
                self.cdn.files[f"/blobs/{sha}"] = data
                self.hub.redirects[path] = (
                    302,
                    self.cdn.url(f"/blobs/{sha}"),
                    {
                        "X-Repo-Commit": self.COMMIT,
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)),
                        "ETag": '"pointer"',
                    },
                )
            else:
                self.hub.files[path] = data
                self.hub.extra_headers[path] = {"X-Repo-Commit": self.COMMIT}
                # the Hub's ETag for a small file is its git blob id
                self.hub.extra_headers[path]["ETag"] = f'"{git_blob_sha1(data)}"'

    def missing(self, repo: str, filename: str) -> None:
        for rev in ("main", self.COMMIT):
            self.hub.responses[f"/datasets/{repo}/resolve/{rev}/{filename}"] = (
                404,
                {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found", "X-Repo-Commit": self.COMMIT},
                b"Entry not found",
            )

    def __enter__(self) -> FakeHub:
        self.hub.start()
        self.cdn.start()
        return self

    def __exit__(self, *exc) -> None:
        self.hub.stop()
        self.cdn.stop()
