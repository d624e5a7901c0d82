"""The ScaleIO gateway REST API server (HTTPS) over the shared simulated system.

Two ways to run it:

- In-process, with its configuration as parameters (tests, the pre-built system of :mod:`.cli`)::

      gw = GatewayServer(state_dir, listen_ip="127.0.0.1", port=0, mdm_ips=["127.0.1.1"]).start()
      gw.url      # https://127.0.0.1:<port>/api
      gw.ca_path  # the sandbox CA clients verify against
      gw.stop()

- As the ``scaleio-gateway`` service inside an agent root: ``main()`` reads the real files, as the
  real gateway does at start (a configuration change needs a restart):

  - ``/opt/emc/scaleio/gateway/webapps/ROOT/WEB-INF/classes/gatewayUser.properties``:
    ``mdm.ip.addresses=<ip>[;,<ip>...]`` (both separators are accepted);
  - ``/opt/emc/scaleio/gateway/conf/catalina.properties``: ``ssl.port=`` (default 443);
  - the agent's address from ``/etc/sandbox/agent.json`` (``ip``);
  - the system's state dir from env ``SCALEIO_SANDBOX_STATE_DIR`` or ``/etc/sandbox/scaleio.json``.

TLS: the certificate (SubjectAltName = the listen IP) is issued by the sandbox CA in
``<state_dir>/tls`` (:mod:`.tls`), so clients verify it for real with ``<state_dir>/tls/ca.pem``.
The request logic lives in :mod:`.restapi`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import tls
from .restapi import DEFAULT_TOKEN_TTL_S, RestApi
from .system import System

GATEWAY_USER_PROPERTIES = "/opt/emc/scaleio/gateway/webapps/ROOT/WEB-INF/classes/gatewayUser.properties"
CATALINA_PROPERTIES = "/opt/emc/scaleio/gateway/conf/catalina.properties"
AGENT_FILE = "/etc/sandbox/agent.json"
SCALEIO_FILE = "/etc/sandbox/scaleio.json"
STATE_ENV = "SCALEIO_SANDBOX_STATE_DIR"
DEFAULT_SSL_PORT = 443
SOCKET_TIMEOUT_S = 30.0
MAX_BODY = 1 << 20


def read_properties(path) -> dict[str, str]:
    """Java-style ``key=value`` lines (``#``/``!`` comments); a missing file is empty."""
    props = {}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return props
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


def parse_mdm_ips(value: str | None) -> list[str]:
    """``mdm.ip.addresses``: IPs separated by ``;`` or ``,`` (both occur in working setups)."""
    return [p.strip() for p in (value or "").replace(";", ",").split(",") if p.strip()]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScaleIO-Gateway-Sandbox"
    sys_version = ""

    def _dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        status, payload = self.server.api.handle(self.command, self.path, self.headers.get("Authorization"), body)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, fmt, *args):   # request lines only; never headers (they carry credentials)
        log = self.server.log
        if log is not None:
            log.write("%s - %s\n" % (self.address_string(), fmt % args))
            log.flush()


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, context: ssl.SSLContext, api: RestApi, log=None):
        self.context, self.api, self.log = context, api, log
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(SOCKET_TIMEOUT_S)
        # Headers and body go out as separate TLS records; without NODELAY the client's delayed ACK
        # adds ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake happens in the request thread, so a slow client never blocks accept().
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        # TLS failures of clients that do not trust the CA, and resets, are the client's business.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)


class GatewayServer:
    """One gateway: HTTPS on ``listen_ip:port`` (``port=0`` picks a free one) over the system in ``state_dir``."""

    def __init__(self, state_dir, *, listen_ip: str = "127.0.0.1", port: int = 0, mdm_ips=(),
                 tls_dir=None, token_ttl_s: float | None = DEFAULT_TOKEN_TTL_S, check_mdm: bool = True,
                 log=None):
        self.state_dir = Path(state_dir)
        self.listen_ip = listen_ip
        self.requested_port = port
        self.mdm_ips = list(mdm_ips)
        self.tls_dir = Path(tls_dir) if tls_dir else self.state_dir / "tls"
        self.token_ttl_s = token_ttl_s
        self.check_mdm = check_mdm
        self.log = log
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None

    def _build(self) -> _TLSServer:
        cert, key = tls.issue_server_cert(self.tls_dir, self.listen_ip)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(cert), str(key))
        system = System.open(self.state_dir, actor=f"gateway@{self.listen_ip}")
        server = _TLSServer((self.listen_ip, self.requested_port), ctx, RestApi(system, self.mdm_ips,
                            token_ttl_s=self.token_ttl_s, check_mdm=self.check_mdm), self.log)
        # Sessions belong to this gateway (kind "gateway@ip:port"); expire_sessions("gateway") hits all.
        server.api.session_kind = f"gateway@{self.listen_ip}:{server.server_address[1]}"
        # A (re)started gateway knows no tokens: clients of the previous run get 401 and log in again.
        system.expire_sessions(server.api.session_kind)
        return server

    def bind(self) -> "GatewayServer":
        """Create the certificate and bind the listening socket (idempotent); returns self."""
        if self._server is None:
            self._server = self._build()
        return self

    def start(self) -> "GatewayServer":
        """Bind and serve in a background thread; returns self."""
        self.bind()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"gateway-{self.listen_ip}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind (if not yet) and serve in the calling thread until :meth:`shutdown` is called from elsewhere."""
        self.bind()
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Make :meth:`serve_forever` return (safe from another thread; not from a signal handler)."""
        if self._server is not None:
            self._server.shutdown()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL of the REST API, as clients configure it (``https://ip:port/api``)."""
        return f"https://{self.listen_ip}:{self.port}/api"

    @property
    def ca_path(self) -> Path:
        return self.tls_dir / tls.CA_CERT

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def config_from_files(root="/") -> dict:
    """What a gateway started inside an agent needs, read from the real files under ``root``.

    Returns ``{"state_dir", "listen_ip", "port", "mdm_ips"}``; ``state_dir``/``listen_ip`` may be None
    when the agent was not set up for the sandbox.
    """
    root = Path(root)

    def at(p):
        return root / p.lstrip("/")
    user = read_properties(at(GATEWAY_USER_PROPERTIES))
    catalina = read_properties(at(CATALINA_PROPERTIES))
    try:
        agent = json.loads(at(AGENT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        agent = {}
    state_dir = os.environ.get(STATE_ENV)
    if not state_dir:
        try:
            state_dir = json.loads(at(SCALEIO_FILE).read_text()).get("state_dir")
        except (FileNotFoundError, ValueError):
            state_dir = None
    port = catalina.get("ssl.port") or str(DEFAULT_SSL_PORT)
    return {"state_dir": state_dir, "listen_ip": agent.get("ip"), "port": int(port),
            "mdm_ips": parse_mdm_ips(user.get("mdm.ip.addresses"))}


def main(argv=None) -> int:
    """Run the gateway in the foreground (the ``scaleio-gateway`` unit's ExecStart) until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(prog="scaleio-gateway", description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="/", help="file-system root to read the configuration files from")
    ap.add_argument("--state-dir", help="the system's state dir (default: from the agent's files)")
    ap.add_argument("--listen-ip", help="address to listen on (default: the agent's ip)")
    ap.add_argument("--port", type=int, help="HTTPS port (default: ssl.port of catalina.properties)")
    ap.add_argument("--mdm-ips", help="comma list (default: mdm.ip.addresses of gatewayUser.properties)")
    ap.add_argument("--log", help="append request lines to this file")
    args = ap.parse_args(argv)
    cfg = config_from_files(args.root)
    state_dir = args.state_dir or cfg["state_dir"]
    listen_ip = args.listen_ip or cfg["listen_ip"]
    if not state_dir or not listen_ip:
        print("scaleio-gateway: no ScaleIO system state dir or listen address configured", file=sys.stderr)
        return 2
    mdm_ips = parse_mdm_ips(args.mdm_ips) if args.mdm_ips is not None else cfg["mdm_ips"]
    log = open(args.log, "a") if args.log else None
    server = GatewayServer(state_dir, listen_ip=listen_ip, port=args.port or cfg["port"], mdm_ips=mdm_ips,
                           log=log)

    server.bind()

    def _stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it must not run in the signal handler's thread.
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"The EMC ScaleIO Gateway is running on {listen_ip}:{server.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
        if log is not None:
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
