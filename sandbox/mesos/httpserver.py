"""A small asyncio HTTP/1.1 server with the connection behaviour libprocess has.

Contracts (see mesos-http-api.md section 7, items 1-4):
- persistent connections: any number of sequential requests per socket, never an idle close; a
  connection is only closed after a request that asked for ``Connection: close`` (and then the
  response says so too);
- plain responses always carry ``Content-Length`` and ``Date``;
- a handler may answer with a :class:`Stream`: ``200``, chunked, no Content-Length, kept open even if
  the request said ``Connection: close``. :meth:`Stream.send` only queues bytes on the transport, so
  event writes never block the handling of a call; the stream ends with ``0\\r\\n\\r\\n`` and a close.
"""
import asyncio
import email.utils
import http
import json
import logging
from urllib.parse import urlsplit, parse_qs

from . import recordio

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024


class Request:
    def __init__(self, method, target, headers, body, peer, connection=None):
        self.method = method
        parts = urlsplit(target)
        self.path = parts.path or "/"
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.headers = headers          # lower-case names
        self.body = body
        self.peer = peer
        self.connection = connection    # the StreamWriter, so a handler can later cut this connection

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class Response:
    def __init__(self, status=200, body=b"", content_type=None, headers=None):
        self.status = int(status)
        if isinstance(body, str):
            body = body.encode("utf-8")
            content_type = content_type or "text/plain; charset=utf-8"
        self.body = body
        self.headers = dict(headers or {})
        if content_type:
            self.headers["Content-Type"] = content_type


def json_response(obj, status=200, headers=None) -> Response:
    return Response(status, json.dumps(obj).encode("utf-8"), "application/json", headers)


class Stream:
    """A chunked streaming response. Create it in a handler and return it.

    ``on_open(stream)`` runs once the headers are written; ``on_close(stream)`` runs exactly once when
    the stream ends for any reason (peer closed, :meth:`close`, server stop).
    """

    def __init__(self, headers=None, content_type="application/json", on_open=None, on_close=None):
        self.headers = dict(headers or {})
        self.headers["Content-Type"] = content_type
        self.on_open = on_open
        self.on_close = on_close
        self.closed = False
        self._writer = None
        self._pending = []              # records queued before the headers went out
        self._done = asyncio.Event()

    def send(self, event: dict):
        """Queue one RecordIO record; never blocks. Ignored once the stream is closed."""
        self.send_raw(recordio.encode(event))

    def send_raw(self, data: bytes):
        if self.closed:
            return
        if self._writer is None:
            self._pending.append(data)
            return
        try:
            self._writer.write(recordio.chunk(data))
        except Exception:               # the peer went away; the reader side notices and closes
            self.close(graceful=False)

    def close(self, graceful=True):
        """End the stream: terminating chunk (if ``graceful``) and close the socket."""
        if self.closed:
            return
        self.closed = True
        if self._writer is not None:
            try:
                if graceful:
                    self._writer.write(recordio.chunk(b""))
                self._writer.close()
            except Exception:
                pass
        self._done.set()
        if self.on_close:
            cb, self.on_close = self.on_close, None
            try:
                cb(self)
            except Exception:
                log.exception("stream close callback failed")

    def _attach(self, writer):
        self._writer = writer
        for data in self._pending:
            writer.write(recordio.chunk(data))
        self._pending = []


def _status_line(status):
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n"


class HttpServer:
    """Serve ``handler(request) -> Response | Stream`` (an async function) on ``host:port``."""

    def __init__(self, host, port, handler, name="http"):
        self.host = host
        self.port = port
        self.handler = handler
        self.name = name
        self._server = None
        self._conns = set()
        self._streams = set()

    async def start(self):
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    async def stop(self):
        """Close the listener and every connection (streams end with a bare close, like a crash)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for stream in list(self._streams):
            stream.close(graceful=False)
        for writer in list(self._conns):
            try:
                writer.transport.abort()
            except Exception:
                pass
        self._conns.clear()

    def close_streams(self, graceful=False):
        for stream in list(self._streams):
            stream.close(graceful=graceful)

    async def _serve(self, reader, writer):
        self._conns.add(writer)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                request = await self._read_request(reader, peer)
                if request is None:
                    return
                request.connection = writer
                try:
                    result = await self.handler(request)
                except Exception:
                    log.exception("%s: handler failed for %s %s", self.name, request.method, request.path)
                    result = Response(500, "Internal server error")
                if isinstance(result, Stream):
                    await self._stream(result, reader, writer)
                    return
                close = request.header("connection", "").lower() == "close"
                self._write_response(writer, result, close)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        except asyncio.CancelledError:
            # Only happens when the emulator shuts down; asyncio's stream callback would log a
            # spurious traceback for a cancelled connection task, so end quietly.
            return
        finally:
            self._conns.discard(writer)
            try:
                writer.close()
            except Exception:
                pass

    async def _read_request(self, reader, peer):
        try:
            line = await reader.readline()
        except (ConnectionError, asyncio.IncompleteReadError):
            return None
        if not line:
            return None
        parts = line.decode("latin-1").strip().split()
        if len(parts) != 3:
            raise ValueError("bad request line")
        method, target, _version = parts
        headers = {}
        while True:
            hline = await reader.readline()
            if not hline or hline in (b"\r\n", b"\n"):
                break
            name, _, value = hline.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad content-length")
        body = await reader.readexactly(length) if length else b""
        return Request(method, target, headers, body, peer)

    @staticmethod
    def abort(connection):
        """Reset one client connection (emulates the network dropping it)."""
        try:
            connection.transport.abort()
        except Exception:
            pass

    def _write_response(self, writer, response, close):
        headers = dict(response.headers)
        headers["Date"] = email.utils.formatdate(usegmt=True)
        headers["Content-Length"] = str(len(response.body))
        if close:
            headers["Connection"] = "close"
        head = _status_line(response.status) + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1") + response.body)

    async def _stream(self, stream, reader, writer):
        headers = dict(stream.headers)
        headers["Date"] = email.utils.formatdate(usegmt=True)
        headers["Transfer-Encoding"] = "chunked"
        head = _status_line(200) + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        self._streams.add(stream)
        if stream.closed:               # closed before it was attached: just end it
            stream._attach(writer)
            writer.write(recordio.chunk(b""))
            self._streams.discard(stream)
            return
        stream._attach(writer)
        if stream.on_open:
            try:
                stream.on_open(stream)
            except Exception:
                log.exception("stream open callback failed")
        # The client never sends anything more on a streaming connection: EOF means it went away.
        eof = asyncio.ensure_future(self._wait_eof(reader))
        done = asyncio.ensure_future(stream._done.wait())
        try:
            await asyncio.wait({eof, done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            eof.cancel()
            done.cancel()
            self._streams.discard(stream)
            stream.close(graceful=False)

    @staticmethod
    async def _wait_eof(reader):
        try:
            while await reader.read(65536):
                pass
        except Exception:
            pass
