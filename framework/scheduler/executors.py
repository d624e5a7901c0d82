"""One custom executor per agent: its ID, its ExecutorInfo and the token it fetches secrets with.

Executors are disposable: after a loss (executor terminated, agent restarted or gone, agent ID
changed, or an ExecutorInfo that no longer matches what we would build) the next launch on that
host uses a new generation, ``scaleio-executor__<host>__<n+1>``, so the new ID never collides with
one the agent may still know. The ExecutorInfo of the current generation is reused verbatim (Mesos
refuses a different ExecutorInfo under a known executor ID), so it is persisted with its token;
after a scheduler restart a surviving executor keeps its ID and token.

The token authorises ``GET /v1/executor/secrets`` for that executor ID only, and only while it is
the current executor of its host (:meth:`ExecutorRegistry.authorize`, safe from any thread).
"""
from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from .messages import executor_id

__all__ = ["ExecutorRecord", "ExecutorRegistry", "AUTH_OK", "AUTH_MISSING", "AUTH_RETIRED"]

AUTH_OK, AUTH_MISSING, AUTH_RETIRED = 200, 401, 403
_RETIRED_KEPT = 4096


@dataclass
class ExecutorRecord:
    hostname: str
    generation: int
    executor_id: str
    agent_id: str
    token: str = field(repr=False)
    info: dict = field(repr=False)
    stale: bool = False

    def to_json(self) -> dict:
        return {"hostname": self.hostname, "generation": self.generation, "executor_id": self.executor_id,
                "agent_id": self.agent_id, "token": self.token, "info": self.info, "stale": self.stale}

    @classmethod
    def from_json(cls, d: dict) -> "ExecutorRecord":
        return cls(d["hostname"], int(d["generation"]), d["executor_id"], d.get("agent_id", ""), d["token"],
                   d["info"], bool(d.get("stale", False)))


class ExecutorRegistry:
    """Executors by hostname. Mutated from the core thread only; :meth:`authorize` from any thread."""

    def __init__(self, records=()):
        self._lock = threading.Lock()
        self._by_host: dict[str, ExecutorRecord] = {}
        self._by_id: dict[str, ExecutorRecord] = {}
        self._retired: OrderedDict[str, str] = OrderedDict()   # old executor ID -> its token (403, not 401)
        for rec in records:
            self._by_host[rec.hostname] = rec
            self._by_id[rec.executor_id] = rec

    def get(self, hostname: str) -> ExecutorRecord | None:
        return self._by_host.get(hostname)

    def host_of(self, eid: str) -> str | None:
        rec = self._by_id.get(eid)
        return rec.hostname if rec else None

    def for_launch(self, hostname: str, agent_id: str, build: Callable[[str, str], dict]):
        """(ExecutorInfo, record to persist or None) for a task on ``hostname``'s agent ``agent_id``.
        ``build(executor_id, token)`` makes a fresh ExecutorInfo; the current one is reused when it is
        still valid (same agent ID, not stale, and identical to what ``build`` makes now)."""
        rec = self._by_host.get(hostname)
        if rec is not None and not rec.stale and rec.agent_id == agent_id and build(rec.executor_id, rec.token) == rec.info:
            return rec.info, None
        generation = rec.generation + 1 if rec is not None else 1
        eid = executor_id(hostname, generation)
        token = secrets.token_urlsafe(32)
        new = ExecutorRecord(hostname, generation, eid, agent_id, token, build(eid, token))
        with self._lock:
            if rec is not None:
                self._retire(rec)
            self._by_host[hostname] = new
            self._by_id[eid] = new
        return new.info, new

    def mark_lost(self, *, hostname: str | None = None, eid: str | None = None) -> ExecutorRecord | None:
        """The executor is gone (or must not be reused): revoke its token; the next launch makes a
        new one. Returns the changed record (to persist) or None."""
        if hostname is None and eid is not None:
            hostname = self.host_of(eid)
        rec = self._by_host.get(hostname) if hostname else None
        if rec is None or rec.stale or (eid is not None and rec.executor_id != eid):
            return None
        with self._lock:
            rec.stale = True
        return rec

    def mark_agent_gone(self, agent_id: str) -> list[ExecutorRecord]:
        return [r for r in [self.mark_lost(hostname=rec.hostname) for rec in list(self._by_host.values())
                            if rec.agent_id == agent_id] if r is not None]

    def _retire(self, rec: ExecutorRecord):
        self._by_id.pop(rec.executor_id, None)
        self._retired[rec.executor_id] = rec.token
        while len(self._retired) > _RETIRED_KEPT:
            self._retired.popitem(last=False)

    def authorize(self, eid: str, token: str) -> int:
        """200 if ``token`` is the current executor ``eid``'s; 403 if it is a valid token of an
        executor that is no longer current; 401 otherwise (missing or wrong token)."""
        if not eid or not token:
            return AUTH_MISSING
        with self._lock:
            rec = self._by_id.get(eid)
            if rec is not None:
                if not hmac.compare_digest(rec.token.encode(), token.encode()):
                    return AUTH_MISSING
                return AUTH_RETIRED if rec.stale else AUTH_OK
            old = self._retired.get(eid)
        if old is not None and hmac.compare_digest(old.encode(), token.encode()):
            return AUTH_RETIRED
        return AUTH_MISSING
