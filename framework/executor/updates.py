"""Reliable status updates from the executor side: a retry queue of unacknowledged updates.

pymesos never resends an update, and ``sendStatusUpdate`` raises while the agent is unreachable
(mesos-http-api.md 4.6, pitfall 7). :class:`Updates` therefore keeps, per task, the latest update
the agent has not ACKNOWLEDGED yet, and one sender thread does every ``sendStatusUpdate`` call (so
pymesos callbacks never block on HTTP):

- :meth:`post` assigns the update a fresh 16-byte uuid, remembers it and wakes the sender;
- :meth:`acknowledged` (from the ACKNOWLEDGED event) forgets it when the uuid matches;
- :meth:`connected` (after SUBSCRIBED) marks everything unACKed for resending; updates whose send
  failed are also retried every ``retry_s`` while connected;
- :meth:`unacknowledged` lists them for the SUBSCRIBE call's ``unacknowledged_updates``.

A newer update for a task replaces an older unACKed one (the scheduler only needs the latest
state); duplicates are harmless, the scheduler ignores stale ones.
"""
from __future__ import annotations

import base64
import logging
import threading
import time
import uuid

log = logging.getLogger(__name__)
RETRY_S = 2.0


class _Pending:
    __slots__ = ("status", "uuid", "sent", "last_try")

    def __init__(self, status: dict):
        self.uuid = base64.b64encode(uuid.uuid4().bytes).decode("ascii")
        self.status = dict(status, uuid=self.uuid, source="SOURCE_EXECUTOR", timestamp=time.time())
        self.sent = False
        self.last_try = 0.0


class Updates:
    def __init__(self, send, retry_s: float = RETRY_S):
        """``send(status)``: one ``sendStatusUpdate`` call; may raise (then the update is retried)."""
        self._send = send
        self.retry_s = retry_s
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}     # task_id -> latest unACKed update (insertion order)
        self._online = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="status-updates", daemon=True)

    def start(self) -> "Updates":
        self._thread.start()
        return self

    # ------------------------------------------------------------------ producers (any thread)
    def post(self, status: dict) -> str:
        """Queue ``status`` (a TaskStatus dict without uuid) for sending; returns its uuid."""
        item = _Pending(status)
        task_id = status["task_id"]["value"]
        with self._cond:
            self._pending.pop(task_id, None)
            self._pending[task_id] = item
            online = self._online
            self._cond.notify_all()
        if not online:
            log.info("%s for task %s held until the agent is reachable again", status["state"], task_id)
        return item.uuid

    def acknowledged(self, task_id: str, uuid_b64: str) -> None:
        with self._cond:
            item = self._pending.get(task_id)
            if item is not None and _same_uuid(item.uuid, uuid_b64):
                del self._pending[task_id]
                self._cond.notify_all()

    def connected(self) -> None:
        """(Re)subscribed: resend every unACKed update (the agent may have lost or not stored them)."""
        with self._cond:
            self._online = True
            for item in self._pending.values():
                item.sent = False
                item.last_try = 0.0
            self._cond.notify_all()

    def disconnected(self) -> None:
        with self._cond:
            self._online = False

    def unacknowledged(self) -> list[dict]:
        with self._cond:
            return [dict(item.status) for item in self._pending.values()]

    def pending_count(self) -> int:
        with self._cond:
            return len(self._pending)

    def wait_drained(self, timeout: float) -> bool:
        """Wait (bounded) until every update was sent at least once."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(not i.sent for i in self._pending.values()):
                left = deadline - time.monotonic()
                if left <= 0 or not self._online:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ sender thread
    def _due(self):
        now = time.monotonic()
        for item in self._pending.values():
            if not item.sent and now - item.last_try >= (self.retry_s if item.last_try else 0.0):
                return item
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._online or self._due() is None):
                    self._cond.wait(0.5)
                if self._closed:
                    return
                item = self._due()
                item.last_try = time.monotonic()
                status = dict(item.status)
            try:
                self._send(status)
            except Exception as exc:  # disconnected, agent recovering (503), broken connection ...
                log.warning("status update %s for task %s not delivered yet (%s); will resend",
                            status["state"], status["task_id"]["value"], _brief(exc))
                continue
            with self._cond:
                if self._pending.get(status["task_id"]["value"]) is item:
                    item.sent = True
                self._cond.notify_all()
            log.info("sent %s for task %s (uuid %s)", status["state"], status["task_id"]["value"], item.uuid)


def _same_uuid(a: str, b: str) -> bool:
    try:
        return base64.b64decode(a) == base64.b64decode(b)
    except (ValueError, TypeError):
        return False


def _brief(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "..."
