"""A Universe repository server (what ``mesosphere/universe-server`` or a local universe is), on loopback.

    server = UniverseServer("build/universe/repo.json").start()
    server.repo_url        # http://127.0.0.1:P/repo, to `dcos package repo add --index=0 dev <url>`
    server.stop()

``GET /repo`` (and ``/repo.json``) answers the file's current bytes with
``Content-Type: application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4`` (or the type in
``<file>.content_type`` / ``repo.content_type`` beside it, as ``packaging/universe.py`` writes it), so
a rebuilt index is served at once. Anything else is 404.
"""
from __future__ import annotations

import http.server
import pathlib

from ...httpd import ServedHTTP, threading_server

__all__ = ["UniverseServer", "build_repo", "DEFAULT_TYPE"]

DEFAULT_TYPE = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"


def build_repo(artifacts_url: str, out_dir, timeout: float = 120.0) -> pathlib.Path:
    """Run ``packaging/universe.py`` (the package with artifacts at ``artifacts_url``); the repo.json path."""
    import json
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[3]
    script = root / "packaging" / "universe.py"
    proc = subprocess.run([sys.executable, str(script), "--artifacts-url", artifacts_url, "--out", str(out_dir)],
                          cwd=root, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"packaging/universe.py failed:\n{proc.stderr[-2000:]}")
    return pathlib.Path(json.loads(proc.stdout.strip().splitlines()[-1])["repo"])


class UniverseServer(ServedHTTP):
    def __init__(self, repo_file, host: str = "127.0.0.1", port: int = 0):
        if not (host == "localhost" or host.startswith("127.")):
            raise ValueError("the Universe server binds loopback addresses only")
        self.repo_file = pathlib.Path(repo_file)
        self.host, self.port = host, port

    def content_type(self) -> str:
        for candidate in (self.repo_file.with_name(self.repo_file.name + ".content_type"),
                          self.repo_file.with_name("repo.content_type")):
            if candidate.is_file():
                return candidate.read_text().strip()
        return DEFAULT_TYPE

    def start(self) -> "UniverseServer":
        if self.running:
            return self
        return self._serve(threading_server((self.host, self.port), self._handler(_Handler)), "universe")

    @property
    def repo_url(self) -> str:
        return f"http://{self.host}:{self.port}/repo"


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: UniverseServer

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.split("?", 1)[0] not in ("/repo", "/repo.json"):
            status, ctype, body = 404, "text/plain", b"not found\n"
        else:
            status, ctype, body = 200, self.owner.content_type(), self.owner.repo_file.read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
