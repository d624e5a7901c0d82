"""The scheduler's HTTP API server: a route table on a stdlib ThreadingHTTPServer.

Issue 5 serves ``GET /v1/plans/deploy``, ``GET /v1/plans``, ``GET /v1/health`` and
``GET /v1/executor/secrets``; the operator-API issue adds routes to the same server with
:meth:`ApiServer.route` (exact paths) or :meth:`ApiServer.route_prefix` (``/v1/plans/``...).

A handler is ``fn(request) -> Reply``; :class:`Request` has ``method``, ``path``, ``query``
(first value per name), ``headers`` and ``body`` (bytes). Handlers run on the server's request
threads; they read engine state through the core loop (``Core.call``), never directly.
Errors are JSON ``{"message": ...}``; a handler that raises answers 500 without details. Bodies
over :data:`MAX_BODY` are 413 (read and dropped up to :data:`MAX_DRAIN`), chunked bodies 411, a bad Content-Length 400 (each closes the
connection); a path served only with other methods is 405 with ``Allow``; HEAD is GET without body.

A server started with ``starting=<reason>`` answers every request 503 ``{"message": "starting:
<reason>"}`` with ``Retry-After`` (never 404) until :meth:`ApiServer.ready`: the scheduler serves
from its first second (Marathon health-checks it) but installs its routes only once it holds the
state store, which can take the whole store-lock timeout.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

__all__ = ["ApiServer", "Request", "Reply", "json_reply"]

LOG = logging.getLogger(__name__)
MAX_BODY = 1 << 20
MAX_DRAIN = 8 << 20        # larger bodies are not even read: the connection is closed at once
REQUEST_TIMEOUT_S = 30.0   # a client that stalls mid-request loses its connection (and thread)
STARTING_RETRY_AFTER_S = 5


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # socketserver prints tracebacks to stderr; here they go to the log, and a client that hung
        # up mid-request (a health checker timing out, a CLI interrupted) is not worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            LOG.debug("client %s went away: %s", client_address[0], type(exc).__name__)
            return
        LOG.exception("request from %s failed", client_address[0])


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes = b""

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def json_reply(status: int, obj, **headers) -> Reply:
    return Reply(status, json.dumps(obj, indent=1, sort_keys=False).encode() + b"\n", headers=headers)


class _Handler(BaseHTTPRequestHandler):
    server_version = "dcos-scaleio-scheduler"
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S

    def _refuse(self, status: int, message: str):
        """Answer without reading the body, and close: unread body bytes must not be taken for
        the next request on this connection."""
        self.close_connection = True
        return self._send(json_reply(status, {"message": message}, Connection="close"))

    def _serve(self):
        api: ApiServer = self.server.api
        parts = urlsplit(self.path)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._refuse(411, "chunked request bodies are not supported: send Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self._refuse(400, "invalid Content-Length")
        if length > MAX_BODY:
            if length <= MAX_DRAIN:
                # Read and drop it, so that a client that writes its whole body before reading
                # (most do) gets the 413 instead of a broken pipe.
                while length > 0 and (chunk := self.rfile.read(min(length, 65536))):
                    length -= len(chunk)
            return self._refuse(413, f"request body too large (at most {MAX_BODY} bytes)")
        body = self.rfile.read(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = Request(self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        method = "GET" if self.command == "HEAD" else self.command
        starting = api.starting
        if starting is not None:
            return self._send(json_reply(503, {"message": f"starting: {starting}"},
                                         **{"Retry-After": str(STARTING_RETRY_AFTER_S)}))
        handler = api.find(method, parts.path)
        try:
            if handler is not None:
                reply = handler(req)
            else:
                allowed = api.allowed_methods(parts.path)
                reply = (json_reply(405, {"message": f"{self.command} is not allowed on {parts.path}"},
                                    Allow=", ".join(allowed)) if allowed
                         else json_reply(404, {"message": f"no such endpoint: {self.command} {parts.path}"}))
        except Exception:
            LOG.exception("handler for %s %s failed", self.command, parts.path)
            reply = json_reply(500, {"message": "internal error"})
        self._send(reply)

    def _send(self, reply: Reply):
        # 204 and 304 never carry a body (RFC 9110): e.g. /v1/health's DEPLOYING_PENDING (204), whose
        # JSON would otherwise be read by a keep-alive client as the start of the next response.
        body = b"" if reply.status in (204, 304) else reply.body
        self.send_response(reply.status)
        if body or reply.status not in (204, 304):
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, fmt, *args):   # no query strings in logs (they may name executors)
        LOG.debug("%s %s -> %s", self.command, urlsplit(self.path).path, args[1] if len(args) > 1 else "")


class ApiServer:
    """Serve routes on ``host:port`` (port 0 = any free port; see :attr:`port` after start).

    ``starting``: the reason every request is answered 503 until :meth:`ready` (None: serve the
    routes at once)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, starting: str | None = None):
        self.host, self._port = host, port
        self.starting = starting
        self._exact: dict[tuple[str, str], Callable] = {}
        self._prefix: list[tuple[str, str, Callable]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Callable) -> None:
        self._exact[(method.upper(), path.rstrip("/") or "/")] = handler

    def route_prefix(self, method: str, prefix: str, handler: Callable) -> None:
        """``handler`` for every path starting with ``prefix`` (longest prefix wins)."""
        self._prefix.append((method.upper(), prefix, handler))
        self._prefix.sort(key=lambda r: -len(r[1]))

    def find(self, method: str, path: str) -> Callable | None:
        h = self._exact.get((method, path.rstrip("/") or "/"))
        if h is not None:
            return h
        for m, prefix, handler in self._prefix:
            if m == method and path.startswith(prefix):
                return handler
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some route serves ``path`` with (for 405 answers); empty: no such path."""
        return sorted(m for m in ("GET", "POST", "PUT", "DELETE") if self.find(m, path) is not None)

    def ready(self) -> None:
        """Serve the routes from now on (ends the 503 "starting" answers)."""
        self.starting = None

    def start(self) -> "ApiServer":
        self._server = _Server((self.host, self._port), _Handler)
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
