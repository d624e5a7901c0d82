"""Events: what the scheduler adapter tells the engine. Frozen, slotted, each carries ``now``.

``now`` is the adapter's clock (seconds, e.g. ``time.time()``); the engine has no clock of its
own, so every timestamp, backoff and timeout is computed from the ``now`` of the events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = [
    "AgentInfo", "AgentAdded", "AgentsListed", "AgentRemoved", "OfferSeen", "TaskStatusUpdate",
    "ClusterActionResult", "OperatorCommand", "DeviceRequested", "Tick", "Event", "COMMAND_VERBS",
    "TASK_STATES",
]

_EMPTY: Mapping = {}


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What the engine needs to know about an agent. Attribute values are strings (Mesos text,
    scalars formatted as text). ``public`` means the agent has the ``slave_public`` role."""
    agent_id: str
    hostname: str
    ip: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    public: bool = False
    cpus: float = 0.0
    mem: float = 0.0
    mesos_version: str = ""

    def to_json(self) -> dict:
        return {"agent_id": self.agent_id, "hostname": self.hostname, "ip": self.ip,
                "attributes": dict(self.attributes), "public": self.public, "cpus": self.cpus,
                "mem": self.mem, "mesos_version": self.mesos_version}

    @classmethod
    def from_json(cls, d: Mapping) -> "AgentInfo":
        return cls(d["agent_id"], d["hostname"], d.get("ip", ""), dict(d.get("attributes", {})),
                   bool(d.get("public", False)), float(d.get("cpus", 0)), float(d.get("mem", 0)),
                   d.get("mesos_version", ""))


@dataclass(frozen=True, slots=True)
class AgentAdded:
    """An agent registered, re-registered, or returned (possibly with a new agent ID: it is
    recognised by hostname). Send it again after an agent restart the engine asked for."""
    now: float
    agent: AgentInfo


@dataclass(frozen=True, slots=True)
class AgentsListed:
    """Every agent known at start (operator API GET_AGENTS). Preferred over many AgentAdded at
    start-up: automatic MDM placement then chooses among all of them."""
    now: float
    agents: tuple


@dataclass(frozen=True, slots=True)
class AgentRemoved:
    """An agent was removed, is gone, or is unreachable."""
    now: float
    agent_id: str
    reason: str = "agent removed"


@dataclass(frozen=True, slots=True)
class OfferSeen:
    """One offer from one agent. The engine answers with a launch or a decline for it."""
    now: float
    offer_id: str
    agent_id: str


TASK_STATES = frozenset({
    "TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED",
    "TASK_KILLING", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_UNREACHABLE", "TASK_GONE",
    "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})


@dataclass(frozen=True, slots=True)
class TaskStatusUpdate:
    """A Mesos TaskStatus for a task the engine launched. ``result`` is the executor's structured
    result (TaskStatus.data decoded): on success e.g. ``{"os_family": "rhel", "disks": [...],
    "restart": "agent"}``; on failure ``{"retryable": false}`` makes the failure final."""
    now: float
    task_id: str
    state: str
    message: str = ""
    result: Mapping = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClusterActionResult:
    """The outcome of a RunClusterAction the scheduler ran against the gateway (or an agent check)."""
    now: float
    action_id: str
    ok: bool
    message: str = ""
    result: Mapping = field(default_factory=dict)
    retryable: bool = True


COMMAND_VERBS = frozenset({"start", "stop", "interrupt", "continue", "restart", "force_complete"})


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """An operator command on a plan, a phase of it, or a step of a phase (by name or id).
    ``interrupt`` = pause, ``continue`` = resume."""
    now: float
    verb: str
    plan: str
    phase: str | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRequested:
    """add-device: a device to add on a node (by hostname). ``pool`` None = the configured pool."""
    now: float
    hostname: str
    path: str
    pool: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed (the adapter's timer fired, see ScheduleWakeup)."""
    now: float


Event = (AgentAdded | AgentsListed | AgentRemoved | OfferSeen | TaskStatusUpdate | ClusterActionResult
         | OperatorCommand | DeviceRequested | Tick)
