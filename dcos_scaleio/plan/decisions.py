"""Decisions: what the engine asks the scheduler adapter to do. Frozen and JSON-able via to_json.

The adapter persists the engine's changes (``Engine.drain_changes``) *before* acting on the
decisions returned by the same ``handle`` call, so a crash never loses a decision it acted on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

__all__ = ["LaunchHostStep", "RunClusterAction", "CancelAction", "DeclineOffer", "Suppress", "Revive", "KillTask",
           "ScheduleWakeup", "RestartAgent", "Decision", "LONG_REFUSE_S", "SHORT_REFUSE_S", "UNKNOWN_REFUSE_S"]

LONG_REFUSE_S = 3600.0   # nothing to do on that agent; a Revive clears the filter anyway
SHORT_REFUSE_S = 5.0     # work is waiting there, just not now (agent busy, parallelism limit)
UNKNOWN_REFUSE_S = 30.0  # an agent ID the engine has not been told about (yet): AgentAdded may follow


class _Json:
    __slots__ = ()

    def to_json(self) -> dict:
        return {"type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True, slots=True)
class LaunchHostStep(_Json):
    """Launch ``task_id`` for host step ``step`` on the agent's executor, using ``offer_id``.
    ``persona`` ("mdm" or "data") sizes the executor. ``params`` is everything the executor needs
    besides secrets (see docs/plan-engine.md)."""
    offer_id: str
    agent_id: str
    hostname: str
    step: str
    action: str
    task_id: str
    attempt: int
    persona: str
    params: Mapping = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunClusterAction(_Json):
    """Run cluster action ``action`` (gateway-reachable, protection-domain, storage-pool,
    sds-register, device, verify-agent) and answer with a ClusterActionResult for ``action_id``."""
    action_id: str
    step: str
    action: str
    attempt: int
    params: Mapping = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeclineOffer(_Json):
    offer_id: str
    refuse_seconds: float


@dataclass(frozen=True, slots=True)
class Suppress(_Json):
    """No host step is waiting for an offer: suppress offers."""


@dataclass(frozen=True, slots=True)
class Revive(_Json):
    """Some host step waits for an offer: revive offers."""


@dataclass(frozen=True, slots=True)
class KillTask(_Json):
    task_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CancelAction(_Json):
    """Stop cluster action ``action_id`` if it still runs (timed out, restarted, force-completed);
    the engine ignores its result from now on either way."""
    action_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScheduleWakeup(_Json):
    """Send a Tick at (or soon after) ``at``. Replaces any earlier wake-up request."""
    at: float


@dataclass(frozen=True, slots=True)
class RestartAgent(_Json):
    """Restart the Mesos agent process (``kind`` "agent") or reboot the host ("reboot") for
    ``step``; then send AgentAdded when the agent is back (its agent ID may be new)."""
    agent_id: str
    hostname: str
    kind: str
    step: str


Decision = (LaunchHostStep | RunClusterAction | CancelAction | DeclineOffer | Suppress | Revive | KillTask
            | ScheduleWakeup | RestartAgent)
