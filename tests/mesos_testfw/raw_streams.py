"""Raw RecordIO stream clients over a plain socket (they check the wire, unlike pymesos):
:class:`OperatorStream` for the operator API and :class:`SchedulerStream` for the scheduler API."""
import json
import socket
import threading
import time

from dcos_scaleio.sandbox.mesos.recordio import Decoder


class RecordIOStream:
    """POST ``call`` to ``path`` and decode the chunked RecordIO answer in a background thread."""

    def __init__(self, master, path, call):
        host, port = master.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        body = json.dumps(call).encode()
        self.sock.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                          b"Accept: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                          % (path.encode(), master.encode(), len(body), body))
        self.headers = b""
        self.events = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(65536)
            if not data:
                return
            buf += data
        self.headers, _, rest = buf.partition(b"\r\n\r\n")
        with self._cond:
            self._cond.notify_all()
        chunks = rest
        decoder = Decoder()
        self.sock.settimeout(None)
        while True:
            # de-chunk: <hex>\r\n<data>\r\n
            while True:
                line_end = chunks.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(chunks[:line_end], 16)
                if size == 0:
                    return
                if len(chunks) < line_end + 2 + size + 2:
                    break
                records = decoder.feed(chunks[line_end + 2:line_end + 2 + size])
                chunks = chunks[line_end + 2 + size + 2:]
                with self._cond:
                    self.events.extend(records)
                    self._cond.notify_all()
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            chunks += data

    def wait_for(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"operator event not seen; got {[e.get('type') for e in self.events]}")
                self._cond.wait(min(left, 0.5))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class OperatorStream(RecordIOStream):
    def __init__(self, master, path="/api/v1"):
        super().__init__(master, path, {"type": "SUBSCRIBE"})


class SchedulerStream(RecordIOStream):
    """A framework subscribed by hand; ``header(name)`` reads the response headers."""

    def __init__(self, master, framework_info):
        super().__init__(master, "/api/v1/scheduler", {"type": "SUBSCRIBE",
                                                        "subscribe": {"framework_info": framework_info}})
        self.subscribed = self.wait_for(lambda e: e.get("type") == "SUBSCRIBED")["subscribed"]
        self.framework_id = self.subscribed["framework_id"]["value"]

    def header(self, name):
        for line in self.headers.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None
