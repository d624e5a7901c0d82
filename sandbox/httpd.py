"""The lifecycle every sandbox HTTP emulator shares: one server, served on one daemon thread.

    class Mirror(ServedHTTP):
        def start(self):
            if self.running:
                return self
            return self._serve(threading_server((self.host, self.port), self._handler(_Handler)), "mirror")

``_handler(base)`` subclasses a request handler so its instances reach this object as ``self.owner``;
``_serve`` records the bound port in ``self.port`` and names the thread ``<name>-<port>``;
``stop()`` (idempotent) shuts the server down, closes its socket and joins the thread (bounded);
``with obj:`` is ``start()`` ... ``stop()``. Subclasses with more to tear down override ``stop()`` and
call ``self._stop_serving()``. ``_base_url(scheme, not_started)`` is ``scheme://host:port``, raising
``RuntimeError(not_started)`` before ``start()``.
"""
from __future__ import annotations

import http.server
import socketserver
import sys
import threading

__all__ = ["ServedHTTP", "threading_server", "POLL_INTERVAL_S", "JOIN_TIMEOUT_S"]

POLL_INTERVAL_S = 0.2   # how often serve_forever looks at its shutdown flag: bounds stop()'s latency
JOIN_TIMEOUT_S = 5.0    # a handler stuck in a request never blocks stop() longer than this


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hung up mid-request (tests tear worlds down while clients poll) is not news;
        # anything else is a bug in a handler and keeps socketserver's traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def threading_server(address, handler) -> http.server.ThreadingHTTPServer:
    """A thread-per-connection HTTP server whose handler threads never keep the process alive and
    that stays quiet about clients that hung up."""
    return _Server(address, handler)


class ServedHTTP:
    """Mixin for an object serving HTTP(S) on ``self.host``/``self.port`` (subclasses set both)."""

    _server: socketserver.BaseServer | None = None
    _thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def _handler(self, base: type) -> type:
        """A subclass of request handler ``base`` whose instances reach this object as ``self.owner``
        (one class per started object, so several objects can serve at once)."""
        return type(base.__name__, (base,), {"owner": self})

    def _serve(self, server: socketserver.BaseServer, name: str):
        """Serve ``server`` on a daemon thread named ``<name>-<port>``; returns self."""
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S},
                                        name=f"{name}-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _stop_serving(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=JOIN_TIMEOUT_S)
        self._server = None

    def stop(self) -> None:
        self._stop_serving()

    def _base_url(self, scheme: str, not_started: str) -> str:
        if self._server is None:
            raise RuntimeError(not_started)
        return f"{scheme}://{self.host}:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
