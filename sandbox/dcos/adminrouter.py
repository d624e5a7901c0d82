"""The sandbox's Admin Router: one HTTPS port in front of every DC/OS service, on loopback.

    router = AdminRouter(iam, tls_dir, mesos_master="127.0.0.1:5050").start()
    router.url                  # "https://127.0.0.1:P" (certificate signed by the CA in tls_dir)
    router.ca_path              # the CA bundle clients verify with
    router.add_resolver(StaticResolver({"scaleio": "http://127.0.0.1:8080"}))
    router.register_prefix("/marathon", "http://127.0.0.1:8081")
    router.stop()

Routing, in this order:

1. ``POST /acs/api/v1/auth/login`` and ``GET /acs/api/v1/auth/jwks``: the IAM, open (as on DC/OS);
   so is ``GET /dcos-metadata/dcos-version.json`` (``{"version", "dcos-variant": "open", ...}``).
2. Every other request needs a valid ACS token (``Authorization: token=<jwt>``, ``Authorization:
   Bearer <jwt>`` or the ``dcos-acs-auth-cookie`` cookie): otherwise 401 with ``WWW-Authenticate:
   acsjwt`` and ``{"title", "description", "code"}``.
3. Registered prefixes, longest first: ``<prefix><rest>`` -> ``<upstream><rest>`` (the upstream URL
   may carry a path: ``register_prefix("/package", cosmos + "/package")``). An upstream may be a
   callable returning the current URL or None (then 404). ``/mesos`` is registered for the master.
4. ``/service/<name>/<rest>`` -> ``<base>/<rest>``, ``base`` from the first resolver that knows
   ``name`` (nested names ``/service/group/app/...``: the shortest known prefix wins); 404 when none does.
5. Anything else: 404.

Proxying keeps the method, query string, body and end-to-end headers (Authorization included) and
adds ``X-Forwarded-For``/``X-Forwarded-Proto``/``X-Forwarded-Prefix``; the upstream's status code,
headers (Content-Type, WWW-Authenticate, ...) and body come back unchanged but for hop-by-hop
headers. An upstream that refuses or times out gives 502 (504 for a timeout) with a JSON body.
Bodies are buffered, not streamed; requests over ``max_body`` bytes get 413. One thread per
connection (TLS handshakes happen on that thread, so a slow client never blocks the accept loop).
With ``access_log``, one line per request: ``<time> <client> <method> <path> <status> <upstream|->``
(never a header or body: they carry credentials).
"""
from __future__ import annotations

import http.client
import http.server
import json
import socket
import ssl
import threading
import time
import traceback
import urllib.parse
from http.cookies import SimpleCookie
from typing import Callable, Optional, Union

from ..httpd import ServedHTTP
from ..scaleio import tls
from .iam import JWKS_PATH, LOGIN_PATH, Iam, InvalidToken

DEFAULT_MAX_BODY = 16 * 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024   # an early answer reads at most this much of a body it refuses
HANDSHAKE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 120.0
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
AUTH_COOKIE = "dcos-acs-auth-cookie"
VERSION_PATH = "/dcos-metadata/dcos-version.json"
DCOS_VERSION = "1.12.4"   # the last DC/OS release the Python 0.x CLI and Cosmos v0.6 were current with

Upstream = Union[str, Callable[[], Optional[str]]]


class _Answer(Exception):
    """Raised inside request handling to answer ``status`` with a JSON body right away."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _problem(status: int, title: str, description: str, code: str | None = None, headers=None) -> _Answer:
    body = {"title": title, "description": description}
    if code:
        body["code"] = code
    return _Answer(status, body, headers)


def bearer_token(authorization: str | None, cookie: str | None) -> str | None:
    """The ACS token carried by an ``Authorization`` header (``token=`` or ``Bearer``) or the cookie."""
    if authorization:
        value = authorization.strip()
        if value.lower().startswith("token="):
            return value[len("token="):].strip() or None
        if value.lower().startswith("bearer "):
            return value[len("bearer "):].strip() or None
        return None
    if cookie:
        jar = SimpleCookie()
        try:
            jar.load(cookie)
        except Exception:   # a malformed cookie header is just "no token"
            return None
        if AUTH_COOKIE in jar:
            return jar[AUTH_COOKIE].value or None
    return None


def _split_upstream(url: str) -> tuple[str, str, int, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"upstream must be an http(s) URL, not {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/")


class AdminRouter(ServedHTTP):
    """The Admin Router (see the module docstring). ``start()``/``stop()``; also a context manager."""

    def __init__(self, iam: Iam, tls_dir, *, host: str = "127.0.0.1", port: int = 0,
                 mesos_master: str | None = None, resolvers=(), max_body: int = DEFAULT_MAX_BODY,
                 upstream_timeout: float = 60.0, access_log=None):
        if not host.startswith("127."):
            raise ValueError(f"the Admin Router binds loopback addresses only, not {host!r}")
        self.iam = iam
        self.host, self.port = host, port
        self.max_body = max_body
        self.upstream_timeout = upstream_timeout
        self.access_log = access_log
        self._log_lock = threading.Lock()
        self.ca_path = str(tls.ensure_ca(tls_dir))
        self._cert, self._key = tls.issue_server_cert(tls_dir, host, dns_names=("localhost",))
        self._lock = threading.Lock()
        self._prefixes: dict[str, Upstream] = {}
        self._resolvers: list[Callable[[str], Optional[str]]] = list(resolvers)
        if mesos_master:
            master = mesos_master if "://" in mesos_master else f"http://{mesos_master}"
            self.register_prefix("/mesos", master)

    # ------------------------------------------------------------------ configuration
    def register_prefix(self, prefix: str, upstream: Upstream) -> None:
        """Route ``<prefix>`` and ``<prefix>/...`` to ``upstream`` (URL, or callable -> URL | None)."""
        if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
            raise ValueError(f"prefix must look like '/name[/name]', not {prefix!r}")
        if isinstance(upstream, str):
            _split_upstream(upstream)   # validated now, not at the first request
        with self._lock:
            self._prefixes[prefix] = upstream

    def unregister_prefix(self, prefix: str) -> None:
        with self._lock:
            self._prefixes.pop(prefix, None)

    def add_resolver(self, resolver: Callable[[str], Optional[str]]) -> None:
        """Ask ``resolver`` (after the ones already added) for ``/service/<name>`` base URLs."""
        with self._lock:
            self._resolvers.append(resolver)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "AdminRouter":
        if self.running:
            return self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self._cert, self._key)
        return self._serve(_TlsServer((self.host, self.port), self._handler(_Handler), ctx), "adminrouter")

    @property
    def url(self) -> str:
        """``https://127.0.0.1:P`` (no trailing slash): the cluster's ``dcos_url``."""
        return self._base_url("https", "the Admin Router is not started")

    def log_access(self, line: str) -> None:
        if self.access_log is None:
            return
        with self._log_lock, open(self.access_log, "a") as fh:
            fh.write(line + "\n")

    # ------------------------------------------------------------------ routing
    def route(self, path: str) -> tuple[str, str] | None:
        """``(upstream base URL, path to request there)`` for an authenticated request path, or
        None when nothing serves it. Raises :class:`_Answer` for a known route whose target is gone."""
        with self._lock:
            prefixes = sorted(self._prefixes.items(), key=lambda item: len(item[0]), reverse=True)
            resolvers = list(self._resolvers)
        for prefix, upstream in prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                base = upstream() if callable(upstream) else upstream
                if not base:
                    raise _problem(404, "Not Found", f"Nothing serves {prefix} at the moment.")
                return base, path[len(prefix):] or "/"
        if path.startswith("/service/"):
            segments = path[len("/service/"):].split("/")
            for i in range(1, len(segments) + 1):
                name = "/".join(segments[:i])
                if not name:
                    break
                for resolver in resolvers:
                    base = resolver(name)
                    if base:
                        return base, "/" + "/".join(segments[i:])
            raise _problem(404, "Not Found", f"Service {segments[0]!r} is not known to the Admin Router.")
        return None


class _TlsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, ctx: ssl.SSLContext):
        self.ssl_context = ctx
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        # The handshake runs here, on the connection's own thread, with a deadline.
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):   # a client that went away is not news
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: AdminRouter
    # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server_version = "adminrouter-sandbox"
    sys_version = ""

    def log_message(self, fmt, *args):   # quiet: tests and `up` print JSON on stdout
        pass

    def _handle(self) -> None:
        self._body_read = False
        self._upstream = "-"
        try:
            self._dispatch()
        except _Answer as answer:
            self._send_json(answer.status, answer.body, answer.headers)
        except (ssl.SSLError, OSError):
            raise   # the client's connection: nothing to answer on
        except Exception as exc:   # a bug here or in a resolver: answer, and keep serving
            traceback.print_exc()
            self.close_connection = True
            self._send_json(500, {"title": "Internal Server Error", "description": type(exc).__name__})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    # ------------------------------------------------------------------ pieces
    def _send(self, status: int, headers, body: bytes, reason: str | None = None) -> None:
        """Status line, ``headers`` (our own Content-Length but for HEAD), then ``body``."""
        # Logged before answering: a client that saw the answer finds the line.
        self.owner.log_access(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {self.client_address[0]} {self.command} "
                              f"{urllib.parse.urlsplit(self.path).path} {status} {self._upstream}")
        self.send_response_only(status, reason)
        length_sent = False
        for name, value in headers:
            if name.lower() == "content-length":
                if self.command == "HEAD":   # HEAD: the upstream's length of the body it did not send
                    self.send_header(name, value)
                    length_sent = True
                continue
            self.send_header(name, value)
        if not length_sent:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            # Say so: a keep-alive client would otherwise reuse the connection we are closing and,
            # when our FIN arrives after its next request, see "Remote end closed connection".
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        if not self._body_read:
            self._discard_body()
        self._send(status, [("Content-Type", "application/json"), *(headers or {}).items()], data)

    def _discard_body(self) -> None:
        """Before answering early: read and drop the unread request body (a client still sending
        would see a reset rather than the answer), or close when it is chunked or too big."""
        self._body_read = True
        try:
            left = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            left = -1
        if "Transfer-Encoding" in self.headers or left < 0 or left > DRAIN_LIMIT:
            self.close_connection = True
            return
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            self._body_read = True
            return b""
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise _problem(400, "Bad Request", "Invalid Content-Length.")
        if size < 0:
            self.close_connection = True
            raise _problem(400, "Bad Request", "Invalid Content-Length.")
        if size > self.owner.max_body:
            raise _problem(413, "Payload Too Large", f"Request bodies are limited to {self.owner.max_body} bytes.")
        body = self.rfile.read(size)
        self._body_read = True
        return body

    def _read_chunked(self) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _problem(400, "Bad Request", "Malformed chunked body.")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass   # trailers
                self._body_read = True
                return b"".join(parts)
            total += size
            if total > self.owner.max_body:
                self.close_connection = True
                raise _problem(413, "Payload Too Large", f"Request bodies are limited to {self.owner.max_body} bytes.")
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _authenticate(self) -> dict:
        token = bearer_token(self.headers.get("Authorization"), self.headers.get("Cookie"))
        challenge = {"WWW-Authenticate": "acsjwt"}
        if token is None:
            raise _problem(401, "Unauthorized", "Authentication required: send 'Authorization: token=<ACS token>'.",
                           "ERR_MISSING_TOKEN", challenge)
        try:
            return self.owner.iam.verify(token)
        except InvalidToken as exc:
            raise _problem(401, "Unauthorized", f"Invalid authentication token: {exc}.",
                           "ERR_INVALID_TOKEN", challenge) from None

    def _dispatch(self) -> None:
        target = urllib.parse.urlsplit(self.path)
        path = target.path or "/"
        if path in (LOGIN_PATH, JWKS_PATH):
            self._serve_iam(path)
            return
        if path == VERSION_PATH and self.command in ("GET", "HEAD"):
            self._read_body()
            self._send_json(200, {"version": DCOS_VERSION, "dcos-variant": "open",
                                  "dcos-image-commit": "sandbox", "bootstrap-id": "sandbox"})
            return
        self._authenticate()
        body = self._read_body()
        routed = self.owner.route(path)
        if routed is None:
            raise _problem(404, "Not Found", f"No route for {path}.")
        base, rest = routed
        prefix = path[: len(path) - len(rest)] if path.endswith(rest) else path
        self._proxy(base, rest, target.query, body, prefix)

    def _serve_iam(self, path: str) -> None:
        body = self._read_body()
        if path == LOGIN_PATH:
            if self.command != "POST":
                raise _problem(405, "Method Not Allowed", "Use POST.", headers={"Allow": "POST"})
            status, answer = self.owner.iam.login(body)
            self._send_json(status, answer)
        else:
            if self.command not in ("GET", "HEAD"):
                raise _problem(405, "Method Not Allowed", "Use GET.", headers={"Allow": "GET"})
            self._send_json(200, self.owner.iam.jwks())

    def _proxy(self, base: str, rest: str, query: str, body: bytes, prefix: str) -> None:
        try:
            scheme, host, port, base_path = _split_upstream(base)
        except ValueError as exc:
            raise _problem(502, "Bad Gateway", str(exc))
        target = base_path + (rest if rest.startswith("/") else "/" + rest)
        self._upstream = f"{scheme}://{host}:{port}"
        if query:
            target += "?" + query
        connection_tokens = {t.strip().lower() for t in (self.headers.get("Connection") or "").split(",")}
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in connection_tokens
                   and k.lower() not in ("host", "content-length", "expect")]
        forwarded_for = self.headers.get("X-Forwarded-For")
        client = self.client_address[0]
        headers += [("Host", f"{host}:{port}"),
                    ("X-Forwarded-For", f"{forwarded_for}, {client}" if forwarded_for else client),
                    ("X-Forwarded-Proto", "https"), ("X-Forwarded-Prefix", prefix.rstrip("/"))]
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        if scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE   # as AR does for task upstreams
            conn = http.client.HTTPSConnection(host, port, timeout=self.owner.upstream_timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.owner.upstream_timeout)
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            payload = resp.read()
            status, reason, upstream_headers = resp.status, resp.reason, resp.getheaders()
        except socket.timeout:
            raise _problem(504, "Gateway Timeout", f"The upstream {host}:{port} did not answer in time.")
        except (OSError, http.client.HTTPException) as exc:
            raise _problem(502, "Bad Gateway", f"The upstream {host}:{port} failed: {exc}.")
        finally:
            conn.close()
        drop = {t.strip().lower() for h, v in upstream_headers if h.lower() == "connection" for t in v.split(",")}
        keep = [(k, v) for k, v in upstream_headers
                if k.lower() not in HOP_BY_HOP and k.lower() not in drop
                and k.lower() not in ("server", "date")]
        self._send(status, keep, payload, reason)
