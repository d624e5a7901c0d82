"""Cluster actions off the core loop: a small worker pool whose results come back as engine events.

Gateway actions go through :func:`dcos_scaleio.framework.cluster.run_action` (slow HTTPS, so never
on pymesos' IO thread nor on the core loop). Two actions are the scheduler's own:

- ``verify-agent``: after an agent restart the engine asked for, read the agent's ``/flags``
  (``http://<agent ip>:<port>/flags``) and check the volume isolator is (``dvdi``) or is no longer
  (``uninstall-dvdi``) in its isolation.
- ``deregister-service``: the uninstall's last step; succeeds at once and tells the scheduler
  (``on_deregister``) to tear the framework down once the result is persisted.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import requests

from dcos_scaleio.plan import ClusterActionResult

__all__ = ["ActionRunner", "VOLUME_ISOLATORS", "isolator_enabled"]

LOG = logging.getLogger(__name__)
VOLUME_ISOLATORS = ("docker/volume", "com_emccode_mesos_DockerVolumeDriverIsolator")


def isolator_enabled(flags: dict) -> bool:
    """Whether an agent's ``/flags`` show a volume isolator (native or the DVDI module)."""
    f = flags.get("flags", flags)
    isolation = str(f.get("isolation", ""))
    return any(i in isolation.split(",") for i in VOLUME_ISOLATORS) or VOLUME_ISOLATORS[1] in str(f.get("modules", ""))


class ActionRunner:
    """Runs ``RunClusterAction`` decisions on ``workers`` threads; ``emit(event)`` receives each
    ClusterActionResult (it must be thread-safe: the core loop's queue)."""

    def __init__(self, emit: Callable, gateway_for: Callable[[str], object], *, workers: int = 4,
                 agent_port: int = 5051, http_timeout_s: float = 10.0, on_deregister: Callable[[], None] | None = None,
                 clock=time.time):
        self._emit = emit
        self._gateway_for = gateway_for
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cluster-action")
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self.agent_port = agent_port
        self.http_timeout_s = http_timeout_s
        self.on_deregister = on_deregister
        self._clock = clock

    def submit(self, decision) -> None:
        self._pool.submit(self._run, decision)

    def cancel(self, action_id: str) -> None:
        """Best effort: a queued action is skipped; a running one finishes but its result is dropped
        (the engine ignores it anyway)."""
        with self._lock:
            self._cancelled.add(action_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, d) -> None:
        with self._lock:
            if d.action_id in self._cancelled:
                self._cancelled.discard(d.action_id)
                return
        try:
            ok, message, result, retryable = self._execute(d)
        except Exception as exc:   # never lose an answer: the step would wait for its timeout
            LOG.exception("cluster action %s (%s) crashed", d.action, d.action_id)
            ok, message, result, retryable = False, f"{type(exc).__name__}: {exc}", {}, True
        with self._lock:
            if d.action_id in self._cancelled:
                self._cancelled.discard(d.action_id)
                return
        self._emit(ClusterActionResult(self._clock(), d.action_id, ok, message, result, retryable))

    def _execute(self, d):
        if d.action == "verify-agent":
            return self._verify_agent(d.params)
        if d.action == "deregister-service":
            if self.on_deregister is not None:
                self.on_deregister()
            return True, "the framework will be torn down", {}, False
        from dcos_scaleio.framework.cluster import run_action
        gw = self._gateway_for(d.params.get("gateway_endpoint", ""))
        outcome = run_action(gw, d.action, d.params)
        return outcome.ok, outcome.message, dict(outcome.result), outcome.retryable

    def _verify_agent(self, params):
        ip, what = params.get("ip", ""), params.get("verify", "dvdi")
        if not ip:
            return False, "the agent's IP is unknown", {}, True
        url = f"http://{ip}:{self.agent_port}/flags"
        try:
            resp = requests.get(url, timeout=self.http_timeout_s)
            resp.raise_for_status()
            flags = resp.json()
        except (requests.RequestException, ValueError) as exc:
            return False, f"GET {url} failed: {type(exc).__name__}", {}, True
        enabled = isolator_enabled(flags)
        want = what != "uninstall-dvdi"
        if enabled == want:
            return True, f"agent {ip} {'runs' if want else 'no longer runs'} the volume isolator", {}, False
        return False, f"agent {ip} {'does not run' if want else 'still runs'} the volume isolator after its restart", {}, True


class SimulatedActionRunner:
    """Dev/bench only (``SCALEIO_DEV_SIMULATED_ACTIONS``, a JSON object action -> seconds, ``"*"``
    the default): every cluster action succeeds after its duration, with no gateway -- for the
    emulator's simulated-executor mode, where no ScaleIO exists. One timer thread, whatever the
    number of actions in flight."""

    def __init__(self, emit: Callable, durations: dict, *, clock=time.time, on_deregister=None):
        import heapq
        self._heapq = heapq
        self._emit = emit
        self._durations = {k: float(v) for k, v in durations.items()}
        self._clock = clock
        self._heap: list = []
        self._seq = 0
        self._cond = threading.Condition()
        self._cancelled: set[str] = set()
        self._stopped = False
        self.on_deregister = on_deregister
        threading.Thread(target=self._loop, name="simulated-actions", daemon=True).start()

    def submit(self, d) -> None:
        delay = self._durations.get(d.action, self._durations.get("*", 0.0))
        with self._cond:
            self._seq += 1
            self._heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, d))
            self._cond.notify()

    def cancel(self, action_id: str) -> None:
        with self._cond:
            self._cancelled.add(action_id)

    def shutdown(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _loop(self):
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopped:
                    return
                _, _, d = self._heapq.heappop(self._heap)
                if d.action_id in self._cancelled:
                    self._cancelled.discard(d.action_id)
                    continue
            if d.action == "deregister-service" and self.on_deregister is not None:
                self.on_deregister()
            details = {"sds_id": f"sim-{d.action_id}"} if d.action == "sds-register" else {}
            self._emit(ClusterActionResult(self._clock(), d.action_id, True, f"{d.action} (simulated)",
                                           {"details": {**details, "created": True}}, False))
