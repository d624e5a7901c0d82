"""The core loop: the one thread that owns the plan engine.

Everything that happens reaches it through one queue -- pymesos callbacks (``(kind, ...)``
tuples from :class:`~.driver.Callbacks`), the operator stream (agents joining/leaving), cluster
action results (engine events), HTTP reads (``call``) -- and timers (engine wake-ups,
reconciliation, the heartbeat watchdog).

Inputs are handled in batches (group commit): what is queued when the loop wakes up (at most
:data:`BATCH_MAX` items) goes through steps 1-2 one item after the other, in queue order; then
steps 3-4 run once for the whole batch:

1. turn each input into engine events and collect the engine's decisions;
2. prepare what the decisions need (ExecutorInfo per host, possibly a new executor generation);
3. persist the engine's changed records and executor records in ONE store transaction (split only
   above the store's size limit), BEFORE acting on any of them, so a crash replays;
4. act, in the order the inputs produced them: launches, one batched DECLINE per refuse time per
   offers event, suppress/revive, kills, reconciliation, cluster actions on the worker pool, and the
   ACK of each status update after the effects of the inputs before it.

So nothing is acted on, and no status update is acknowledged, before its transition is durable. A
crash between the commit and the ACKs makes the agents resend those updates; handling one again is
a no-op (the restored engine no longer has the task, or already has it running). A burst of status
updates costs one fsync'd transaction instead of one per update.

Batch boundaries (:data:`_BARRIERS`): an HTTP ``call`` (its result must only show committed state,
and operator commands commit and act at once), (re)registration, disconnection and errors commit
what came before and are handled on their own. So are timers, outside batches. A decision whose
follow-up reads in-memory bookkeeping of the acting step (RestartAgent) ends the batch early.

Nothing here blocks for long except Mesos calls (one HTTP POST each) and store writes.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable

from dcos_scaleio.plan import (LONG_REFUSE_S, AgentAdded, AgentRemoved, AgentsListed, CancelAction,
                               ClusterActionResult, DeclineOffer, KillTask, LaunchHostStep, OfferSeen, RestartAgent,
                               Revive, RunClusterAction, ScheduleWakeup, Suppress, Tick, TaskStatusUpdate)

from . import messages
from .operator_stream import AgentJoined, AgentLeft, AgentsSnapshot

__all__ = ["Core", "BLOCKED_REFUSE_S", "LAUNCH_REFUSE_S", "BATCH_MAX"]

LOG = logging.getLogger(__name__)
BLOCKED_REFUSE_S = 2.0     # offers from an agent whose tasks are being reconciled, or before the agent list
LAUNCH_REFUSE_S = 1.0      # what is left of an offer we launched on
_RUNNING = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"})
_TERMINAL = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
                       "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})
_STOP = object()
BATCH_MAX = 256            # inputs per group commit: bounds how long the first one waits for its effects
# Core items handled on their own, after committing and acting on what was queued before them.
_BARRIERS = frozenset({"call", "registered", "reregistered", "disconnected", "error"})


class _Pending:
    """What the current batch will persist and then do: executor records by hostname (the latest
    state of each, one Put per key) and the effects ``(fn, args)`` in the order they were produced."""

    __slots__ = ("executors", "effects")

    def __init__(self):
        self.executors: dict = {}
        self.effects: list = []


class Core:
    """See the module docstring. ``driver`` is a :class:`~.driver.DriverHandle` (or None: no Mesos,
    e.g. bad options); ``state`` a :class:`~.persist.SchedulerState` (or None); ``actions`` an
    :class:`~.actions.ActionRunner` (or None); ``fatal(reason)`` ends the process."""

    def __init__(self, engine, *, state=None, driver=None, executors=None, reconciler=None, actions=None,
                 options=None, roles=(), scheduler_url: str = "", dev_python: str = "",
                 heartbeat_timeout_s: float = 75.0, fatal: Callable[[str], None] | None = None, clock=time.time,
                 agent_list_wait_s: float = 0.0):
        self.engine = engine
        self.state = state
        self.driver = driver
        self.executors = executors
        self.reconciler = reconciler
        self.actions = actions
        self.options = options
        self.roles = list(roles)
        self.scheduler_url = scheduler_url
        self.dev_python = dev_python
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.fatal = fatal or (lambda reason: LOG.critical("fatal: %s", reason))
        self.clock = clock
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.version = 0                 # bumped whenever engine state changed (HTTP read caches)
        self.subscribed = False
        self.framework_id: str | None = None
        self.offers: dict[str, dict] = {}
        self.agent_ids: set[str] = set()
        self.task_hosts: dict[str, str] = {}
        self.counters = {"offers": 0, "declined": 0, "decline_calls": 0, "launched": 0, "suppress": 0,
                         "revive": 0, "kills": 0, "reconcile_calls": 0, "reconcile_lost": 0, "watchdog_restarts": 0,
                         "acks": 0, "statuses": 0, "commits": 0, "batches": 0}
        self._wakeup: float | None = None
        self._pending = _Pending()
        self._batching = False           # True while a batch's inputs are handled: _commit defers
        # Until the operator stream's first agent list (or this deadline), offers are declined
        # briefly: the engine places MDMs among ALL agents, so it must not see them one by one.
        self._listed_by = clock() + agent_list_wait_s if agent_list_wait_s > 0 else None
        self._last_launch: dict[str, LaunchHostStep] = {}    # step key -> its latest launch (params)
        self._agent_restarts: dict[str, dict] = {}           # hostname -> pending RestartAgent
        self._restart_tasks: dict[str, str] = {}             # restart task ID -> hostname
        self._restarting = False
        # Hosts whose offers were declined with a long filter (nothing to do there then). When one of
        # them has ready work again while offers are wanted anyway (so the engine sends no Revive),
        # the filter would hide it for an hour: _revive_parked() revives (what the SDK does on new work).
        self._parked: set[str] = set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ threads
    def put(self, item) -> None:
        """Thread-safe, never blocks: how every other thread talks to the core loop."""
        self.q.put(item)

    def call(self, fn: Callable, timeout: float = 10.0):
        """Run ``fn(core)`` on the core thread and return its result (HTTP reads of engine state)."""
        fut: Future = Future()
        self.put(("call", fn, fut))
        return fut.result(timeout=timeout)

    def apply(self, *events):
        """Feed engine events, persist, act; return the decisions. Call it on the core thread, i.e.
        ``core.call(lambda c: c.apply(OperatorCommand(...)))`` (the operator API does). An engine
        request error (UnknownElement, RequestRejected) propagates after what changed is committed."""
        decisions = []
        try:
            for ev in events:
                decisions += self.engine.handle(ev)
        finally:
            self._commit(decisions)
        return decisions

    def detach(self):
        """After deregistration: no more Mesos calls, reconciliation or persistence (the store is
        being destroyed); the engine stays readable for the API."""
        self.driver = None
        self.reconciler = None
        self.state = None
        self.subscribed = False

    def start(self, initial_decisions=()):
        self._thread = threading.Thread(target=self._run, args=(list(initial_decisions),), name="scheduler-core",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0):
        self.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, initial):
        try:
            if initial:
                self._commit(initial)
            while not self._stopped.is_set():
                try:
                    item = self.q.get(timeout=self._timeout())
                except queue.Empty:
                    item = None
                if item is not None and not self._batch(item):
                    break
                self._timers()
        except Exception as exc:   # the engine's state may be inconsistent now: let Marathon restart us
            LOG.exception("core loop crashed")
            self.fatal(f"core loop crashed: {type(exc).__name__}: {exc}")

    def _batch(self, first) -> bool:
        """Handle ``first`` and what is queued behind it right now (at most BATCH_MAX items) as one
        batch (see the module docstring); False when a stop request was among them. If an input
        raises, nothing of the batch is persisted or acted on (the loop crashes: see _run)."""
        limit = min(BATCH_MAX, 1 + self.q.qsize())
        item, stop = first, False
        self.counters["batches"] += 1
        self._batching = True
        try:
            for n in range(limit):
                if n:
                    try:
                        item = self.q.get_nowait()
                    except queue.Empty:
                        break
                if item is _STOP:
                    stop = True
                    break
                if type(item) is tuple and item[0] in _BARRIERS:    # (an AgentsSnapshot is a tuple too)
                    self._flush()
                    self._batching = False
                    self._dispatch(item)
                    self._batching = True
                else:
                    self._dispatch(item)
        finally:
            self._batching = False
        self._flush()
        return not stop

    def _timeout(self) -> float:
        now = self.clock()
        times = [t for t in (self._wakeup, self.reconciler.next_wakeup if self.reconciler else None) if t is not None]
        wait = min(times) - now if times else 1.0
        return max(0.0, min(wait, 1.0))    # at least once a second: the heartbeat watchdog

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, item):
        if isinstance(item, AgentsSnapshot):
            self._on_agents_snapshot(item)
        elif isinstance(item, tuple):
            kind = item[0]
            handler = getattr(self, "_on_" + kind, None)
            if handler is None:
                LOG.warning("unknown core item %r", kind)
                return
            handler(*item[1:])
        elif isinstance(item, ClusterActionResult):
            self._feed([item])
        elif isinstance(item, AgentJoined):
            self.agent_ids.add(item.agent.agent_id)
            self._feed([AgentAdded(self.clock(), item.agent)])
        elif isinstance(item, AgentLeft):
            self._agent_gone(item.agent_id, "agent removed (operator stream)")
        else:
            LOG.warning("unknown core item %r", type(item).__name__)

    def _feed(self, events, ack=None, extra_records=()):
        decisions = []
        for ev in events:
            decisions += self.engine.handle(ev)
        self._commit(decisions, ack=ack, extra_records=extra_records)

    def _on_call(self, fn, fut):
        if fut.set_running_or_notify_cancel():
            try:
                fut.set_result(fn(self))
            except Exception as exc:
                fut.set_exception(exc)

    def _on_registered(self, fid):
        self.framework_id = fid
        if self.state is not None:
            try:
                self.state.set_framework_id(fid)
            except Exception as exc:
                self.fatal(f"cannot persist the framework ID: {type(exc).__name__}: {exc}")
                return
        LOG.info("registered as framework %s", fid)
        self._subscribed()

    def _on_reregistered(self):
        LOG.info("re-registered")
        self._subscribed()

    def _subscribed(self):
        self.subscribed = True
        self.offers.clear()    # every outstanding offer is invalid after (re)registration
        now = self.clock()
        if self.reconciler is not None:
            ids = self.reconciler.start(self.engine.active_tasks(), now)
            if ids:
                LOG.info("reconciling %d task(s) explicitly", len(ids))
                self.counters["reconcile_calls"] += 1
                self.driver.reconcile(ids)
        if self.driver is not None:
            if self.engine.wants_offers:
                self._revive()
            else:
                self.counters["suppress"] += 1
                self.driver.suppress(self.roles)

    def _on_disconnected(self):
        if self.subscribed:
            LOG.warning("disconnected from the Mesos master")
        self.subscribed = False
        self.offers.clear()

    def _on_error(self, message):
        if "removed" in message.lower() and self.state is not None:
            # The master forgot this framework: its ID can never be used again; register fresh next time.
            try:
                self.state.clear_framework_id()
            except Exception:
                LOG.exception("could not clear the framework ID")
        self.fatal(f"Mesos error: {message}")

    def _on_rescinded(self, offer_id):
        self.offers.pop(offer_id, None)

    def _on_offers(self, offers):
        now = self.clock()
        events, blocked, restarts = [], [], []
        if self._listed_by is not None:
            if now < self._listed_by:
                self._commit([DeclineOffer(o["id"]["value"], BLOCKED_REFUSE_S) for o in offers])
                return
            LOG.warning("no agent list from the operator stream yet: taking agents from offers")
            self._listed_by = None
        for offer in offers:
            oid, aid = offer["id"]["value"], offer["agent_id"]["value"]
            self.counters["offers"] += 1
            self.offers[oid] = offer
            if aid not in self.agent_ids:
                # Not announced by the operator stream (yet): the offer says enough about the agent.
                self.agent_ids.add(aid)
                events.append(AgentAdded(now, messages.agent_from_offer(offer)))
            if self.reconciler is not None and self.reconciler.blocked(aid):
                blocked.append(oid)
            elif self._agent_restarts and self._restart_launch(oid, aid, restarts):
                pass
            else:
                events.append(OfferSeen(now, oid, aid))
        decisions = []
        for ev in events:
            decisions += self.engine.handle(ev)
        decisions += restarts
        decisions += [DeclineOffer(oid, BLOCKED_REFUSE_S) for oid in blocked]
        self._commit(decisions)

    def _restart_launch(self, offer_id, agent_id, out) -> bool:
        """An offer from an agent the engine wants restarted: run the step that asked for it again
        with ``self_restart`` (the executor restarts the agent unit and waits for it to run with the
        new flags). Its TASK_FINISHED tells the engine the agent is back (AgentAdded)."""
        host = self.engine.by_agent.get(agent_id)
        pending = self._agent_restarts.get(host) if host else None
        if pending is None or pending.get("task_id"):
            return False
        last = pending["launch"]
        task_id = f"restart-agent__{host}__{int(self.clock() * 1000)}"
        pending["task_id"] = task_id
        self._restart_tasks[task_id] = host
        out.append(dataclasses.replace(last, offer_id=offer_id, agent_id=agent_id, task_id=task_id,
                                       params={**last.params, "self_restart": True}))
        return True

    def _restart_status(self, tid, state, status):
        host = self._restart_tasks.get(tid)
        if state in _RUNNING:
            self._commit([], ack=status)    # unACKed, the agent would hold back the terminal update
            return
        self._restart_tasks.pop(tid, None)
        pending = self._agent_restarts.pop(host, None) or {}
        node = self.engine.nodes.get(host)
        if pending.get("kind") == "reboot" and node is not None and self._died_with_host(state, status):
            # The executor died with the host: the reboot happened. The engine runs the step again,
            # on a new executor, once the agent offers again.
            LOG.info("agent %s rebooted (%s)", host, state)
            rec = self.executors.mark_lost(hostname=host) if self.executors is not None else None
            self._feed([AgentAdded(self.clock(), node.info)], ack=status, extra_records=[rec] if rec else [])
            return
        if state == "TASK_FINISHED" and node is not None:
            LOG.info("agent %s restarted with its new flags", host)
            self._feed([AgentAdded(self.clock(), node.info)], ack=status)
            return
        LOG.warning("restarting agent %s failed: %s %s (the step times out and retries)", host, state,
                    status.get("message", ""))
        self._commit([], ack=status)

    def _on_status(self, status):
        now = self.clock()
        self.counters["statuses"] += 1
        tid = status["task_id"]["value"]
        state = status.get("state", "")
        if self.reconciler is not None:
            self.reconciler.answered(tid)
        if tid in self._restart_tasks:
            self._restart_status(tid, state, status)
            return
        aid = (status.get("agent_id") or {}).get("value")
        host = self.engine.by_agent.get(aid) if aid and aid not in self.agent_ids else None
        if host is not None and state in _RUNNING and host in self.engine.nodes:
            # A task is running there again: the agent is back (a healed partition is not announced).
            self.agent_ids.add(aid)
            self._feed([AgentAdded(now, self.engine.nodes[host].info)])
            self._returned([aid])
        changed = []
        if state in _TERMINAL:
            host = self.task_hosts.pop(tid, None)
            lost = status.get("reason") in messages.EXECUTOR_TERMINATED_REASONS or (
                state == "TASK_ERROR" and "ExecutorInfo" in (status.get("message") or ""))
            if lost and self.executors is not None:
                eid = (status.get("executor_id") or {}).get("value")
                rec = self.executors.mark_lost(eid=eid) if eid else self.executors.mark_lost(hostname=host)
                if rec is not None:
                    changed.append(rec)
        elif state in _RUNNING and tid not in self.engine.tasks and self.driver is not None:
            # A task we do not (or no longer) recognise, e.g. one given up as lost that resurfaced.
            # Killed in order with the batch: the engine may have given it up earlier in this batch.
            LOG.warning("killing unrecognised task %s (%s)", tid, state)
            self._commit([KillTask(tid, aid or "", "unrecognised task")])
        events = [messages.status_event(now, status)]
        self._feed(events, ack=status, extra_records=changed)

    def _on_agent_lost(self, agent_id):
        self._agent_gone(agent_id, "agent lost")

    def _agent_gone(self, agent_id, reason):
        self.agent_ids.discard(agent_id)
        changed = self.executors.mark_agent_gone(agent_id) if self.executors is not None else []
        self._feed([AgentRemoved(self.clock(), agent_id, reason)], extra_records=changed)

    def _on_executor_lost(self, eid, agent_id):
        rec = self.executors.mark_lost(eid=eid) if self.executors is not None else None
        LOG.warning("executor %s on agent %s lost", eid, agent_id)
        self._commit([], extra_records=[rec] if rec else [])

    def _on_agents_snapshot(self, agents: AgentsSnapshot):
        now = self.clock()
        self._listed_by = None
        ids = {a.agent_id for a in agents}
        gone = self.agent_ids - ids
        # Only agents that are new or back (e.g. re-registered after a partition, which the operator
        # stream does not announce) reach the engine: a resync must not rewrite every node record.
        fresh = tuple(a for a in agents if a.agent_id not in self.agent_ids)
        self.agent_ids = set(ids)
        events = [AgentRemoved(now, aid, "agent no longer registered") for aid in gone]
        changed = [r for aid in gone for r in (self.executors.mark_agent_gone(aid) if self.executors else [])]
        if fresh:
            events.append(AgentsListed(now, fresh))
        if events:
            self._feed(events, extra_records=changed)
        self._returned([a.agent_id for a in fresh])

    def _returned(self, agent_ids):
        """Agents the engine knew came back (a healed partition): an implicit reconciliation brings
        their tasks' states, and tasks the engine gave up on are then killed as unrecognised."""
        if self.subscribed and self.driver is not None and any(a in self.engine.by_agent for a in agent_ids):
            self._later(self._reconcile_implicitly)
            if not self._batching:
                self._flush()

    def _reconcile_implicitly(self):
        if self.driver is not None:
            self.counters["reconcile_calls"] += 1
            self.driver.reconcile([])

    # ------------------------------------------------------------------ timers
    def _timers(self):
        now = self.clock()
        if self._wakeup is not None and now >= self._wakeup:
            self._wakeup = None
            self._feed([Tick(now)])
        if self.reconciler is not None:
            resend, lost, implicit = self.reconciler.due(now)
            if resend:
                self.counters["reconcile_calls"] += 1
                self.driver.reconcile(resend)
            if lost:
                LOG.warning("no reconciliation answer for %d task(s): treating them as lost", len(lost))
                self.counters["reconcile_lost"] += len(lost)
                self._feed([TaskStatusUpdate(now, tid, "TASK_LOST", "reconciliation: no answer from the master",
                                             {}, "REASON_RECONCILIATION") for tid in lost])
            if implicit and self.subscribed:
                self.counters["reconcile_calls"] += 1
                self.driver.reconcile([])
        self._watchdog()

    def _watchdog(self):
        d = self.driver
        if d is None or not self.subscribed or self._restarting:
            return
        silent = time.monotonic() - d.callbacks.last_seen
        if silent <= self.heartbeat_timeout_s:
            return
        LOG.warning("no event from the master for %.0f s: restarting the driver", silent)
        self.counters["watchdog_restarts"] += 1
        self.subscribed = False
        self._restarting = True

        def restart():
            try:
                d.restart()
            except Exception:
                LOG.exception("driver restart failed")
            finally:
                self._restarting = False
        threading.Thread(target=restart, name="driver-restart", daemon=True).start()

    # ------------------------------------------------------------------ decisions
    def _commit(self, decisions, ack=None, extra_records=()):
        """Prepare ``decisions``, then queue them (and the ACK of the status update ``ack``) behind
        the batch's commit; outside a batch, commit and act at once (see the module docstring)."""
        pending = self._pending
        for rec in extra_records:
            if rec is not None:
                pending.executors[rec.hostname] = rec
        launches = []
        for d in decisions:
            if isinstance(d, LaunchHostStep):
                task, rec = self._prepare_launch(d)
                launches.append((d, task))
                if rec is not None:
                    pending.executors[rec.hostname] = rec
        if decisions:
            self._later(self._act, decisions, launches)
        if ack is not None:
            self._later(self._ack, ack)
        if not self._batching or any(isinstance(d, RestartAgent) for d in decisions):
            self._flush()     # (_restart_agent's bookkeeping must be in place for the next offers)

    def _later(self, fn, *args):
        """Run ``fn(*args)`` after the current batch is committed, in order with its other effects."""
        self._pending.effects.append((fn, args))

    def _flush(self):
        """Persist everything the batch changed in one store transaction, then run its effects."""
        pending, self._pending = self._pending, _Pending()
        changes = self.engine.drain_changes()
        if changes:
            self.version += 1
        if self.state is not None and (changes or pending.executors):
            try:
                self.state.save(changes, pending.executors.values())
            except Exception as exc:   # acting on unpersisted decisions could repeat effects after a crash
                LOG.exception("persisting the scheduler state failed")
                self.fatal(f"cannot persist state: {type(exc).__name__}: {exc}")
                return
            self.counters["commits"] += 1
        for fn, args in pending.effects:
            fn(*args)
        if self._parked:
            self._revive_parked()

    def _ack(self, status):
        if "uuid" in status and self.driver is not None:
            self.counters["acks"] += 1
            self.driver.acknowledge(status)

    def _prepare_launch(self, d: LaunchHostStep):
        offer = self.offers.get(d.offer_id) or {}
        role, alloc = messages.offer_role(offer)
        o = self.options
        url = o.artifacts.executor.url if o is not None else ""

        def build(eid, token):
            return messages.executor_info(eid, persona=d.persona, options=o, artifact_url=url,
                                          dev_python=self.dev_python, scheduler_url=self.scheduler_url,
                                          token=token, role=role, allocation_role=alloc)
        info, rec = self.executors.for_launch(d.hostname, d.agent_id, build)
        return messages.task_info(d, d.agent_id, info, role=role, allocation_role=alloc), rec

    @staticmethod
    def _died_with_host(state, status) -> bool:
        """A restart task's end that means its executor (and host) went away under it."""
        return state in ("TASK_LOST", "TASK_GONE", "TASK_UNKNOWN", "TASK_DROPPED") or (
            state in ("TASK_FAILED", "TASK_KILLED") and status.get("reason") in messages.EXECUTOR_TERMINATED_REASONS)

    def _restart_agent(self, d: RestartAgent):
        """Restart (kind "agent") or reboot (kind "reboot") an agent the engine asked for: the step
        that asked runs again with ``self_restart`` on that agent's executor, on its next offer."""
        # After a scheduler restart the last launch is not in memory: the engine rebuilds it.
        last = self._last_launch.get(d.step) or self.engine.host_launch(d.step)
        if d.kind not in ("agent", "reboot") or last is None:
            LOG.warning("cannot %s agent %s for %s from here; the step will time out and retry", d.kind,
                        d.hostname, d.step)
            return
        LOG.info("%s agent %s for %s", "rebooting" if d.kind == "reboot" else "restarting", d.hostname, d.step)
        self._agent_restarts[d.hostname] = {"launch": last, "task_id": None, "kind": d.kind}
        self._revive()     # offers may be suppressed: the restart task needs one

    def _revive_parked(self):
        """One Revive when a host declined with a long filter has ready work again (see __init__)."""
        if self._parked.isdisjoint(self.engine.offer_nodes) or not self.engine.wants_offers:
            return      # (not wanted: the parallelism limit; the engine revives when it is lifted)
        self._revive()

    def _revive(self):
        """REVIVE: it clears every decline filter, so no host stays parked behind one."""
        self._parked.clear()
        if self.driver is not None:
            self.counters["revive"] += 1
            self.driver.revive(self.roles)

    def _act(self, decisions, launches):
        declines: dict[float, list] = {}
        launched: list[LaunchHostStep] = []
        launch_iter = iter(launches)
        for d in decisions:
            if isinstance(d, DeclineOffer):
                offer = self.offers.pop(d.offer_id, None)
                if d.refuse_seconds >= LONG_REFUSE_S and offer is not None:
                    host = self.engine.by_agent.get(offer["agent_id"]["value"])
                    if host is not None:
                        self._parked.add(host)
                declines.setdefault(d.refuse_seconds, []).append(d.offer_id)
            elif isinstance(d, LaunchHostStep):
                _, task = next(launch_iter)
                self.offers.pop(d.offer_id, None)
                self.task_hosts[d.task_id] = d.hostname
                self._last_launch[d.step] = d
                self.counters["launched"] += 1
                LOG.debug("launching %s on %s (task %s)", d.action, d.hostname, d.task_id)
                launched.append(d)
                if not self.driver.launch(d.offer_id, [task], LAUNCH_REFUSE_S):
                    # Not sent (or refused): the attempt failed now rather than at the step timeout. Had
                    # it reached the master after all, its RUNNING would be killed as unrecognised.
                    self.put(("status", {"task_id": {"value": d.task_id}, "state": "TASK_DROPPED",
                                         "reason": "REASON_INVALID_OFFERS",
                                         "message": "the launch did not reach the Mesos master"}))
            elif isinstance(d, Suppress):
                self.counters["suppress"] += 1
                if self.driver is not None:
                    self.driver.suppress(self.roles)
            elif isinstance(d, Revive):
                self._revive()
            elif isinstance(d, KillTask):
                self.counters["kills"] += 1
                if self.driver is not None:
                    self.driver.kill(d.task_id)
            elif isinstance(d, RunClusterAction):
                if self.actions is not None:
                    self.actions.submit(d)
                else:
                    self.put(ClusterActionResult(self.clock(), d.action_id, False, "no cluster action runner", {}, True))
            elif isinstance(d, CancelAction):
                if self.actions is not None:
                    self.actions.cancel(d.action_id)
            elif isinstance(d, ScheduleWakeup):
                self._wakeup = d.at
            elif isinstance(d, RestartAgent):
                self._restart_agent(d)
        if launched:   # one line per batch: a line per launch cost as much CPU as the ACCEPT at scale
            LOG.info("launching %d task(s): %s%s", len(launched),
                     ", ".join(f"{d.action} on {d.hostname}" for d in launched[:5]), " ..." if len(launched) > 5 else "")
        for refuse, ids in declines.items():
            self.counters["declined"] += len(ids)
            self.counters["decline_calls"] += 1
            if self.driver is not None:
                self.driver.decline(ids, refuse)
