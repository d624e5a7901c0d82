"""A dry run of the deploy plan: what would run where, with which parameters, for given options and
agents. Nothing is executed or stored (``GET|POST /v1/preview`` builds on it and adds the executor's
commands for each host step)."""
from __future__ import annotations

from .engine import Engine
from .events import AgentsListed
from .model import HOST
from .render import plan_json

__all__ = ["preview"]


def preview(options, agents, now: float = 0.0, os_family: str = "") -> dict:
    """``{"plan": <plan JSON>, "steps": [{"step", "name", "phase", "kind", "action", "agent",
    "requires", "params"}], "ignored": {hostname: why}}`` for these options and agents.

    ``os_family`` (rhel/ubuntu) may be given to show package parameters; the real family is only
    known once an agent's deps step has reported it.
    """
    eng = Engine(options)
    eng.resume(now)
    eng.handle(AgentsListed(now, tuple(agents)))
    if os_family:
        for node in eng.nodes.values():
            node.os_family = os_family
    steps = []
    for phase in eng.plan.phases:
        for step in phase.steps:
            node = eng.nodes.get(step.host) if step.host else None
            if step.kind == HOST:
                params = eng._host_params(step, node) if node is not None else {}
            else:
                params = eng._cluster_params(step)
            steps.append({"step": step.key, "name": step.name, "phase": phase.name, "kind": step.kind,
                          "action": step.action, "agent": step.host, "requires": [r.name for r in step.requires],
                          "params": params})
    return {"plan": plan_json(eng), "steps": steps, "ignored": dict(eng.ignored)}
