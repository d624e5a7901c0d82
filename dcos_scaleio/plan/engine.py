"""The plan engine: events in, decisions out, no I/O.

Theory of operation
-------------------
The engine owns the ``deploy`` plan. Its structure is a pure function of the options, the nodes
(selected agents, by hostname) with their devices, and the MDM slot assignment; the mutable part
is each step's state record. The scheduler adapter

1. builds ``Engine(options)`` (or ``Engine.restore(options, records)``) and calls ``resume(now)``;
2. feeds every event to ``handle(event)``, which returns a list of decisions;
3. persists ``drain_changes()`` (records that changed, ``None`` = deleted) *before* acting on
   those decisions, so a crash at any point replays safely (every step is idempotent on the
   host, and task/action IDs are unique per attempt so late answers to old attempts are ignored).

Readiness is incremental: each step counts its unmet requirements, each node keeps its ready
host steps, and offers are wanted exactly when some present, idle node has a ready host step and
the parallelism limit allows, so no event scans all agents (operator commands on a whole plan
excepted). Status changes go through :func:`~dcos_scaleio.plan.transitions.transition` only.
"""
from __future__ import annotations

from collections import deque

from ..options import OS_FAMILIES, patterns
from . import agents as agentsel
from . import uninstall as uninstall_plan
from .commands import CommandsMixin
from .decisions import (LONG_REFUSE_S, SHORT_REFUSE_S, UNKNOWN_REFUSE_S, CancelAction, DeclineOffer, KillTask, LaunchHostStep,
                        RestartAgent, Revive, RunClusterAction, ScheduleWakeup, Suppress)
from .events import (AgentAdded, AgentInfo, AgentRemoved, AgentsListed, ClusterActionResult,
                     DeviceRequested, OfferSeen, OperatorCommand, TaskStatusUpdate, Tick)
from .errors import RequestRejected, UnknownElement
from .model import CLUSTER, HOST, Node, Phase, Plan, Step
from .params import MESOS_PACKAGES, PACKAGES, ParamsMixin
from .records import RECORD_VERSION, RecordsMixin
from .status import ACTIVE, Status, Strategy
from .transitions import _LOOKUP as _TRANSITIONS
from .timers import TimersMixin
from .transitions import transition


__all__ = ["Engine", "RequestRejected", "UnknownElement", "DEPLOY", "RECORD_VERSION"]

DEPLOY = "deploy"
P, R, S1, S2, C, E, D = (Status.PENDING, Status.PREPARED, Status.STARTING, Status.STARTED,
                         Status.COMPLETE, Status.ERROR, Status.DELAYED)

_RUNNING_TASK = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"})
_IGNORED_TASK = frozenset({"TASK_KILLING"})
# Listing order within a phase, and priority among an agent's ready host steps (lower first).
_ORDER = {"deps": 0, "mdm": 10, "cluster-create": 11, "gateway": 12, "sds": 20, "sds-register": 21,
          "device": 22, "sdc": 30, "rexray": 40, "dvdi": 50}


class Engine(RecordsMixin, ParamsMixin, CommandsMixin, TimersMixin):
    """The deploy plan and everything needed to drive it. See the module docstring."""

    def __init__(self, options, errors=(), uninstall: bool = False):
        self.options = options
        self.uninstall = uninstall     # the deploy plan is the uninstall plan (SDK convention)
        self.plan = Plan(DEPLOY, Strategy.DEPENDENCY)
        self.plans = {DEPLOY: self.plan}
        self.steps: dict[str, Step] = {}
        self.nodes: dict[str, Node] = {}
        self.by_agent: dict[str, str] = {}
        self.ignored: dict[str, str] = {}      # unselected agents: hostname -> why
        self.ignored_ids: set[str] = set()
        self.owned: dict[str, dict] = {}       # uninstall: deploy step key -> IDs it created
        self.tasks: dict[str, Step] = {}
        self.actions: dict[str, Step] = {}
        self.mdm_slots: dict[str, str] = {}
        self.mdm_waiting = ""
        self.pool_steps: dict[str, Step] = {}
        self.offer_nodes: set[str] = set()
        self.running_hosts = 0
        self.restart_queue: deque[str] = deque()
        self.restarting: str | None = None
        self.now = 0.0
        self._timers: list = []               # heap of (at, seq, step key)
        self._fifo: deque = deque()           # (at, step key), at non-decreasing
        self._timer_seq = 0
        self._compact_at = 1024
        self._launch_seq = 0
        self._node_seq = 0
        self._attributed = 0
        self._wants_offers: bool | None = None
        self._wakeup: float | None = None
        # Changed records since drain_changes(): Step and Node objects, and "meta".
        self._dirty: set = set()
        self._out: list = []
        self._deferred_assign = False
        self._fresh: list[Step] = []
        self._gw_cache = None
        self._limit = options.service.deploy_parallelism if options is not None else 0
        if errors or options is None:
            self.plan.errors = [str(e) for e in errors] or ["options are missing"]
            return
        self._build_skeleton()

    # ------------------------------------------------------------------ construction
    def _build_skeleton(self):
        if self.uninstall:
            uninstall_plan.build_skeleton(self)
            return
        o = self.options
        self.mdm_phase = None
        if o.scaleio.provisioning:
            ph = self.mdm_phase = self.plan.add(Phase("mdm", self.plan, Strategy.DEPENDENCY))
            slots = agentsel.mdm_slots(o.scaleio.provision.mdm_count)
            mdm_steps = [self._new_step(ph, f"mdm/{slot}:mdm", f"{slot}:[mdm]", HOST, "mdm",
                                        params={"slot": slot, "role": role}) for slot, role in slots]
            create = self._new_step(ph, "mdm/primary:create", "primary:[cluster-create]", HOST,
                                    "cluster-create", params={"slot": "primary"}, requires=mdm_steps)
            for slot, role in slots:
                self._new_step(ph, f"mdm/{slot}:gateway", f"{slot}:[gateway]", HOST, "gateway",
                               params={"slot": slot, "role": role}, requires=[create])
        ph = self.cluster_phase = self.plan.add(Phase("cluster", self.plan, Strategy.SERIAL))
        gw_req = [self.steps["mdm/primary:gateway"]] if o.scaleio.provisioning else []
        gw = self._new_step(ph, "cluster/gateway", "gateway:[reachable]", CLUSTER, "gateway-reachable",
                            requires=gw_req)
        self._new_step(ph, "cluster/protection-domain", f"protection-domain:[{o.scaleio.protection_domain}]",
                       CLUSTER, "protection-domain", params={"name": o.scaleio.protection_domain}, requires=[gw])
        self._pool_step(o.scaleio.storage_pool)

    def _new_step(self, phase, key, name, kind, action, host=None, params=None, requires=()):
        step = Step(key, name, phase, kind, action, host, params, _ORDER.get(action, 60))
        self.steps[key] = step
        self._fresh.append(step)
        for req in requires:
            self._add_edge(step, req)
        phase.add(step)
        self._dirty.add(step)
        return step

    @staticmethod
    def _add_edge(step, req):
        step.requires.append(req)
        req.dependents.append(step)
        if req.state is not C:
            step.unmet += 1

    def _pool_step(self, pool):
        step = self.pool_steps.get(pool)
        if step is None:
            ph = self.cluster_phase
            pd = self.options.scaleio.protection_domain
            # Serial phase: each pool after the previous step of the phase.
            step = self._new_step(ph, f"cluster/storage-pool:{pool}", f"storage-pool:[{pd}/{pool}]", CLUSTER,
                                  "storage-pool", params={"protection_domain": pd, "name": pool,
                                                          "media_type": self.options.scaleio.media_type},
                                  requires=[ph.steps[-1]])
            self.pool_steps[pool] = step
        return step

    def _add_node(self, info: AgentInfo, record: dict | None = None) -> Node:
        o = self.options
        self._node_seq += 1
        node = Node(info.hostname, info, record["seq"] if record else self._node_seq)
        if record:
            self._node_seq = max(self._node_seq, node.seq)
        self.nodes[info.hostname] = node
        self.by_agent[info.agent_id] = info.hostname
        self._dirty.add(node)
        if record:
            self._load_node_record(node, record)
        if self.uninstall:
            if self.options.uninstall.level != "framework":
                node.phase = self.plan.add(Phase(info.hostname, self.plan, Strategy.DEPENDENCY),
                                           before=self.plan.phases[-1])   # deregister stays last
            uninstall_plan.add_node_steps(self, node)
            return node
        ph = node.phase = self.plan.add(Phase(info.hostname, self.plan, Strategy.DEPENDENCY))
        h = info.hostname
        deps = node.steps["deps"] = self._new_step(ph, f"{h}/deps", f"{h}:[deps]", HOST, "deps", h)
        if record:
            specs = list(node.devices.values())
            node.devices = {}
            wants_sds = node.sds
            node.sds = False
        else:
            specs, node.refused = agentsel.configured_devices(o, info)
            wants_sds = bool(specs) or o.devices.discovery.enabled
        if wants_sds:
            self._add_sds(node)
        for spec in specs:
            self._add_device(node, spec)
        sdc_req = [deps] + ([self.steps["mdm/primary:create"]] if o.scaleio.provisioning else [])
        sdc = node.steps["sdc"] = self._new_step(ph, f"{h}/sdc", f"{h}:[sdc]", HOST, "sdc", h, requires=sdc_req)
        if o.rexray.enabled:
            rexray = node.steps["rexray"] = self._new_step(ph, f"{h}/rexray", f"{h}:[rexray]", HOST, "rexray", h,
                                                           requires=[sdc, self.steps["cluster/gateway"]])
            node.steps["dvdi"] = self._new_step(ph, f"{h}/dvdi", f"{h}:[dvdi]", HOST, "dvdi", h, requires=[rexray])
        if info.attributes.get(o.scaleio.provision.persona_attribute):
            self._attributed += 1
        return node

    @staticmethod
    def _load_node_record(node: Node, record: dict):
        node.present, node.os_family = record["present"], record["os_family"]
        node.restarting, node.refused = record["restarting"], dict(record["refused"])
        node.sds = record["sds"]
        node.devices = {d[0]: agentsel.DeviceSpec(*d) for d in record["devices"]}

    def _add_sds(self, node: Node):
        if node.sds and "sds" in node.steps:
            return
        node.sds = True
        h, ph = node.hostname, node.phase
        sds = node.steps["sds"] = self._new_step(ph, f"{h}/sds", f"{h}:[sds]", HOST, "sds", h,
                                                 requires=[node.steps["deps"]])
        node.steps["sds-register"] = self._new_step(
            ph, f"{h}/sds-register", f"{h}:[sds-register]", CLUSTER, "sds-register", h,
            requires=[sds, self._pool_step(self.options.scaleio.storage_pool)])
        self._dirty.add(node)

    def _add_device(self, node: Node, spec) -> Step:
        key = "device:" + spec.path
        existing = node.steps.get(key)
        if existing is not None:
            return existing
        self._add_sds(node)
        node.devices[spec.path] = spec
        node.refused.pop(spec.path, None)
        h = node.hostname
        step = node.steps[key] = self._new_step(
            node.phase, f"{h}/{key}", f"{h}:[device:{spec.path}]", CLUSTER, "device", h,
            params={"path": spec.path, "protection_domain": spec.protection_domain,
                    "storage_pool": spec.storage_pool},
            requires=[node.steps["sds-register"], self._pool_step(spec.storage_pool)])
        self._dirty.add(node)
        return step

    # ------------------------------------------------------------------ public API
    def resume(self, now: float) -> list:
        """Start (or, after ``restore``, continue) driving the plan: evaluate every waiting step,
        re-issue cluster actions that were in flight, and state offer and wake-up needs."""
        self.now = now
        self._out = out = []
        if self.plan.errors:
            out.append(Suppress())
            self._wants_offers = False
            return out
        self._fresh = []
        if self.uninstall:
            for step, why in uninstall_plan.nothing_to_remove(self):
                if step.state is P:
                    step.message = why
                    step.finished = now
                    self._move(step, "skip")
                    self._completed(step)
        for step in list(self.steps.values()):
            if (step.state is S1 and step.kind == CLUSTER) or step.stage == "verify":
                # In flight when the previous scheduler stopped: ask again (actions are idempotent).
                self.actions[step.action_id] = step
                out.append(RunClusterAction(step.action_id, step.key, self._cluster_action(step), step.attempts,
                                            self._cluster_params(step)))
            elif step.state in (P, R):
                self._evaluate(step)
        node = self.nodes.get(self.restarting) if self.restarting is not None else None
        if node is not None and node.running is not None and node.running.stage == "restart":
            # Issued by the previous scheduler, which may have died before (or while) doing it: ask
            # again (the restart task is idempotent: an agent already running as wanted is done at once).
            step = node.running
            out.append(RestartAgent(node.info.agent_id, node.hostname, step.params.get("restart_kind", "agent"),
                                    step.key))
        self._pump_restarts()
        self._wants_offers = None
        self._wakeup = None
        self._finish()
        return out

    def handle(self, event) -> list:
        """Apply one event; return the decisions it causes (possibly none)."""
        self.now = event.now
        self._out = []
        if self.plan.errors:
            # Bad options: launch nothing, stay up. Offers are declined for good.
            if isinstance(event, OfferSeen):
                self._out.append(DeclineOffer(event.offer_id, LONG_REFUSE_S))
            if self._wants_offers is not False:
                self._wants_offers = False
                self._out.append(Suppress())
            return self._out
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"not an engine event: {event!r}")
        handler(self, event)
        self._finish()
        return self._out

    @property
    def wants_offers(self) -> bool:
        limit = self._limit
        return bool(self.offer_nodes) and (not limit or self.running_hosts < limit)

    @property
    def next_wakeup(self) -> float | None:
        self._drop_stale_timers()
        heap, fifo = self._timers, self._fifo
        if heap and fifo:
            return min(heap[0][0], fifo[0][0])
        return heap[0][0] if heap else fifo[0][0] if fifo else None

    def active_tasks(self) -> list[tuple[str, str]]:
        """(task ID, agent ID) of every task the engine believes is running: what the scheduler
        reconciles explicitly at start (after ``restore``)."""
        return [(tid, self.nodes[s.host].info.agent_id) for tid, s in self.tasks.items() if s.host in self.nodes]

    def host_launch(self, key: str) -> LaunchHostStep | None:
        """The launch host step ``key`` would get now (empty ``offer_id``; its current task ID): what
        the scheduler re-runs on the agent for a restart the engine asks for (``RestartAgent``) when it
        does not remember the step's last launch, e.g. after the scheduler itself restarted."""
        step = self.steps.get(key)
        node = self.nodes.get(step.host) if step is not None and step.host else None
        if node is None or step.kind != HOST:
            return None
        return LaunchHostStep("", node.info.agent_id, node.hostname, step.key, step.action, step.task_id or "",
                              step.attempts, "mdm" if node.mdm_slot else "data", self._host_params(step, node))

    def drain_changes(self) -> dict:
        """Records changed since the last call: key -> JSON-able dict (``None`` = delete)."""
        changes = {}
        for item in self._dirty:
            if item == "meta":
                changes["meta"] = self._record("meta")
            elif isinstance(item, Step):
                changes["step/" + item.key] = item.state_record()
            else:
                changes["node/" + item.hostname] = item.record()
        self._dirty = set()
        return changes

    def snapshot(self) -> dict:
        """Every record (the whole state), JSON-able: ``Engine.restore(options, snapshot)``."""
        keys = ["meta"] + ["node/" + h for h in self.nodes] + ["step/" + k for k in self.steps]
        return {k: self._record(k) for k in keys}

    # ------------------------------------------------------------------ state changes
    def _move(self, step: Step, trigger: str):
        old = step.state
        try:
            new = _TRANSITIONS[(old, trigger)]   # the table in transitions.py, inlined lookup
        except KeyError:
            transition(old, trigger)             # raises IllegalTransition with the message
            raise
        step.state = new
        step.phase.moved(old, new)
        self._dirty.add(step)

    def _is_ready(self, step: Step) -> bool:
        if step.unmet:
            return False
        if step.kind == CLUSTER:
            return True
        node = self.nodes.get(step.host) if step.host else None
        if node is None or not node.present:
            return False
        return not (step.action == "deps" and self._awaits_placement(node))

    def _awaits_placement(self, node: Node) -> bool:
        """Provision mode: ``deps`` installs the MDM and gateway prerequisites only on MDM agents
        (its ``mdm`` parameter), so on an agent that may still be chosen as an MDM it waits for the
        placement. Run earlier, it would complete without them and the mdm step would then run on
        an agent lacking its packages."""
        o = self.options
        if self.uninstall or self.mdm_slots or not o.scaleio.provisioning:
            return False
        pinned = o.scaleio.provision.mdm_hosts
        return not pinned or node.hostname in pinned

    def _evaluate(self, step: Step):
        """Re-check a PENDING/PREPARED step after something it depends on changed."""
        st = step.state
        if st is P:
            if self._is_ready(step):
                refusal = self._refusal(step)
                if refusal:
                    step.reason = step.message = refusal
                    step.finished = self.now
                    self._move(step, "refused")
                    return
                self._move(step, "ready")
                self._on_prepared(step)
        elif st is R:
            if not self._is_ready(step):
                self._unprepare(step)
            else:
                self._on_prepared(step)

    def _unprepare(self, step):
        self._move(step, "unready")
        if step.kind == HOST:
            node = self.nodes.get(step.host)
            if node is not None and step in node.ready:
                node.ready.remove(step)
                self._update_offer_node(node)

    def _on_prepared(self, step: Step):
        if step.is_interrupted():
            return
        if step.kind == CLUSTER:
            self._launch_cluster(step)
            return
        node = self.nodes[step.host]
        if step not in node.ready:
            node.ready.append(step)
            self._update_offer_node(node)

    def _update_offer_node(self, node: Node):
        if node.present and node.running is None and not node.restarting and node.ready:
            self.offer_nodes.add(node.hostname)
        else:
            self.offer_nodes.discard(node.hostname)

    def _refusal(self, step: Step) -> str:
        """Why a ready host step cannot run as configured ('' = it can)."""
        if step.kind != HOST:
            return ""
        node = self.nodes[step.host]
        family = node.os_family
        if not family:
            return ""
        if family not in OS_FAMILIES:
            return f"unsupported OS family {family!r} on {node.hostname}"
        comps = PACKAGES.get(step.action, ())
        if self.options.agents.flavour == "mesos":
            comps += MESOS_PACKAGES.get(step.action, ())
        for comp in comps:
            if not self.options.artifacts.package(family, comp):
                return f"no {comp} package for {family}: set artifacts.{family}.{comp}.url and sha256"
        return ""

    def _complete(self, step: Step):
        self._move(step, "succeeded")
        self._completed(step)

    def _completed(self, step: Step):
        step.finished = self.now
        step.reason = ""
        step.retry_at = step.deadline = None
        step.stage = ""
        # The attempt's IDs only matter while it runs (late answers are recognised as stale by
        # not matching); dropping them saves ~1 KB per agent at 10,000 agents.
        step.task_id = step.action_id = None
        if "rebooted" in step.params:     # a later run (operator restart) may reboot once more
            step.params = {k: v for k, v in step.params.items() if k != "rebooted"}
        for dep in step.dependents:
            dep.unmet -= 1
            if dep.unmet == 0 and dep.state is P:
                self._evaluate(dep)

    def _fail(self, step: Step, reason: str, retryable: bool = True):
        step.reason = reason
        step.deadline = None
        step.stage = ""
        retry = self.options.service.retry
        if retryable and step.attempts < retry.max_attempts:
            delay = retry.delay(step.attempts)
            step.retry_at = self.now + delay
            step.message = f"backing off {delay:g} s after: {reason}"
            self._move(step, "failed")
            self._push_timer(step.retry_at, step.key)
        else:
            step.finished = self.now
            step.retry_at = None
            step.message = (f"failed after {step.attempts} attempt(s): {reason}" if retryable
                            else f"failed (not retryable): {reason}")
            self._move(step, "failed_final")

    # ------------------------------------------------------------------ launching
    def _launch_host(self, step: Step, node: Node, offer_id: str):
        self._launch_seq += 1
        self._dirty.add("meta")
        step.attempts += 1
        step.task_id = f"{step.action}__{node.hostname}__{self._launch_seq}"
        step.started, step.finished, step.message = self.now, None, ""
        step.deadline = self.now + self.options.service.step_timeout_s
        node.ready.remove(step)
        node.running = step
        self.running_hosts += 1
        self.tasks[step.task_id] = step
        self._move(step, "launch")
        self._push_timer(step.deadline, step.key)
        self._update_offer_node(node)
        persona = "mdm" if node.mdm_slot else "data"
        self._out.append(LaunchHostStep(offer_id, node.info.agent_id, node.hostname, step.key, step.action,
                                        step.task_id, step.attempts, persona, self._host_params(step, node)))

    def _launch_cluster(self, step: Step, action: str | None = None):
        self._launch_seq += 1
        self._dirty.add("meta")
        step.attempts += 1
        step.action_id = f"{step.key}#{self._launch_seq}"
        step.started, step.finished, step.message = self.now, None, ""
        step.deadline = self.now + self.options.service.step_timeout_s
        self.actions[step.action_id] = step
        self._move(step, "launch")
        self._push_timer(step.deadline, step.key)
        self._out.append(RunClusterAction(step.action_id, step.key, action or self._cluster_action(step),
                                          step.attempts, self._cluster_params(step)))

    @staticmethod
    def _cluster_action(step):
        return "verify-agent" if step.stage == "verify" else step.action

    def _release_task(self, step: Step):
        """Forget the step's task (finished, failed, lost or killed) and free its agent."""
        self.tasks.pop(step.task_id, None)
        node = self.nodes.get(step.host)
        if node is not None and node.running is step:
            node.running = None
            self.running_hosts -= 1
            self._update_offer_node(node)

    def _kill_active(self, step: Step, reason: str):
        if step.kind == HOST and step.state in ACTIVE:
            if step.task_id in self.tasks:
                node = self.nodes.get(step.host)
                self._out.append(KillTask(step.task_id, node.info.agent_id if node else "", reason))
            self._release_task(step)
        if step.state in ACTIVE and self.actions.pop(step.action_id, None) is not None:
            # A cluster step's action, or a host step's post-restart verification.
            self._out.append(CancelAction(step.action_id, reason))
        step.deadline = None

    # ------------------------------------------------------------------ MDM placement
    def _try_assign(self):
        if not self.options.scaleio.provisioning or self.mdm_slots or self.uninstall:
            return
        choice = agentsel.choose_mdms(self.options, (n.info for n in self.nodes.values() if n.present))
        if choice.slots:
            self.mdm_waiting = ""
            self._assign(dict(choice.slots), evaluate=True)
        elif choice.error:
            self.mdm_waiting = choice.error
            for step in self.mdm_phase.steps:
                if step.state is P:
                    step.reason = step.message = choice.error
                    step.finished = self.now
                    self._move(step, "refused")
        else:
            self.mdm_waiting = choice.waiting

    def _assign(self, slots: dict, evaluate: bool):
        self._dirty.add("meta")
        if self.uninstall:
            uninstall_plan.assign(self, slots)
            return
        self.mdm_slots = slots
        for slot, host in slots.items():
            node = self.nodes[host]
            node.mdm_slot = slot
            keys = [f"mdm/{slot}:mdm", f"mdm/{slot}:gateway"] + (["mdm/primary:create"] if slot == "primary" else [])
            for key in keys:
                step = self.steps[key]
                step.host = host
                node.steps[key] = step
            self._add_edge(self.steps[f"mdm/{slot}:mdm"], node.steps["deps"])
        if evaluate:
            for step in self.mdm_phase.steps:
                self._evaluate(step)
            # deps steps waited for the placement (see _awaits_placement): once per deploy.
            for node in self.nodes.values():
                deps = node.steps.get("deps")
                if deps is not None and deps.state is P:
                    self._evaluate(deps)

    # ------------------------------------------------------------------ agent restarts
    def _pump_restarts(self):
        while self.restarting is None and self.restart_queue:
            step = self.steps[self.restart_queue.popleft()]
            self._dirty.add("meta")
            if step.stage != "restart":
                continue
            node = self.nodes[step.host]
            self.restarting = node.hostname
            node.restarting = True
            self._dirty.add(node)
            kind = step.params.get("restart_kind", "agent")
            step.message = f"restarting the agent ({kind})"
            step.deadline = self.now + self.options.service.step_timeout_s
            self._push_timer(step.deadline, step.key)
            self._dirty.add(step)
            self._out.append(RestartAgent(node.info.agent_id, node.hostname, kind, step.key))

    def _release_restart(self, step: Step):
        node = self.nodes.get(step.host)
        if node is not None and node.restarting and self.restarting == node.hostname:
            node.restarting = False
            self.restarting = None
            self._dirty.add(node)
            self._dirty.add("meta")
            if node.running is step:
                node.running = None
                self.running_hosts -= 1
            self._update_offer_node(node)
        elif node is not None and node.running is step:
            node.running = None
            self.running_hosts -= 1
            self._update_offer_node(node)
        if step.key in self.restart_queue:
            self.restart_queue.remove(step.key)
        step.stage = ""
        self._pump_restarts()

    # ------------------------------------------------------------------ event handlers
    def _on_agent_added(self, ev: AgentAdded):
        self._agent_added(ev.agent)
        if self._deferred_assign:
            self._deferred_assign = False
            self._try_assign()

    def _on_agents_listed(self, ev: AgentsListed):
        for info in ev.agents:
            self._agent_added(info)
        if self._deferred_assign:
            self._deferred_assign = False
            self._try_assign()

    def _agent_added(self, info: AgentInfo):
        node = self.nodes.get(info.hostname)
        if node is None and self.uninstall:
            self.ignored[info.hostname] = "the service is uninstalling"
            self.ignored_ids.add(info.agent_id)
            return
        if node is None:
            ok, why = agentsel.select(self.options, info)
            if not ok:
                self.ignored[info.hostname] = why
                self.ignored_ids.add(info.agent_id)
                return
            self.ignored.pop(info.hostname, None)
            self.ignored_ids.discard(info.agent_id)
            # Offers from this agent may have been declined as unknown: revive to clear filters.
            self._wants_offers = None
            self._add_node(info)
            if self.options.scaleio.provisioning and not self.mdm_slots:
                self._note_candidate(info)
            return
        old_id = node.info.agent_id
        if old_id != info.agent_id:
            # A new agent ID: its offers may have been declined as unknown; revive to clear filters.
            self._wants_offers = None
            if self.by_agent.get(old_id) == node.hostname:
                del self.by_agent[old_id]
        self.by_agent[info.agent_id] = node.hostname
        node.info = info
        node.present = True
        self._dirty.add(node)
        if not self.uninstall:
            specs, refused = agentsel.configured_devices(self.options, info)
            node.refused.update({p: r for p, r in refused.items() if p not in node.devices})
            for spec in specs:
                if spec.path not in node.devices:
                    self._add_device(node, spec)
        running = node.running
        if node.restarting and running is not None and running.stage == "restart" \
                and running.params.get("restart_kind") == "reboot":
            # Back from the reboot the step asked for: the step runs again on the rebooted host
            # (its own checks are the verification; e.g. scini loads with the new kernel now).
            self._release_restart(running)
            running.deadline = None
            running.message = "the agent rebooted: running the step again"
            running.params = {**running.params, "rebooted": True}
            self._move(running, "lost")
        elif node.restarting and running is not None and running.stage == "restart":
            # The agent is back from the restart the step asked for: verify before completing.
            running.stage = "verify"
            running.message = "verifying the agent after its restart"
            self.actions.pop(running.action_id, None)
            self._launch_verify(running)
        if self.options.scaleio.provisioning and not self.mdm_slots and not self.uninstall:
            self._note_candidate(info)
        for step in list(node.steps.values()):
            if step.state in (P, R):
                self._evaluate(step)
        self._update_offer_node(node)

    def _launch_verify(self, step: Step):
        self._launch_seq += 1
        self._dirty.add("meta")
        step.action_id = f"{step.key}#{self._launch_seq}"
        step.deadline = self.now + self.options.service.step_timeout_s
        self.actions[step.action_id] = step
        self._dirty.add(step)
        self._push_timer(step.deadline, step.key)
        self._out.append(RunClusterAction(step.action_id, step.key, "verify-agent", step.attempts,
                                          self._cluster_params(step)))

    def _note_candidate(self, info: AgentInfo):
        """Decide whether this agent's arrival can complete the MDM placement (no full scans)."""
        prov = self.options.scaleio.provision
        if prov.mdm_hosts:
            relevant = info.hostname in prov.mdm_hosts
        elif self._attributed:
            relevant = bool(info.attributes.get(prov.persona_attribute))
        else:
            relevant = len(self.nodes) >= prov.mdm_count
        if relevant:
            self._deferred_assign = True

    def _on_agent_removed(self, ev: AgentRemoved):
        host = self.by_agent.get(ev.agent_id)
        node = self.nodes.get(host) if host else None
        if node is None or not node.present:
            return
        node.present = False
        self._dirty.add(node)
        if node.restarting:
            # Expected: it went away for the restart we asked for.
            self._update_offer_node(node)
            return
        step = node.running
        if step is not None and step.state in ACTIVE:
            if step.stage:
                self._release_restart(step)
            else:
                self._release_task(step)
            step.deadline = None
            step.message = f"agent {host} went away while the step ran: {ev.reason}"
            self._move(step, "lost")
        for ready in list(node.ready):
            self._unprepare(ready)
        self._update_offer_node(node)

    def _on_offer(self, ev: OfferSeen):
        host = self.by_agent.get(ev.agent_id)
        node = self.nodes.get(host) if host else None
        if node is None:
            known = ev.agent_id in self.ignored_ids
            self._out.append(DeclineOffer(ev.offer_id, LONG_REFUSE_S if known else UNKNOWN_REFUSE_S))
            return
        if not node.present or not node.ready:
            self._out.append(DeclineOffer(ev.offer_id, LONG_REFUSE_S))
            return
        limit = self._limit
        if node.running is not None or node.restarting or (limit and self.running_hosts >= limit):
            self._out.append(DeclineOffer(ev.offer_id, SHORT_REFUSE_S))
            return
        step = min(node.ready, key=_order_key)
        self._launch_host(step, node, ev.offer_id)

    def _on_task_status(self, ev: TaskStatusUpdate):
        step = self.tasks.get(ev.task_id)
        if step is None or step.task_id != ev.task_id or step.stage:
            return  # an old attempt's task, or one the engine already gave up on
        state = ev.state
        if state in _RUNNING_TASK:
            if step.state is S1:
                self._move(step, "running")
            return
        if state in _IGNORED_TASK:
            return
        if state == "TASK_FINISHED" and not ev.result and ev.reason == "REASON_RECONCILIATION":
            # The master's answer carries no data; the step's result (OS family, disks, a restart
            # request) comes with the executor's own update, which the agent resends until ACKed.
            # Completing without it left e.g. the OS family unknown and later steps without packages.
            return
        self._release_task(step)
        step.deadline = None
        if state == "TASK_FINISHED":
            self._host_succeeded(step, ev.result or {})
        elif state == "TASK_UNREACHABLE":
            step.message = f"agent {step.host} unreachable while the step ran"
            self._move(step, "lost")
            self._evaluate(step)
        else:
            result = ev.result or {}
            # The executor's structured reason beats the TaskStatus message (which may be generic).
            reason = result.get("reason") if isinstance(result.get("reason"), str) else ""
            detail = reason or ev.message or ev.reason or "no message"
            retryable = bool(result.get("retryable", True))
            self._fail(step, f"{state}: {detail}", retryable)

    def _host_succeeded(self, step: Step, result):
        node = self.nodes[step.host]
        family = result.get("os_family")
        if isinstance(family, str) and family != node.os_family:
            node.os_family = family
            self._dirty.add(node)
        disks = result.get("disks")
        if disks and node.sds and self.options.devices.discovery.enabled:
            usable, refused = agentsel.filter_discovered(self.options, disks)
            node.refused.update({p: r for p, r in refused.items() if p not in node.devices})
            pool = self.options.scaleio.storage_pool
            for path in usable:
                if path not in node.devices:
                    self._add_device(node, agentsel.DeviceSpec(path, self.options.scaleio.protection_domain,
                                                               pool, "discovery"))
            self._dirty.add(node)
        restart = result.get("restart")
        if restart in ("agent", "reboot"):
            allowed = self.options.agents.allow_restart if restart == "agent" else self.options.agents.allow_reboot
            if not allowed:
                flag = "allow_restart" if restart == "agent" else "allow_reboot"
                why = result.get("restart_reason") or "the step needs it"
                self._fail(step, f"an agent {restart} is required ({why}) and agents.{flag} is off", False)
                return
            if restart == "reboot" and step.params.get("rebooted"):
                why = result.get("restart_reason") or "the step needs it"
                self._fail(step, f"still needs a reboot after rebooting the agent once ({why})", False)
                return
            step.params = {**step.params, "restart_kind": restart}
            step.stage = "restart"
            step.message = f"waiting for its turn to {restart} the agent"
            step.deadline = None      # the clock starts when the restart is issued (one at a time)
            node.running = step
            self.running_hosts += 1
            self._update_offer_node(node)
            self._move(step, "await_restart")
            self.restart_queue.append(step.key)
            self._dirty.add("meta")
            self._pump_restarts()
            return
        self._complete(step)

    def _on_action_result(self, ev: ClusterActionResult):
        step = self.actions.pop(ev.action_id, None)
        if step is None or step.action_id != ev.action_id:
            return
        if step.stage == "verify":
            if ev.ok:
                self._release_restart(step)
                self._complete(step)
            else:
                self._release_restart(step)
                self._fail(step, f"agent check after restart failed: {ev.message or 'no message'}", ev.retryable)
            return
        if ev.ok:
            self._record_details(step, ev.result)
            self._complete(step)
        else:
            self._fail(step, ev.message or f"{step.action} failed", ev.retryable)

    @staticmethod
    def _record_details(step: Step, result):
        """Keep the IDs and ``created`` flag a cluster action reports (``result["details"]``), so
        uninstall removes exactly what this framework created. ``created`` is sticky: a retry
        that finds the object our earlier attempt made reports False, but we made it."""
        details = result.get("details") if isinstance(result, dict) else None
        if not isinstance(details, dict):
            return
        kept = {k: v for k, v in details.items() if (k == "created" or k.endswith("_id")) and isinstance(v, (str, bool))}
        if not kept:
            return
        old = step.details or {}
        kept["created"] = bool(old.get("created")) or bool(kept.get("created"))
        step.details = {**old, **kept}

    def _on_tick(self, ev: Tick):
        while True:
            due = self._pop_due(self.now)
            if due is None:
                break
            at, key = due
            step = self.steps.get(key)
            if step is None:
                continue
            if step.state is D and step.retry_at == at:
                step.retry_at = None
                step.message = ""
                self._move(step, "backoff_elapsed")
                self._evaluate(step)
            elif step.state in ACTIVE and step.deadline == at:
                timeout = self.options.service.step_timeout_s
                self._kill_active(step, f"timed out after {timeout} s")
                if step.stage:
                    self._release_restart(step)
                self._fail(step, f"timed out after {timeout} s")

    def _on_device(self, ev: DeviceRequested):
        if self.uninstall:
            raise RequestRejected("node", "the service is uninstalling", 409)
        node = self.nodes.get(ev.hostname)
        if node is None:
            raise RequestRejected("node", f"unknown node {ev.hostname!r}", 404)
        if not patterns.is_device_path(ev.path):
            raise RequestRejected("device", "must be a block device path under /dev (letters, digits, _ . - /)")
        pool = ev.pool or self.options.scaleio.storage_pool
        if not patterns.is_scaleio_name(pool):
            raise RequestRejected("pool", "not a valid storage pool name")
        existing = node.devices.get(ev.path)
        if existing is not None:
            if existing.storage_pool != pool:
                raise RequestRejected("device", f"{ev.path} is already added to pool {existing.storage_pool}", 409)
            return
        spec = agentsel.DeviceSpec(ev.path, self.options.scaleio.protection_domain, pool, "request")
        self._add_device(node, spec)

    def device_step(self, hostname: str, path: str) -> Step | None:
        node = self.nodes.get(hostname)
        return node.steps.get("device:" + path) if node else None

    # ------------------------------------------------------------------ after every event
    def _finish(self):
        if self._fresh:
            fresh, self._fresh = self._fresh, []
            for step in fresh:
                if step.state in (P, R):
                    self._evaluate(step)
        wants = self.wants_offers
        if wants != self._wants_offers:
            self._wants_offers = wants
            self._out.append(Revive() if wants else Suppress())
        at = self.next_wakeup
        if at is not None and at != self._wakeup:
            self._wakeup = at
            self._out.append(ScheduleWakeup(at))
        elif at is None:
            self._wakeup = None


def _order_key(step: Step):
    return step.order


_HANDLERS = {
    AgentAdded: Engine._on_agent_added,
    AgentsListed: Engine._on_agents_listed,
    AgentRemoved: Engine._on_agent_removed,
    OfferSeen: Engine._on_offer,
    TaskStatusUpdate: Engine._on_task_status,
    ClusterActionResult: Engine._on_action_result,
    Tick: Engine._on_tick,
    DeviceRequested: Engine._on_device,
    OperatorCommand: Engine._on_command,
}
