"""The plan tree: Plan -> Phase -> Step, and the per-agent Node record.

Steps form a dependency graph (``requires``/``dependents``); ``unmet`` counts requirements that
are not COMPLETE so readiness is O(1). Phases keep counts of their steps' raw states so a phase's
status is O(1) too. Only the engine mutates these objects, and only through
:func:`dcos_scaleio.plan.transitions.transition` for ``state``.
"""
from __future__ import annotations

import hashlib
import uuid

from .status import Status, Strategy

__all__ = ["HOST", "CLUSTER", "Step", "Phase", "Plan", "Node", "element_id", "phase_id"]

HOST, CLUSTER = "host", "cluster"
_NO_PARAMS: dict = {}
_NS = uuid.UUID("6f1c2a8e-5b7d-4f0e-9a51-0d3c5e1b7a42")
_NS_BYTES = _NS.bytes


def element_id(key: str) -> str:
    """A stable UUID for a plan element: the same after a scheduler restart.

    Equal to ``str(uuid.uuid5(_NS, key))``, computed without UUID objects because the plan JSON
    asks for one per step (89,000 at 10,000 agents).
    """
    b = bytearray(hashlib.sha1(_NS_BYTES + key.encode(), usedforsecurity=False).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50     # version 5
    b[8] = (b[8] & 0x3F) | 0x80     # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def phase_id(phase) -> str:
    """A phase's stable id."""
    return element_id(f"{phase.plan.name}/{phase.name}")


class Step:
    """One unit of work. ``kind`` HOST runs as a task on ``host``'s executor; CLUSTER runs in the
    scheduler. ``host`` may be None until an MDM slot is assigned (or for cluster-wide steps)."""

    __slots__ = ("key", "name", "phase", "kind", "action", "host", "params", "order", "state",
                 "attempts", "started", "finished", "message", "reason", "retry_at", "deadline",
                 "task_id", "action_id", "interrupted", "stage", "unmet", "requires", "dependents", "details")

    def __init__(self, key, name, phase, kind, action, host=None, params=None, order=0):
        self.key = key
        self.name = name
        self.phase = phase
        self.kind = kind
        self.action = action
        self.host = host
        self.params = params or _NO_PARAMS  # shared and never mutated: replaced when changed
        self.order = order            # priority among an agent's ready host steps (lower first)
        self.state = Status.PENDING
        self.attempts = 0             # attempts since the last (re)start of the step
        self.started = None
        self.finished = None
        self.message = ""
        self.reason = ""              # the last failure, kept until the step completes or restarts
        self.retry_at = None
        self.deadline = None
        self.task_id = None
        self.action_id = None
        self.interrupted = False
        self.stage = ""               # "" | "restart" | "verify" (agent restart asked by the step)
        self.details = None           # cluster steps: IDs and ``created`` of what the action made
        self.unmet = 0
        self.requires = []
        self.dependents = []

    def is_interrupted(self) -> bool:
        return self.interrupted or self.phase.interrupted or self.phase.plan.interrupted

    STATE_FIELDS = ("state", "attempts", "started", "finished", "message", "reason", "retry_at",
                    "deadline", "task_id", "action_id", "interrupted", "stage", "details")

    def state_record(self) -> dict:
        # Spelled out (not a comprehension over STATE_FIELDS): called for every change persisted.
        return {"state": self.state.value, "attempts": self.attempts, "started": self.started,
                "finished": self.finished, "message": self.message, "reason": self.reason,
                "retry_at": self.retry_at, "deadline": self.deadline, "task_id": self.task_id,
                "action_id": self.action_id, "interrupted": self.interrupted, "stage": self.stage,
                "details": self.details}

    def load_state(self, rec: dict) -> None:
        for f in self.STATE_FIELDS:
            if f in rec:
                setattr(self, f, rec[f])
        self.state = Status(rec["state"])

    def __repr__(self):
        return f"<Step {self.key} {self.state.value}>"


class Phase:
    __slots__ = ("name", "plan", "strategy", "steps", "interrupted", "counts", "uuid")

    def __init__(self, name, plan, strategy: Strategy):
        self.name = name
        self.plan = plan
        self.strategy = strategy
        self.steps: list[Step] = []
        self.interrupted = False
        self.counts = {}
        self.uuid = None

    def add(self, step: Step) -> None:
        """Insert keeping steps sorted by ``order`` (stable): a device added later is listed
        with the other devices, and a restored plan lists steps exactly as the original."""
        steps = self.steps
        i = len(steps)
        while i and steps[i - 1].order > step.order:
            i -= 1
        steps.insert(i, step)
        self.counts[step.state] = self.counts.get(step.state, 0) + 1

    def moved(self, old: Status, new: Status) -> None:
        counts = self.counts
        counts[old] -= 1
        counts[new] = counts.get(new, 0) + 1


class Plan:
    __slots__ = ("name", "strategy", "phases", "by_name", "interrupted", "errors")

    def __init__(self, name, strategy: Strategy):
        self.name = name
        self.strategy = strategy
        self.phases: list[Phase] = []
        self.by_name: dict[str, Phase] = {}
        self.interrupted = False
        self.errors: list[str] = []

    def add(self, phase: Phase, before: Phase | None = None) -> Phase:
        """Append ``phase`` (or insert it before ``before``, e.g. a final deregister phase)."""
        if before is None:
            self.phases.append(phase)
        else:
            self.phases.insert(self.phases.index(before), phase)
        self.by_name[phase.name] = phase
        return phase


class Node:
    """The engine's record of one selected agent, keyed by hostname (stable across agent IDs)."""

    __slots__ = ("hostname", "info", "present", "seq", "os_family", "mdm_slot", "devices", "refused",
                 "restarting", "running", "ready", "phase", "steps", "sds")

    def __init__(self, hostname, info, seq):
        self.hostname = hostname
        self.info = info
        self.present = True
        self.seq = seq                # arrival order: phases are listed in it
        self.os_family = ""
        self.mdm_slot = ""            # "" or an MDM slot name (primary, secondary-1, tiebreaker-1...)
        self.devices = {}             # path -> DeviceSpec
        self.refused = {}             # path -> reason
        self.restarting = False
        self.running = None           # the host step whose task runs on this agent now
        self.ready = []               # host steps PREPARED here, not interrupted (small list)
        self.phase = None
        self.steps = {}               # action key (deps, sds, device:/dev/x, mdm, ...) -> Step
        self.sds = False

    def record(self) -> dict:
        return {"info": self.info.to_json(), "present": self.present, "seq": self.seq,
                "os_family": self.os_family, "restarting": self.restarting, "sds": self.sds,
                "devices": [[d.path, d.protection_domain, d.storage_pool, d.source] for d in self.devices.values()],
                "refused": dict(self.refused)}
