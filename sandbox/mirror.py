"""The sandbox's artifact mirror: a small threaded HTTP server on loopback serving a directory.

It stands in for the operator's internal package mirror (ScaleIO packages, rexray, dvdcli, isolator
``.so`` files). ``GET /<file>`` serves a file (subdirectories allowed), ``GET /index.json`` answers
``{file: {"sha256": ..., "size": ...}}`` for every file, so clients can verify what they fetched.

Fault hooks for tests: ``fail(file, status)`` answers that status for the file, ``corrupt(file)``
serves the right length of wrong bytes (the sha256 no longer matches), ``clear_faults()``.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import pathlib
import threading
import urllib.parse

from .httpd import ServedHTTP, threading_server

_CHUNK = 1 << 16


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.")


class Mirror(ServedHTTP):
    """Serve ``directory`` over HTTP on a loopback address. ``port=0`` picks a free port."""

    def __init__(self, directory, host: str = "127.0.0.1", port: int = 0):
        if not _is_loopback(host):
            raise ValueError(f"the mirror binds loopback addresses only, not {host!r}")
        self.directory = pathlib.Path(directory).resolve()
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._faults: dict[str, tuple[str, int]] = {}
        self._sha_cache: dict[str, tuple[tuple, str]] = {}
        self.hits: dict[str, int] = {}  # file -> number of GETs answered (any status)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Mirror":
        if self.running:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        return self._serve(threading_server((self.host, self.port), self._handler(_Handler)), "mirror")

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        return self._base_url("http", "mirror not started")

    def url_for(self, filename: str) -> str:
        return f"{self.url}/{urllib.parse.quote(self._relpath(filename))}"

    # ------------------------------------------------------------------ content
    def _relpath(self, filename: str) -> str:
        rel = os.path.normpath(str(filename).lstrip("/"))
        if rel.startswith("..") or rel in (".", "") or os.path.isabs(rel):
            raise ValueError(f"bad mirror file name: {filename!r}")
        return rel

    def _file(self, filename: str) -> pathlib.Path:
        path = (self.directory / self._relpath(filename)).resolve()
        if self.directory not in path.parents:
            raise ValueError(f"bad mirror file name: {filename!r}")
        return path

    def sha256(self, filename: str) -> str:
        """The sha256 (hex) of a file as published (the true content, regardless of faults)."""
        path = self._file(filename)
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        rel = self._relpath(filename)
        with self._lock:
            cached = self._sha_cache.get(rel)
        if cached and cached[0] == key:
            return cached[1]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        with self._lock:
            self._sha_cache[rel] = (key, digest.hexdigest())
        return digest.hexdigest()

    @property
    def index(self) -> dict:
        """``{relative file name: {"sha256": hex, "size": bytes}}`` for every file served."""
        out = {}
        for dirpath, _, files in os.walk(self.directory):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), self.directory)
                if rel == "index.json":
                    continue
                out[rel] = {"sha256": self.sha256(rel), "size": os.path.getsize(os.path.join(dirpath, name))}
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------ faults
    def fail(self, filename: str, status: int = 500) -> None:
        """Answer ``status`` for this file until clear_faults()."""
        if not 400 <= int(status) <= 599:
            raise ValueError("fault status must be 4xx or 5xx")
        with self._lock:
            self._faults[self._relpath(filename)] = ("fail", int(status))

    def corrupt(self, filename: str) -> None:
        """Serve bytes of the right length but the wrong content for this file until clear_faults()."""
        with self._lock:
            self._faults[self._relpath(filename)] = ("corrupt", 200)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _fault(self, rel: str):
        with self._lock:
            self.hits[rel] = self.hits.get(rel, 0) + 1
            return self._faults.get(rel)


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: Mirror
    protocol_version = "HTTP/1.1"
    server_version = "sandbox-mirror/1"

    def log_message(self, fmt, *args):  # quiet: tests run many requests
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _send(self, status: int, body: bytes, ctype="text/plain", head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool):
        mirror = self.owner
        raw = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if raw in ("/index.json", "/"):
            body = json.dumps(mirror.index, indent=1).encode() if raw == "/index.json" else b"sandbox mirror\n"
            return self._send(200, body, "application/json" if raw == "/index.json" else "text/plain", head)
        try:
            rel = mirror._relpath(raw)
            path = mirror._file(rel)
        except ValueError:
            return self._send(400, b"bad path\n", head=head)
        fault = mirror._fault(rel)
        if fault and fault[0] == "fail":
            return self._send(fault[1], f"injected fault {fault[1]}\n".encode(), head=head)
        if not path.is_file():
            return self._send(404, b"not found\n", head=head)
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if head:
            return
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                if fault and fault[0] == "corrupt":
                    chunk = bytes(b ^ 0x5A for b in chunk)
                self.wfile.write(chunk)
