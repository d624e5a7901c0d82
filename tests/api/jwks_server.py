"""A real HTTP(S) server publishing an IAM's key set, as the DC/OS Admin Router does at
``/acs/api/v1/auth/jwks`` (for tests that start the scheduler API without the sandbox front)."""
from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JWKS_PATH = "/acs/api/v1/auth/jwks"


class JwksServer:
    """Serves ``keys_fn()`` at :data:`JWKS_PATH` on 127.0.0.1; ``hits`` counts the fetches.
    With ``tls=(cert, key)`` it speaks HTTPS."""

    def __init__(self, keys_fn, tls=None):
        self.keys_fn, self.hits = keys_fn, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                outer.hits += 1
                body = json.dumps(outer.keys_fn()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{JWKS_PATH}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
