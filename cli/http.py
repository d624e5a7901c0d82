"""The CLI's HTTP client: a small HTTP/1.1 exchange over stdlib socket/ssl (``requests`` and even
``http.client`` cost 50-100 ms of start-up), with the DC/OS CLI's rules:

- ``Authorization: token=<core.dcos_acs_token>`` is sent only to the cluster's own origins
  (``core.dcos_url``, ``scaleio.url``, ``package.cosmos_url``), as the DC/OS CLI does;
- TLS is verified per ``core.ssl_verify`` (system CAs / none / a CA bundle);
- connect timeout 5 s, answer timeout ``core.timeout``;
- keep-alive connections are reused for reads (``status --watch`` polls), never for writes.

Transport failures become :class:`~.errors.CliError` (UNREACHABLE) here; an answer's status is
judged by :func:`check`, which maps 401/403/400/422/5xx to the documented exit codes with what to
do. 404 needs context (unknown node vs. service not installed) and is left to the caller.
"""
from __future__ import annotations

import json as _json
import socket
import sys
import time
import urllib.parse

from . import errors
from .errors import CliError

USER_AGENT = "dcos-scaleio-cli"
CONNECT_TIMEOUT_S = 5.0
MAX_BODY = 64 << 20   # no answer of the cluster is this big; a runaway stream must not eat memory


class _Closed(Exception):
    """The server closed the connection before answering (a stale keep-alive connection)."""


class _Conn:
    """One HTTP/1.1 connection: ``read_response`` parses a status line, headers and a body framed
    by Content-Length, chunked transfer coding, or the connection's end. (http.client would cost
    ~50 ms of start-up for its email-package header parser; this is the subset the cluster needs.)"""

    def __init__(self, sock):
        self.sock = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()

    def _line(self) -> bytes:
        line = self.reader.readline(65537)
        if len(line) > 65536:
            raise ValueError("header line too long")
        return line

    def read_response(self, method: str):
        line = self._line()
        if not line:
            raise _Closed("connection closed before the answer")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ValueError(f"bad status line {line[:80]!r}")
        status = int(code)
        headers: dict = {}
        for _ in range(200):
            raw = self._line()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise ValueError("too many headers")
        if status in (100, 101, 102, 103):   # interim answer: the real one follows
            return self.read_response(method)
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            return status, reason, headers, b"", keep
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, reason, headers, self._chunked(), keep
        if "content-length" in headers:
            length = int(headers["content-length"])
            if length > MAX_BODY:
                raise ValueError(f"answer of {length} bytes is too large")
            data = self.reader.read(length)
            if len(data) != length:
                raise ValueError("connection closed in the middle of the answer")
            return status, reason, headers, data, keep
        return status, reason, headers, self.reader.read(MAX_BODY), False

    def _chunked(self) -> bytes:
        parts, total = [], 0
        while True:
            size = int(self._line().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass   # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise ValueError("answer too large")
            parts.append(self.reader.read(size))
            self._line()


class Response:
    """A complete answer: ``status``, ``headers`` (lower-case names), ``body`` bytes, ``url``."""

    def __init__(self, status: int, headers: dict, body: bytes, url: str, method: str):
        self.status, self.headers, self.body, self.url, self.method = status, headers, body, url, method

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        try:
            return _json.loads(self.body)
        except ValueError:
            raise CliError(errors.ERROR, f"{self.method} {self.url} answered {self.status} with a body that is "
                                         f"not JSON: {self.text[:200]!r}")

    def message(self) -> str:
        """The server's explanation: ``message`` (scheduler, Cosmos), ``description`` (IAM) or the text."""
        try:
            body = _json.loads(self.body)
        except ValueError:
            return self.text.strip()[:300] or f"HTTP {self.status}"
        if isinstance(body, dict):
            for key in ("message", "description", "title", "error"):
                if isinstance(body.get(key), str) and body[key]:
                    field = body.get("field")
                    return f"{field}: {body[key]}" if isinstance(field, str) and field else body[key]
        return self.text.strip()[:300]

    def field(self) -> str | None:
        """The ``field`` an API error names (``devices[0]``), if any."""
        try:
            body = _json.loads(self.body)
        except ValueError:
            return None
        return body.get("field") if isinstance(body, dict) and isinstance(body.get("field"), str) else None


def token_expiry(token: str | None) -> int | None:
    """The ``exp`` claim of a JWT (not verified: only to explain a 401), or None."""
    import base64
    try:
        payload = token.split(".")[1]
        claims = _json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["exp"])
    except Exception:
        return None


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class Http:
    """One client per CLI run. ``verbose`` > 0 logs every request and answer line to stderr."""

    def __init__(self, config, verbose: int = 0):
        self.config = config
        self.verbose = verbose
        self._conns: dict = {}
        self._ssl = None
        origins = [config.dcos_url, config.get("scaleio.url"), config.get("package.cosmos_url")]
        self._cluster_origins = {_origin(str(u)) for u in origins if u}

    # ------------------------------------------------------------------ transport
    def _ssl_context(self):
        if self._ssl is None:
            import ssl
            verify = self.config.ssl_verify
            if verify is False:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif verify is True:
                ctx = ssl.create_default_context()
            else:
                try:
                    ctx = ssl.create_default_context(cafile=verify)
                except (OSError, ssl.SSLError) as exc:
                    raise CliError(errors.CONFIG, f"core.ssl_verify: cannot load the CA bundle {verify}: {exc}",
                                   "Set core.ssl_verify (or DCOS_TLS_CA_PATH) to the cluster's CA certificate file.")
            self._ssl = ctx
        return self._ssl

    def _connect(self, scheme: str, host: str, port: int, timeout: float) -> "_Conn":
        if scheme not in ("http", "https"):
            raise CliError(errors.CONFIG, f"unsupported URL scheme {scheme!r}")
        # The DC/OS CLI's fixed connect timeout, then the answer timeout on the socket.
        sock = socket.create_connection((host, port), timeout=min(timeout, CONNECT_TIMEOUT_S))
        try:
            if scheme == "https":
                sock = self._ssl_context().wrap_socket(sock, server_hostname=host)
            sock.settimeout(timeout)
        except BaseException:
            sock.close()
            raise
        return _Conn(sock)

    def request(self, method: str, url: str, *, json=None, body: bytes | None = None,
                headers: dict | None = None, timeout: float | None = None) -> Response:
        """Send one request and read the whole answer. Raises CliError(UNREACHABLE) on transport failure."""
        parts = urllib.parse.urlsplit(url)
        scheme, netloc = parts.scheme.lower(), parts.netloc
        try:
            host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise CliError(errors.CONFIG, f"invalid URL {url!r}")
        if not host:
            raise CliError(errors.CONFIG, f"invalid URL {url!r}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        hdrs = {"Host": netloc, "Accept": "application/json", "User-Agent": USER_AGENT}
        if json is not None:
            body = _json.dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        token = self.config.acs_token
        if token and (scheme, netloc.lower()) in self._cluster_origins:
            hdrs["Authorization"] = f"token={token}"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(body or b""))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        payload = head.encode("latin-1") + (body or b"")
        timeout = timeout or self.config.timeout
        reusable = method in ("GET", "HEAD")
        key = (scheme, netloc)
        started = time.monotonic()
        if self.verbose:
            print(f"> {method} {url}", file=sys.stderr)
        for attempt in (0, 1):
            conn = self._conns.pop(key, None) if reusable else None
            fresh = conn is None
            try:
                if fresh:
                    conn = self._connect(scheme, host, port, timeout)
                conn.sock.settimeout(timeout)
                conn.sock.sendall(payload)
                status, reason, resp_headers, data, keep = conn.read_response(method)
            except (_Closed, BrokenPipeError, ConnectionResetError) as exc:
                if conn is not None:
                    conn.close()
                if not fresh and attempt == 0:
                    continue   # a kept-alive connection the server had closed: once more, fresh
                raise self._unreachable(url, exc)
            except OSError as exc:
                if conn is not None:
                    conn.close()
                raise self._unreachable(url, exc)
            except ValueError as exc:   # not HTTP
                conn.close()
                raise CliError(errors.ERROR, f"{method} {url}: the answer is not valid HTTP ({exc})")
            if reusable and keep:
                self._conns[key] = conn
            else:
                conn.close()
            answer = Response(status, resp_headers, data, url, method)
            if self.verbose:
                print(f"< {status} {reason} ({(time.monotonic() - started) * 1000:.0f} ms, "
                      f"{len(data)} bytes)", file=sys.stderr)
                if self.verbose > 1 and data:
                    print(answer.text[:2000], file=sys.stderr)
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def _unreachable(self, url: str, exc: BaseException) -> CliError:
        import ssl
        scheme, netloc = _origin(url)
        where = f"{scheme}://{netloc}"
        if isinstance(exc, ssl.SSLCertVerificationError) or (isinstance(exc, ssl.SSLError)
                                                              and "CERTIFICATE" in str(exc).upper()):
            return CliError(errors.UNREACHABLE, f"the TLS certificate of {where} is not trusted: "
                                                f"{getattr(exc, 'verify_message', '') or exc}",
                            "Set core.ssl_verify to the cluster's CA bundle "
                            "(`dcos config set core.ssl_verify /path/to/dcos-ca.crt`, or DCOS_TLS_CA_PATH); "
                            "`false` turns verification off.")
        if isinstance(exc, (socket.timeout, TimeoutError)):
            why = f"no answer within {self.config.timeout:g} s"
        elif isinstance(exc, socket.gaierror):
            why = f"the host name does not resolve ({exc.strerror})"
        elif isinstance(exc, ConnectionRefusedError):
            why = "connection refused"
        else:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return CliError(errors.UNREACHABLE, f"cannot reach the cluster at {where}: {why}",
                        f"Check core.dcos_url ({self.config.dcos_url or 'not set'}), your network, "
                        "and that the cluster is up.")

    # ------------------------------------------------------------------ answers
    def check(self, resp: Response, ok=(200,)) -> Response:
        """Return ``resp`` when its status is in ``ok``; else raise the CliError that explains it.

        404 is the caller's to interpret: it is reported here as a generic NOT_FOUND.
        """
        if resp.status in ok:
            return resp
        raise self.error_for(resp)

    def error_for(self, resp: Response) -> CliError:
        status, what = resp.status, f"{resp.method} {resp.url}"
        if status == 401:
            return self._auth_error(resp)
        if status == 403:
            return CliError(errors.FORBIDDEN, f"permission denied: {resp.message()}",
                            "Log in as an operator of this service (`dcos auth login`) or ask one to do this.")
        if status in (400, 409, 413, 415, 422):
            return CliError(errors.VALIDATION, f"the request was refused ({status}): {resp.message()}",
                            details=field_errors(resp))
        if status == 404:
            return CliError(errors.NOT_FOUND, f"not found: {resp.message()}")
        if status in (502, 503, 504):
            return CliError(errors.UNAVAILABLE, f"{what}: the service does not answer ({status}): {resp.message()}",
                            "Its scheduler may be restarting; try again in a moment.")
        return CliError(errors.ERROR, f"{what} failed with HTTP {status}: {resp.message()}")

    def _auth_error(self, resp: Response) -> CliError:
        token = self.config.acs_token
        if not token:
            return CliError(errors.AUTH, "not logged in: no ACS token is configured (core.dcos_acs_token)",
                            "Run `dcos auth login`.")
        exp = token_expiry(token)
        if exp is not None and exp <= time.time():
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(exp))
            return CliError(errors.AUTH, f"your ACS token (core.dcos_acs_token) expired at {stamp}",
                            "Run `dcos auth login`.")
        return CliError(errors.AUTH, f"your ACS token (core.dcos_acs_token) is invalid: {resp.message()}",
                        "Run `dcos auth login`.")


def field_errors(resp: Response) -> list[str]:
    """``field: message`` lines from an answer's ``errors`` list (API validation), if any."""
    try:
        body = _json.loads(resp.body)
    except ValueError:
        return []
    found = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(found, list):
        data = body.get("data") if isinstance(body, dict) else None   # Cosmos: {"type","message","data"}
        found = data.get("errors") if isinstance(data, dict) else None
    lines = []
    for item in found or []:
        if isinstance(item, dict):
            path = item.get("field") or item.get("path") or item.get("name") or ""
            lines.append(f"{path}: {item.get('message', item)}" if path else str(item.get("message", item)))
        else:
            lines.append(str(item))
    return lines
