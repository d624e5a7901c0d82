"""RecordIO framing as Mesos streams it: ``<decimal byte length>\\n<JSON bytes>``, no separator after.

Each record is written as one HTTP chunk (``<hex len>\\r\\n<record>\\r\\n``), as libprocess does;
clients must not rely on that, but it keeps our own readers simple.
"""
import json


def encode(event: dict) -> bytes:
    """One RecordIO record for ``event`` (compact JSON; the length counts bytes, never 0)."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return str(len(data)).encode("ascii") + b"\n" + data


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk; empty data is the terminating chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b"0\r\n\r\n"


class Decoder:
    """Incremental RecordIO decoder (used by our own tests and tooling, not by pymesos)."""

    def __init__(self):
        self._buf = b""

    def feed(self, data: bytes) -> list:
        """Add bytes; return every complete record decoded from JSON."""
        self._buf += data
        out = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return out
            length = int(self._buf[:nl])
            if len(self._buf) < nl + 1 + length:
                return out
            out.append(json.loads(self._buf[nl + 1:nl + 1 + length]))
            self._buf = self._buf[nl + 1 + length:]
