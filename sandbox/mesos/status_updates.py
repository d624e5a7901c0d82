"""The agent's task status update manager (mesos-http-api.md section 1.8).

One ordered stream per (framework, task). Only the head update is forwarded to the master; without
an ACK it is resent after ``retry_min`` seconds, the interval doubling up to ``retry_max``. An ACK whose
uuid matches the head advances the stream; a terminal head that is ACKed ends it. Duplicate uuids
from the executor are ignored (the caller still ACKNOWLEDGEs them).
"""
import collections
import logging

from .protocol import TERMINAL_STATES

log = logging.getLogger(__name__)


class _Stream:
    def __init__(self):
        self.pending = collections.deque()
        self.seen = set()               # uuids ever accepted for this task
        self.timer = None
        self.interval = None
        self.terminated = False         # a terminal update was accepted


class StatusUpdateManager:
    def __init__(self, clock, forward, retry_min=10.0, retry_max=600.0):
        """``forward(framework_id, status)`` sends one update to the master (it may be dropped)."""
        self.clock = clock
        self.forward = forward
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.streams = {}               # (framework_id, task_id) -> _Stream
        self.paused = False             # while the agent is down/unregistered: keep, do not send

    def update(self, fid, status):
        """Accept an update; returns False if it is a duplicate (already seen uuid)."""
        key = (fid, status["task_id"]["value"])
        stream = self.streams.setdefault(key, _Stream())
        uid = status.get("uuid")
        if uid in stream.seen:
            return False
        stream.seen.add(uid)
        stream.pending.append(status)
        if status["state"] in TERMINAL_STATES:
            stream.terminated = True
        if len(stream.pending) == 1:
            self._send_head(key, stream, reset=True)
        return True

    def acknowledge(self, fid, tid, uuid_b64):
        """Scheduler ACK via the master. Returns the ACKed status, or None if it did not match."""
        key = (fid, tid)
        stream = self.streams.get(key)
        if stream is None or not stream.pending or stream.pending[0].get("uuid") != uuid_b64:
            return None
        acked = stream.pending.popleft()
        self._cancel(stream)
        if stream.pending:
            self._send_head(key, stream, reset=True)
        elif acked["state"] in TERMINAL_STATES:
            del self.streams[key]
        return acked

    def pending_for(self, fid, tid):
        stream = self.streams.get((fid, tid))
        return list(stream.pending) if stream else []

    def drop_framework(self, fid):
        for key in [k for k in self.streams if k[0] == fid]:
            self._cancel(self.streams.pop(key))

    def resend_all(self):
        """After (re)registration: resend every head now, restarting the backoff."""
        for key, stream in list(self.streams.items()):
            if stream.pending:
                self._send_head(key, stream, reset=True)

    def stop(self):
        for stream in self.streams.values():
            self._cancel(stream)

    def _cancel(self, stream):
        if stream.timer is not None:
            stream.timer.cancel()
            stream.timer = None

    def _send_head(self, key, stream, reset=False):
        self._cancel(stream)
        if reset or stream.interval is None:
            stream.interval = self.retry_min
        else:
            stream.interval = min(stream.interval * 2, self.retry_max)
        if not self.paused:
            try:
                self.forward(key[0], stream.pending[0])
            except Exception:
                log.exception("forwarding a status update failed")
        stream.timer = self.clock.call_later(stream.interval, self._retry, key)

    def _retry(self, key):
        stream = self.streams.get(key)
        if stream is None or not stream.pending:
            return
        stream.timer = None
        self._send_head(key, stream)
