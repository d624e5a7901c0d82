"""The Docker volume plugin protocol (``/VolumeDriver.*`` over HTTP on a unix socket).

``rexray start`` serves it on ``/run/docker/plugins/rexray.sock``; ``dvdcli`` is its client and finds
drivers as Docker does: ``/run/docker/plugins/<driver>.sock`` or ``/etc/docker/plugins/<driver>.spec``
(a file holding ``unix:///path``). Requests and replies are JSON; failures carry ``{"Err": "..."}``.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
PLUGIN_DIRS = ("/run/docker/plugins", "/etc/docker/plugins", "/usr/lib/docker/plugins")


class PluginError(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# server
# ------------------------------------------------------------------------------------------------
class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(path: str, handlers: dict) -> "_Server":
    """Serve the plugin API on unix socket ``path`` in a thread. ``handlers``: ``{"Mount": fn(req)->dict}``
    for the ``/VolumeDriver.<name>`` endpoints (``/Plugin.Activate`` is answered here)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: the daemon's stdout is the unit's journal
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                req = json.loads(raw) if raw.strip() else {}
            except ValueError:
                req = {}
            endpoint = self.path.lstrip("/")
            if endpoint == "Plugin.Activate":
                reply = {"Implements": ["VolumeDriver"]}
            elif endpoint.startswith("VolumeDriver.") and endpoint[len("VolumeDriver."):] in handlers:
                try:
                    reply = handlers[endpoint[len("VolumeDriver."):]](req)
                    reply.setdefault("Err", "")
                except Exception as exc:  # every failure is reported in-band, as Docker expects
                    reply = {"Err": str(exc)}
            else:
                self.send_error(404)
                return
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    server = _Server(path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ------------------------------------------------------------------------------------------------
# client
# ------------------------------------------------------------------------------------------------
class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def find_socket(driver: str, root=None) -> str:
    """The unix socket of ``driver``, found as Docker finds plugins."""
    if not driver or "/" in driver or driver.startswith("."):
        raise PluginError(f"invalid volume driver name {driver!r}")

    def at(p):
        return os.path.join(root, p.lstrip("/")) if root else p
    for d in PLUGIN_DIRS:
        sock = f"{d}/{driver}.sock"
        if os.path.exists(at(sock)):
            return at(sock)
        spec = f"{d}/{driver}.spec"
        if os.path.exists(at(spec)):
            url = open(at(spec)).read().strip()
            if url.startswith("unix://"):
                return at(url[len("unix://"):])
            raise PluginError(f"unsupported plugin address in {spec}: {url}")
    raise PluginError(f"volume driver {driver!r} not found (no {driver}.sock or {driver}.spec in "
                      f"{', '.join(PLUGIN_DIRS)})")


def call(sock_path: str, endpoint: str, body: dict, timeout: float = 120.0) -> dict:
    conn = _UnixConnection(sock_path, timeout)
    try:
        data = json.dumps(body).encode()
        conn.request("POST", "/" + endpoint, body=data,
                     headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE})
        resp = conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            raise PluginError(f"{endpoint}: HTTP {resp.status}")
        reply = json.loads(raw or b"{}")
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise PluginError(f"{endpoint}: {exc}") from None
    finally:
        conn.close()
    if reply.get("Err"):
        raise PluginError(reply["Err"])
    return reply
