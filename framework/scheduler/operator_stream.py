"""The master's operator event stream (``POST /api/v1`` SUBSCRIBE): agents that join or leave.

The scheduler suppresses offers when it has no work, so a new agent would go unnoticed until the
next revive; the operator stream announces it at once. On every (re)subscription the SUBSCRIBED
event's agent list is emitted whole (the core loop diffs it against what it knew, so agents that
left while the stream was down are removed too). A silent stream (no HEARTBEAT within
``silence_s``) is dropped and reopened; reconnects back off up to 15 s. Every ``resync_s`` the agent
list is also read with GET_AGENTS (agents back from a partition are not announced on the stream). ``zk://`` master URLs are
resolved to the leading master (lowest ``json.info_*`` znode, as Mesos and pymesos do).
"""
from __future__ import annotations

import json
import logging
import random
import threading
from typing import Callable

import requests

from .messages import agent_from_operator

__all__ = ["OperatorStream", "leader_address", "AgentsSnapshot", "AgentJoined", "AgentLeft"]

LOG = logging.getLogger(__name__)


class AgentsSnapshot(tuple):
    """All agents at (re)subscription: a tuple of AgentInfo."""


class AgentJoined:
    __slots__ = ("agent",)

    def __init__(self, agent):
        self.agent = agent


class AgentLeft:
    __slots__ = ("agent_id",)

    def __init__(self, agent_id):
        self.agent_id = agent_id


def leader_address(master: str, timeout_s: float = 10.0) -> str:
    """``host:port`` of the leading master for ``host:port`` / ``host`` / ``zk://hosts/path``."""
    if not master.startswith(("zk://", "zoo://")):
        return master if ":" in master else master + ":5050"
    from kazoo.client import KazooClient
    rest = master.split("://", 1)[1]
    hosts, _, path = rest.partition("/")
    zk = KazooClient(hosts=hosts, timeout=timeout_s, read_only=True)
    zk.start(timeout=timeout_s)
    try:
        children = sorted(c for c in zk.get_children("/" + path) if c.startswith("json.info_"))
        if not children:
            raise ConnectionError("no leading Mesos master in ZooKeeper")
        data, _ = zk.get(f"/{path}/{children[0]}")
        addr = json.loads(data)["address"]
        return f"{addr['ip']}:{addr['port']}"
    finally:
        zk.stop()
        zk.close()


class OperatorStream(threading.Thread):
    """Reads the operator stream on its own thread; ``emit`` gets AgentsSnapshot / AgentJoined /
    AgentLeft (it must be thread-safe and non-blocking: the core loop's queue)."""

    def __init__(self, master: str, emit: Callable, *, silence_s: float = 75.0, auth=None, resync_s: float = 60.0):
        super().__init__(name="operator-stream", daemon=True)
        self.master = master
        self.emit = emit
        self.silence_s = silence_s
        self.auth = auth
        self._stop = threading.Event()
        self._response = None
        self.subscriptions = 0
        self.resync_s = resync_s
        self._resync = threading.Thread(target=self._resync_loop, name="operator-resync", daemon=True)

    def start(self):
        super().start()
        if self.resync_s > 0:
            self._resync.start()

    def _resync_loop(self):
        """Every ``resync_s``: GET_AGENTS, emitted as a snapshot. An agent that re-registers after a
        partition is not announced on the stream (no AGENT_ADDED for a known agent ID), and while
        offers are suppressed nothing else would tell the scheduler it is back."""
        while not self._stop.wait(self.resync_s):
            try:
                address = leader_address(self.master)
                resp = requests.post(f"http://{address}/api/v1", json={"type": "GET_AGENTS"}, auth=self.auth,
                                     headers={"Accept": "application/json"}, timeout=10.0)
                resp.raise_for_status()
                agents = resp.json()["get_agents"].get("agents", [])
                self.emit(AgentsSnapshot(agent_from_operator(a) for a in agents))
            except Exception as exc:    # the next round retries; the stream itself is unaffected
                LOG.warning("agent resync: %s: %s", type(exc).__name__, exc)

    def stop(self):
        self._stop.set()
        resp = self._response
        if resp is not None:
            try:
                resp.close()
            except Exception:   # closing from another thread may race the reader; it exits anyway
                pass

    def run(self):
        failures = 0
        while not self._stop.is_set():
            try:
                self._follow()
                failures = 0
            except Exception as exc:    # keep following: a broken stream is normal (master failover)
                failures += 1
                if not self._stop.is_set():
                    LOG.warning("operator stream: %s: %s", type(exc).__name__, exc)
            delay = min(15.0, 0.5 * 2 ** min(failures, 5)) * random.uniform(0.8, 1.2) if failures else 0.2
            self._stop.wait(delay)

    def _follow(self):
        address = leader_address(self.master)
        resp = requests.post(f"http://{address}/api/v1", json={"type": "SUBSCRIBE"}, stream=True, auth=self.auth,
                             headers={"Accept": "application/json"}, timeout=(10.0, self.silence_s))
        self._response = resp
        try:
            if resp.status_code != 200:
                raise ConnectionError(f"SUBSCRIBE answered {resp.status_code}")
            buf = b""
            for chunk in resp.iter_content(chunk_size=None):
                if self._stop.is_set():
                    return
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    size = int(buf[:nl])
                    if len(buf) < nl + 1 + size:
                        break
                    record, buf = buf[nl + 1:nl + 1 + size], buf[nl + 1 + size:]
                    self._event(json.loads(record))
            raise ConnectionError("the operator stream ended")
        finally:
            self._response = None
            resp.close()

    def _event(self, ev: dict):
        kind = ev.get("type")
        if kind == "SUBSCRIBED":
            self.subscriptions += 1
            agents = ev["subscribed"].get("get_state", {}).get("get_agents", {}).get("agents", [])
            self.emit(AgentsSnapshot(agent_from_operator(a) for a in agents))
        elif kind == "AGENT_ADDED":
            self.emit(AgentJoined(agent_from_operator(ev["agent_added"]["agent"])))
        elif kind == "AGENT_REMOVED":
            self.emit(AgentLeft(ev["agent_removed"]["agent_id"]["value"]))
