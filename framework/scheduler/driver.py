"""The pymesos side: callbacks that only enqueue, and a driver handle the core loop calls through.

pymesos runs every callback on its single IO thread and tears the framework down if one raises,
so each callback here is wrapped: it records that the stream is alive, puts a small tuple on the
core loop's queue, and swallows (logs) anything unexpected. ``error()`` stops the driver at once
(pymesos would otherwise resubscribe in a busy loop) and tells the core loop.

:class:`DriverHandle` owns the MesosSchedulerDriver: built with ``failover=True`` (a crash never
sends TEARDOWN), plain dicts, explicit acknowledgements (the core loop ACKs after persisting).
``restart()`` replaces a silent driver (the heartbeat watchdog) with a fresh one re-registering
under the same framework ID. Driver calls never raise: failures are logged (a lost call is
recovered by reconciliation, offer timeouts and the engine's own timeouts).

Resent status updates are dropped early (:class:`StatusDedupe`): an agent resends an unACKed update
(after 10 s, then backing off), so while the core loop is busy, copies of an update that is already
queued, or whose ACK is on its way, arrive. ``statusUpdate`` does not queue a uuid that is queued
(for less than ``QUEUED_KEEP_S``) or was ACKed less than ``ACK_DEDUPE_S`` ago, and ``acknowledge()``
skips a uuid ACKed that recently. A failed (or unsent) ACK forgets the uuid, so the next resend is
handled and ACKed again; a lost ACK is repeated once the window has passed. Without this, every copy
costs the core loop an engine pass and one more synchronous POST, which deepens the backlog that
made the agent resend (at 1,000 simulated agents: ~95,000 updates for ~5,000 tasks).

ACKs leave the core loop (:class:`AckSender`): ``acknowledge()`` queues the ACKNOWLEDGE (after the
core loop persisted what the update changed, as before) and ``ACK_WORKERS`` threads POST them, each
on its own keep-alive connection to the current master with the driver's stream ID and credentials.
ACKs of different updates are independent, so they may overlap. The core loop no longer waits one
master round trip per status update, and a burst of updates is answered by several requests in
flight instead of a serial chain of round trips.

Launches (ACCEPT) and declines, the offer hot path, go on the core thread's own connection too
(:class:`MesosCaller`), still synchronous and in order: pymesos holds its lock for each call's whole
round trip, and its IO thread takes that lock on every loop, so events stopped being read while we
launched. The rare calls (kill, suppress/revive, reconcile, teardown) stay on pymesos; every call is
made from the core thread one after the other, so their order is kept.
"""
from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections import OrderedDict

from pymesos import MesosSchedulerDriver, Scheduler

__all__ = ["Callbacks", "DriverHandle", "StatusDedupe", "AckSender", "MesosCaller", "NotSubscribed", "ACK_DEDUPE_S",
           "QUEUED_KEEP_S", "ACK_WORKERS"]

LOG = logging.getLogger(__name__)
ACK_DEDUPE_S = 2.0      # a resend arriving this soon after our ACK crossed it (agents resend after >= 10 s)
QUEUED_KEEP_S = 30.0    # a queued uuid the core never ACKed (no driver, crash) stops blocking its resends
ACK_WORKERS = 4
CALL_TIMEOUT_S = 10.0


class StatusDedupe:
    """Status update uuids that need no more work: queued for the core loop, or just ACKed.
    Thread-safe (pymesos' IO thread admits, the core thread ACKs)."""

    def __init__(self, acked_s: float = ACK_DEDUPE_S, queued_s: float = QUEUED_KEEP_S, clock=time.monotonic):
        self.acked_s, self.queued_s, self.clock = acked_s, queued_s, clock
        self._lock = threading.Lock()
        self._queued: OrderedDict[str, float] = OrderedDict()   # uuid -> when queued (oldest first)
        self._acked: OrderedDict[str, float] = OrderedDict()    # uuid -> when ACKed (oldest first)
        self.dropped = 0

    @staticmethod
    def _expire(entries: OrderedDict, older_than: float):
        while entries:
            first = next(iter(entries.values()))
            if first >= older_than:
                return
            entries.popitem(last=False)

    def admit(self, uuid: str) -> bool:
        """True for the first copy of an update (queue it); False for a resent copy of one that is
        queued or was ACKed moments ago."""
        now = self.clock()
        with self._lock:
            self._expire(self._queued, now - self.queued_s)
            self._expire(self._acked, now - self.acked_s)
            if uuid in self._queued or uuid in self._acked:
                self.dropped += 1
                return False
            self._queued[uuid] = now
            return True

    def pending(self) -> int:
        """Status updates admitted (queued for the core loop) whose ACK has not been confirmed yet."""
        with self._lock:
            return len(self._queued)

    def recently_acked(self, uuid: str) -> bool:
        now = self.clock()
        with self._lock:
            self._expire(self._acked, now - self.acked_s)
            return uuid in self._acked

    def acked(self, uuid: str, ok: bool):
        """The core loop ACKed ``uuid`` (``ok``: the master got it) or could not: then forget it, so
        the agent's next resend is handled and ACKed again."""
        with self._lock:
            self._queued.pop(uuid, None)
            if ok:
                self._acked[uuid] = self.clock()


def _guard(fn):
    def wrapper(self, *args):
        self.last_seen = time.monotonic()
        try:
            fn(self, *args)
        except Exception:   # never into pymesos: it would tear the framework down
            LOG.exception("scheduler callback %s failed", fn.__name__)
    wrapper.__name__ = fn.__name__
    return wrapper


class Callbacks(Scheduler):
    """pymesos Scheduler whose callbacks enqueue ``(kind, ...)`` tuples with ``emit``."""

    def __init__(self, emit, dedupe: StatusDedupe | None = None):
        self.emit = emit
        self.last_seen = time.monotonic()
        self.dedupe = dedupe if dedupe is not None else StatusDedupe()

    @_guard
    def registered(self, driver, framework_id, master_info):
        self.emit(("registered", framework_id["value"]))

    @_guard
    def reregistered(self, driver, master_info):
        self.emit(("reregistered",))

    @_guard
    def disconnected(self, driver):
        self.emit(("disconnected",))

    @_guard
    def processHeartBeat(self, driver):
        pass

    @_guard
    def resourceOffers(self, driver, offers):
        self.emit(("offers", offers))

    @_guard
    def inverseOffers(self, driver, offers):
        pass

    @_guard
    def offerRescinded(self, driver, offer_id):
        self.emit(("rescinded", offer_id["value"]))

    @_guard
    def statusUpdate(self, driver, status):
        uuid = status.get("uuid")
        if uuid and not self.dedupe.admit(uuid):
            return          # a resent copy of an update already queued or just ACKed
        self.emit(("status", status))

    @_guard
    def frameworkMessage(self, driver, executor_id, agent_id, data):
        LOG.debug("framework message from %s ignored", executor_id.get("value"))

    @_guard
    def slaveLost(self, driver, agent_id):
        self.emit(("agent_lost", agent_id["value"]))

    @_guard
    def executorLost(self, driver, executor_id, agent_id, status):
        self.emit(("executor_lost", executor_id["value"], agent_id["value"]))

    @_guard
    def error(self, driver, message):
        LOG.error("Mesos error: %s", message)
        try:
            driver.stop(failover=True)    # no busy resubscribe loop; never TEARDOWN here
        finally:
            self.emit(("error", message))


class _Connection:
    """A minimal HTTP/1.1 keep-alive client for POSTs with small answers, as scheduler calls are
    (``202`` with ``Content-Length: 0``, or an error text). ``http.client`` parses every answer's
    headers through the ``email`` package, which cost more CPU than the rest of a call."""

    def __init__(self, host: str, port: int, timeout_s: float):
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the master closed the connection")
        self.buf += chunk

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes, bool]:
        """(status, body, keep-alive) of one POST."""
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        header, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split(None, 2)[1])
        length, keep = None, not lines[0].startswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                keep = value != b"close"
            elif name == b"transfer-encoding" and value != b"identity":
                raise ConnectionError(f"unexpected Transfer-Encoding {value!r} in a call's answer")
        if length is None:
            if status in (204, 304) or status < 200:
                length = 0
            else:                              # delimited by the end of the connection
                try:
                    while True:
                        self._fill()
                except ConnectionError:
                    pass
                length, keep = len(self.buf), False
        while len(self.buf) < length:
            self._fill()
        answer, self.buf = self.buf[:length], self.buf[length:]
        return status, answer, keep

    def close(self):
        self.sock.close()


class NotSubscribed(Exception):
    """No call can be made: there is no subscribed driver (the call surely did not reach the master)."""


class MesosCaller:
    """Scheduler calls on our own keep-alive connection to the current master, outside pymesos
    (whose lock is held by each of its calls for a whole round trip, stalling its IO thread and every
    other caller). Uses the driver's subscription: master address, stream ID, framework ID, HTTP
    Basic credential (read without pymesos' lock: single attribute reads, atomic under the GIL).
    One instance per thread. :meth:`post` raises NotSubscribed, OSError (ConnectionError, timeouts),
    ValueError on a malformed answer, or RuntimeError on a non-2xx answer."""

    def __init__(self, timeout_s: float = CALL_TIMEOUT_S):
        self.timeout_s = timeout_s
        self._conn = None
        self._target = None

    def post(self, driver, call_type: str, field: str, payload: dict) -> None:
        stream_id = getattr(driver, "_stream_id", None)
        if driver is None or stream_id is None:
            raise NotSubscribed(call_type)
        master = driver._master
        body = {"type": call_type, "framework_id": {"value": driver.framework_id}, field: payload}
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": stream_id}
        credential = getattr(driver, "_basic_credential", None)    # pymesos' "Basic ..." header value
        if credential:
            headers["Authorization"] = credential
        try:
            if self._conn is None or self._target != master:
                self.close()
                host, port = master.rsplit(":", 1)
                self._conn, self._target = _Connection(host, int(port), self.timeout_s), master
            status, answer, keep = self._conn.post("/api/v1/scheduler", json.dumps(body).encode(), headers)
        except Exception:
            self.close()
            raise
        if not keep:
            self.close()
        if not 200 <= status < 300:
            raise RuntimeError(f"{call_type} answered {status}: {answer[:200]!r}")

    def close(self):
        if self._conn is not None:
            self._conn.close()
        self._conn = self._target = None


class AckSender:
    """ACKNOWLEDGE calls on ``workers`` threads, each with its own :class:`MesosCaller` (see the module
    docstring). ``current()`` returns the current pymesos driver or None; ``done(uuid, ok)`` is told
    the outcome of each ACK."""

    def __init__(self, current, done, workers: int = ACK_WORKERS):
        self._current = current
        self._done = done
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.sent = self.failed = 0
        self._threads = [threading.Thread(target=self._work, name=f"mesos-ack-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, status: dict) -> None:
        self._q.put(status)

    def stop(self) -> None:
        for _ in self._threads:
            self._q.put(None)

    def _work(self):
        caller = MesosCaller()
        while True:
            status = self._q.get()
            if status is None:
                break
            ok = False
            try:
                caller.post(self._current(), "ACKNOWLEDGE", "acknowledge",
                            {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]})
                ok = True
            except NotSubscribed:
                pass
            except Exception as exc:    # OSError, ValueError, non-2xx (e.g. a master that just changed)
                LOG.warning("ACKNOWLEDGE of %s failed: %s", status["task_id"].get("value"), exc)
            if ok:
                self.sent += 1
            else:
                self.failed += 1
            self._done(status.get("uuid"), ok)
        caller.close()


class DriverHandle:
    """The current MesosSchedulerDriver, replaceable; every call is guarded and logged."""

    def __init__(self, callbacks: Callbacks, framework: dict, master: str, *, principal=None, secret=None):
        self.callbacks = callbacks
        self.framework = framework        # pymesos mutates it (sets 'id'): shared across restarts
        self.master = master
        self.principal, self.secret = principal, secret
        self._lock = threading.Lock()
        self._driver = None
        self.restarts = 0
        self.dedupe = callbacks.dedupe
        self.acks_skipped = 0
        self.acks = AckSender(lambda: self._driver, self.dedupe.acked)
        self._caller = MesosCaller()          # launches and declines, from the core thread only

    def _new(self):
        return MesosSchedulerDriver(self.callbacks, self.framework, self.master, use_addict=False,
                                    implicit_acknowledgements=False, principal=self.principal, secret=self.secret,
                                    failover=True)

    def start(self):
        with self._lock:
            self._driver = self._new()
            driver = self._driver
        self.callbacks.last_seen = time.monotonic()
        driver.start()

    def restart(self):
        """Drop the (silent) subscription and subscribe again with the same framework ID."""
        with self._lock:
            old, self._driver = self._driver, None
        if old is not None:
            self._safe(old.stop, True)
            old.join()
        self.restarts += 1
        self.start()

    def stop(self, teardown: bool = False):
        with self._lock:
            old, self._driver = self._driver, None
        if old is not None:
            self._safe(old.stop, not teardown)
            old.join()
        self.acks.stop()
        self._caller.close()

    @property
    def driver(self):
        return self._driver

    def _safe(self, fn, *args):
        try:
            fn(*args)
            return True
        except Exception as exc:   # RuntimeError on a non-2xx answer, OSError on a broken call
            LOG.warning("Mesos call %s failed: %s", getattr(fn, "__name__", fn), exc)
            return False

    def _call(self, name, *args):
        driver = self._driver
        if driver is None:
            return False
        return self._safe(getattr(driver, name), *args)

    def _post(self, call_type: str, field: str, payload: dict) -> bool:
        try:
            self._caller.post(self._driver, call_type, field, payload)
            return True
        except NotSubscribed:
            return False
        except Exception as exc:   # RuntimeError on a non-2xx answer, OSError/ValueError on a broken call
            LOG.warning("Mesos call %s failed: %s", call_type, exc)
            return False

    def launch(self, offer_id: str, tasks: list, refuse_seconds: float) -> bool:
        """ACCEPT with one LAUNCH (on our own connection, see :class:`MesosCaller`). False when it
        surely did not reach the master, or the master refused it."""
        return self._post("ACCEPT", "accept", {
            "offer_ids": [{"value": offer_id}], "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": refuse_seconds}})

    def decline(self, offer_ids: list, refuse_seconds: float):
        """One DECLINE for a batch of offers (on our own connection, see :class:`MesosCaller`)."""
        return self._post("DECLINE", "decline", {"offer_ids": [{"value": o} for o in offer_ids],
                                                 "filters": {"refuse_seconds": refuse_seconds}})

    def suppress(self, roles):
        return self._call("suppressOffers", list(roles))

    def revive(self, roles):
        return self._call("reviveOffers", list(roles))

    def kill(self, task_id: str):
        return self._call("killTask", {"value": task_id})

    def reconcile(self, task_ids):
        return self._call("reconcileTasks", [{"task_id": {"value": t}} for t in task_ids])

    def acknowledge(self, status: dict):
        """Queue the ACK of ``status`` for the :class:`AckSender`, unless its uuid was ACKed within
        ``ACK_DEDUPE_S`` (see the module docstring). False when there is nothing to ACK it on."""
        uuid = status.get("uuid")
        if not uuid:
            return False
        if self.dedupe.recently_acked(uuid):
            self.acks_skipped += 1
            return True
        driver = self._driver
        if driver is None or getattr(driver, "_stream_id", None) is None:   # not subscribed (lock-free read)
            self.dedupe.acked(uuid, False)
            return False
        self.acks.submit(status)
        return True
