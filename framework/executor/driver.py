"""pymesos glue: the executor callbacks and a driver that reports ACKNOWLEDGED events.

Every callback runs on pymesos' single IO thread; an exception there would abort the driver (and be
re-raised in the main thread), and blocking there stalls the event stream. So each callback only
hands work to the :class:`~.worker.Worker` or the :class:`~.updates.Updates` queue, and catches
everything (logged).

:class:`Driver` extends ``MesosExecutorDriver`` in two documented-by-the-protocol places pymesos
leaves out: it tells :class:`~.updates.Updates` about ACKNOWLEDGED events, and its SUBSCRIBE call
carries our unACKed updates in ``unacknowledged_updates`` (pymesos never fills that list), so a
restarted agent replays them even before they are resent.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
import uuid

from pymesos import Executor, MesosExecutorDriver, decode_data

log = logging.getLogger(__name__)


def guarded(fn):
    @functools.wraps(fn)
    def wrapper(self, *args):
        try:
            return fn(self, *args)
        except Exception:
            log.exception("executor callback %s failed (ignored)", fn.__name__)
    return wrapper


class StepExecutor(Executor):
    """Callbacks: registration state to :class:`Updates`, tasks and kills to :class:`Worker`."""

    def __init__(self, worker, updates, on_stop=None):
        self.worker, self.updates = worker, updates
        self._on_stop = on_stop or (lambda: None)
        self._state_lock = threading.Lock()
        self._disconnected_since = time.monotonic()     # not subscribed yet counts as disconnected
        self.ever_subscribed = False

    def disconnected_for(self) -> float:
        """Seconds since the subscription was lost (0.0 while subscribed)."""
        with self._state_lock:
            since = self._disconnected_since
        return 0.0 if since is None else time.monotonic() - since

    def _set_connected(self, connected: bool) -> None:
        with self._state_lock:
            if connected:
                self._disconnected_since = None
                self.ever_subscribed = True
            elif self._disconnected_since is None:
                self._disconnected_since = time.monotonic()

    @guarded
    def registered(self, driver, executor_info, framework_info, agent_info):
        log.info("registered with agent %s (%s), framework %s", agent_info.get("hostname"),
                 (agent_info.get("id") or {}).get("value"), (framework_info.get("id") or {}).get("value"))
        self._set_connected(True)
        self.updates.connected()

    @guarded
    def reregistered(self, driver, agent_info):
        log.info("re-registered with agent %s (%s); resending %d unacknowledged update(s)",
                 agent_info.get("hostname"), (agent_info.get("id") or {}).get("value"),
                 self.updates.pending_count())
        self._set_connected(True)
        self.updates.connected()

    @guarded
    def disconnected(self, driver):
        self._set_connected(False)
        self.updates.disconnected()
        log.warning("disconnected from the agent; pymesos keeps resubscribing")

    @guarded
    def launchTask(self, driver, task):
        self.worker.launch(task)

    @guarded
    def launchTaskGroup(self, driver, tasks):
        for task in tasks:
            self.worker.launch(task)

    @guarded
    def killTask(self, driver, task_id):
        self.worker.kill(task_id["value"])

    @guarded
    def frameworkMessage(self, driver, message):
        log.info("framework message ignored (%d bytes)", len(decode_data(message)))

    @guarded
    def shutdown(self, driver):
        log.info("shutdown requested: killing the running step and stopping")
        self.worker.shutdown()
        self._on_stop()

    @guarded
    def error(self, driver, message):
        log.error("agent reported an error: %s; stopping", message)
        self.worker.shutdown()
        self._on_stop()


class Driver(MesosExecutorDriver):
    """``MesosExecutorDriver`` + ACK notification + ``unacknowledged_updates`` on SUBSCRIBE."""

    def __init__(self, executor: StepExecutor, updates, **kw):
        super().__init__(executor, **kw)
        self._updates = updates

    def gen_request(self):
        # pymesos serialises self.updates.values() into unacknowledged_updates; keys are UUIDs (its
        # on_acknowledged pops by UUID).
        self.updates = {uuid.UUID(bytes=decode_data(s["uuid"])): {"status": s}
                        for s in self._updates.unacknowledged()}
        return super().gen_request()

    def on_acknowledged(self, event):
        super().on_acknowledged(event)
        try:
            self._updates.acknowledged(event["task_id"]["value"], event["uuid"])
        except Exception:
            log.exception("bad ACKNOWLEDGED event ignored")
