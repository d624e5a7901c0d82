"""A thin adapter around PyPowerFlex: configuration, one client, and error mapping.

Usage::

    gw = Gateway(GatewayConfig("https://10.0.0.1:4443", password=Secret(pw), ca_path="/x/ca.pem"))
    gw.connect()                                    # login + API version (raises a ClusterError)
    pds = gw.call("list ProtectionDomain", lambda c: c.protection_domain.get())

Contracts:

- TLS verification is on by default, against ``ca_path`` when given (else the system store).
- PyPowerFlex logs in (``GET /api/login``) for every request and logs out after it, so a token that
  expired between calls never matters. A token rejected *during* a call (HTTP 401 on anything but
  the login) is retried once, which logs in again; a second 401 is :class:`SessionExpired`. A 401
  is returned before anything is applied, so the replay cannot apply an effect twice.
- Failures become :class:`~.errors.ClusterError` subclasses: retryable for connection failures,
  timeouts, TLS transport errors, gateway/MDM 5xx and malformed responses; permanent for bad
  credentials, certificate verification failures, bad configuration and MDM refusals (with the
  MDM's status text). Exceptions are redacted and raised with no chained cause or context, so no
  secret travels in a message, a repr or a chained exception; the admin password is held as a
  ``Secret``, and PyPowerFlex's own log records are redacted too.
"""
from __future__ import annotations

import logging
import os
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable, TypeVar
from urllib.parse import urlsplit

import requests
from PyPowerFlex import PowerFlexClient
from PyPowerFlex import exceptions as pfx

from dcos_scaleio.options.model import Secret

from .errors import (ClusterError, GatewayAuthError, GatewayConfigError, GatewayRefused, GatewayTLSError,
                     GatewayUnavailable, Redactor, SessionExpired)

__all__ = ["GatewayConfig", "Gateway", "parse_endpoint", "config_from_options", "MIN_API_VERSION", "CA_FILE_NAME"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

MIN_API_VERSION = "3.0"   # PyPowerFlex refuses older gateways (2.x needs another client)
DEFAULT_PORT = 443
CA_FILE_NAME = "gateway-ca.pem"
# MDM refusals (HTTP 500 with an errorCode) that describe a passing condition, not a wrong request.
_TRANSIENT_MDM_TEXT = ("could not connect", "not connected", "unbalanced", "try again", "timed out",
                       "timeout", "busy", "temporarily", "not reachable", "unreachable")
_CERT_VERIFY_TEXT = ("certificate verify failed", "certificate_verify_failed", "hostname mismatch",
                     "doesn't match", "does not match")


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """``https://host[:port][/api]`` -> ``(host, port)``; anything else is a :class:`GatewayConfigError`.

    PyPowerFlex speaks HTTPS to ``https://host:port/api`` only, so other schemes and paths are refused;
    so are credentials in the URL (they would end up in logs).
    """
    what = "gateway endpoint"
    try:
        u = urlsplit(endpoint.strip())
        port = u.port
    except (AttributeError, ValueError):
        raise GatewayConfigError(f"malformed {what}: expected https://host[:port][/api]") from None
    if u.scheme != "https":
        raise GatewayConfigError(f"{what} must use https (PyPowerFlex speaks HTTPS only)")
    if u.username is not None or u.password is not None:
        raise GatewayConfigError(f"{what} must not carry credentials")
    if not u.hostname or ":" in u.hostname:
        raise GatewayConfigError(f"{what} needs a host name or IPv4 address")
    if u.path.rstrip("/") not in ("", "/api") or u.query or u.fragment:
        raise GatewayConfigError(f"{what} path must be empty or /api")
    return u.hostname, port or DEFAULT_PORT


@dataclass(frozen=True)
class GatewayConfig:
    """How to reach and trust the gateway. ``password`` may be given as a str; it is kept as a Secret."""

    endpoint: str
    password: Secret = field(repr=False)
    username: str = "admin"
    tls_verify: bool = True
    ca_path: str | None = None
    timeout_s: float = 30.0

    def __post_init__(self):
        if not isinstance(self.password, Secret):
            object.__setattr__(self, "password", Secret(str(self.password)))
        if self.ca_path is not None:
            object.__setattr__(self, "ca_path", os.fspath(self.ca_path))
        parse_endpoint(self.endpoint)   # fail early on a malformed endpoint

    @property
    def address(self) -> tuple[str, int]:
        return parse_endpoint(self.endpoint)


class _LogRedaction(logging.Filter):
    """Redacts the admin passwords of every Gateway from PyPowerFlex's own log records.

    PyPowerFlex logs gateway error bodies verbatim, and a gateway may echo a value it was sent. A
    logger's filters only see records created on that logger, so the filter is attached to every
    ``PyPowerFlex*`` logger (they are created at import time, before any Gateway exists).
    """

    def __init__(self):
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._installed: set[str] = set()

    def add(self, secret: str) -> None:
        with self._lock:
            if secret:
                self._secrets.add(secret)
            for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "PyPowerFlex"]:
                if name not in self._installed:
                    logging.getLogger(name).addFilter(self)
                    self._installed.add(name)

    def filter(self, record: logging.LogRecord) -> bool:
        redact = Redactor(self._secrets)
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_LOG_REDACTION = _LogRedaction()


def config_from_options(options, endpoint: str, *, ca_dir=None, timeout_s: float = 30.0) -> GatewayConfig:
    """The GatewayConfig the scheduler uses for ``endpoint`` (a cluster step's ``gateway_endpoint``).

    Reads only ``options.scaleio``: the admin password, ``gateway.tls_verify`` and the CA, which is
    ``gateway.ca_file`` or, for ``gateway.ca_pem``, a file ``ca_dir/gateway-ca.pem`` written with mode
    0600 (rewritten only when its content changes).
    """
    sio = options.scaleio
    ca_path = sio.gateway.ca_file or None
    if not ca_path and sio.gateway.ca_pem:
        if ca_dir is None:
            raise GatewayConfigError("scaleio.gateway.ca_pem is set: a directory for the CA file is needed")
        path = os.path.join(os.fspath(ca_dir), CA_FILE_NAME)
        data = sio.gateway.ca_pem.encode()
        try:
            with open(path, "rb") as f:
                same = f.read() == data
        except FileNotFoundError:
            same = False
        if not same:
            tmp = path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        ca_path = path
    return GatewayConfig(endpoint, password=sio.admin_password, tls_verify=sio.gateway.tls_verify,
                         ca_path=ca_path, timeout_s=timeout_s)


class Gateway:
    """One gateway (its configuration), shared by the cluster actions.

    Thread-safe with one PyPowerFlex client per calling thread: a client keeps one token for all its
    requests and logs out after each, so two concurrent calls on one client would end each other's
    sessions; with a client each, the cluster-action workers call the gateway in parallel (a deploy's
    SDS registrations and device additions on different agents no longer queue behind each other).
    """

    def __init__(self, config: GatewayConfig):
        self.config = config
        self._redact = Redactor([config.password.reveal()])
        _LOG_REDACTION.add(config.password.reveal())
        self._local = threading.local()

    @property
    def _client(self) -> PowerFlexClient | None:
        return getattr(self._local, "client", None)

    def __repr__(self) -> str:
        c = self.config
        return f"Gateway({c.endpoint!r}, user={c.username!r}, tls_verify={c.tls_verify}, ca_path={c.ca_path!r})"

    # ------------------------------------------------------------------ connection
    def connect(self) -> str:
        """Log in and read the API version (once; later calls reuse the client). Returns the version."""
        if self._client is None:
            self._local.client = self._new_client()
        return self._client.system.api_version()

    @property
    def api_version(self) -> str:
        return self.connect()

    def _new_client(self) -> PowerFlexClient:
        c = self.config
        if c.tls_verify and c.ca_path and not os.path.isfile(c.ca_path):
            raise GatewayConfigError(f"the gateway CA file {c.ca_path} does not exist",
                                     operation="connect to the gateway")
        host, port = c.address
        client = PowerFlexClient(gateway_address=host, gateway_port=port, username=c.username,
                                 password=c.password.reveal(), verify_certificate=c.tls_verify,
                                 certificate_path=c.ca_path if c.tls_verify else None, timeout=c.timeout_s)
        try:
            client.initialize()
            return client
        except Exception as exc:   # noqa: BLE001 - classified below; anything else is a bug and re-raises
            err = self._classify(exc, "connect to the gateway")
            if err is None:
                raise
        # Raised outside the except block: no __context__ chains PyPowerFlex's unredacted exception.
        raise err

    def call(self, operation: str, fn: Callable[[PowerFlexClient], T]) -> T:
        """Run ``fn(client)`` (one or more PyPowerFlex calls) and map its failures.

        ``operation`` names what is done, for messages (``"create Sds sds-a1"``). A session rejected
        during the call is retried once (PyPowerFlex logs in again on every request).
        """
        self.connect()
        for attempt in (1, 2):
            try:
                return fn(self._client)
            except Exception as exc:   # noqa: BLE001 - classified below; our own bugs re-raise
                err = self._classify(exc, operation)
                if err is None:
                    raise
            if not (isinstance(err, SessionExpired) and attempt == 1):
                break
            LOG.info("gateway rejected the session during %s; logging in again", operation)
        # Raised outside the except block: no __context__ chains PyPowerFlex's unredacted exception.
        raise err

    # ------------------------------------------------------------------ error mapping
    def _classify(self, exc: BaseException, operation: str) -> ClusterError | None:
        """The typed, redacted error for an exception out of PyPowerFlex/requests, or None when the
        exception did not come from talking to the gateway (a bug of ours: let it surface)."""
        r = self._redact
        if isinstance(exc, ClusterError):
            return exc
        cause = exc if isinstance(exc, requests.RequestException) else exc.__cause__
        if isinstance(cause, requests.RequestException):
            return self._from_requests(cause, operation)
        if isinstance(exc, pfx.PowerFlexClientException):
            body = exc.response if isinstance(exc.response, dict) else None
            if body is not None:
                return self._from_body(body, operation)
            text = r(exc.message)
            if "lower than" in text and "not supported" in text:
                return GatewayConfigError(f"the gateway's REST API is older than {MIN_API_VERSION}: {text}",
                                          operation=operation)
            return GatewayUnavailable(f"unexpected gateway answer: {text}", operation=operation)
        if isinstance(exc, (TypeError, KeyError, ValueError)) and _raised_in_pypowerflex(exc):
            # PyPowerFlex parses some error bodies as if they were results (e.g. a 5xx on /api/version).
            return GatewayUnavailable(f"unexpected response from the gateway ({type(exc).__name__}: {r(exc)})",
                                      operation=operation)
        return None

    def _from_requests(self, exc: requests.RequestException, operation: str) -> ClusterError:
        r = self._redact
        resp = exc.response
        if resp is not None and resp.status_code is not None and resp.status_code >= 400:
            body = _json_or_none(resp)
            if resp.status_code == 401 and resp.url and resp.url.rstrip("/").endswith("/api/login"):
                return GatewayAuthError(f"the gateway refused the credentials of user {self.config.username!r}",
                                        operation=operation, status=401)
            if isinstance(body, dict):
                return self._from_body({"httpStatusCode": resp.status_code, **body}, operation)
            return self._from_body({"httpStatusCode": resp.status_code, "message": resp.reason or ""}, operation)
        text = r(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            if any(t in text.lower() for t in _CERT_VERIFY_TEXT):
                ca = self.config.ca_path or "the system CA store"
                return GatewayTLSError(f"TLS verification of the gateway's certificate failed against {ca}: "
                                       f"{_short(text)}", operation=operation)
            return GatewayUnavailable(f"TLS connection to the gateway failed: {_short(text)}", operation=operation)
        if isinstance(exc, requests.exceptions.Timeout):
            return GatewayUnavailable(f"the gateway did not answer within {self.config.timeout_s:g} s",
                                      operation=operation)
        if isinstance(exc, requests.exceptions.ConnectionError):
            return GatewayUnavailable(f"cannot connect to the gateway at {self.config.endpoint}: {_short(text)}",
                                      operation=operation)
        return GatewayUnavailable(f"request to the gateway failed: {_short(text)}", operation=operation)

    def _from_body(self, body: dict, operation: str) -> ClusterError:
        status = _int_or_none(body.get("httpStatusCode"))
        code = _int_or_none(body.get("errorCode"))
        message = self._redact(body.get("message") or "no message")
        kw = {"operation": operation, "status": status, "error_code": code}
        if status == 401:
            return SessionExpired(f"the gateway rejected the session: {message}", **kw)
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            return GatewayRefused(message, **kw)
        if status == 500 and code:
            if any(t in message.lower() for t in _TRANSIENT_MDM_TEXT):
                return GatewayUnavailable(message, **kw)
            return GatewayRefused(message, **kw)
        return GatewayUnavailable(f"gateway error {status}: {message}", **kw)


def _raised_in_pypowerflex(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "PyPowerFlex" in frames[-1].filename


def _json_or_none(resp):
    try:
        return resp.json()
    except ValueError:
        return None


def _int_or_none(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
