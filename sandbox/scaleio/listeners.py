"""Stand-in service ports for a pre-built system whose members are not running in agent roots.

A pre-built ("existing cluster") system has MDMs and SDSs that no agent runs. The gateway and the
MDM check reachability with TCP connects (MDM 9011/6611, SDS 7072), so the sandbox opens those ports
with :class:`PortListener`: it accepts and closes connections, nothing more.
"""
from __future__ import annotations

import socket
import threading


class PortListener:
    """Listen on ``ip:port`` in a daemon thread until :meth:`stop`. Context manager."""

    def __init__(self, ip: str, port: int):
        self.ip, self.port = ip, port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> "PortListener":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ip, self.port))
        s.listen(64)
        s.settimeout(0.2)
        self._sock = s
        self._thread = threading.Thread(target=self._serve, name=f"listener-{self.ip}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._sock is not None:
            try:   # wakes a blocked accept() at once on Linux
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "PortListener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
