"""Plan and node JSON in the dcos-commons shape, plus our per-step details.

Plan: ``{"phases": [...], "strategy", "errors": [...], "status"}``; phase: ``{"id", "name",
"steps", "strategy", "status"}``; step: ``{"id", "name", "message", "status"}`` (SDK fields) plus
``attempts``, ``started``, ``finished`` (epoch seconds or null), ``reason`` (last failure),
``kind`` (host|cluster) and ``agent`` (hostname or null). Messages say why a step waits.
"""
from __future__ import annotations

from .model import CLUSTER, HOST, Phase, Step, element_id, phase_id
from .status import Status, aggregate, display_status

__all__ = ["plan_json", "step_json", "plan_status", "health", "metrics", "HEALTH_CODES", "phase_status", "step_status", "step_message", "phase_id",
           "nodes_json", "node_json", "http_status"]


def step_status(step: Step) -> Status:
    return display_status(step.state, step.is_interrupted())


def phase_status(phase: Phase) -> Status:
    interrupted = phase.interrupted or phase.plan.interrupted
    if interrupted or any(s.interrupted for s in phase.steps if s.state is not Status.COMPLETE):
        counts: dict = {}
        for s in phase.steps:
            st = step_status(s)
            counts[st] = counts.get(st, 0) + 1
        return aggregate(counts, interrupted)
    return aggregate(phase.counts, False)


def plan_status(engine, name: str = "deploy") -> Status:
    plan = engine.plans[name]
    if plan.errors:
        return Status.ERROR
    counts: dict = {}
    for ph in plan.phases:
        st = phase_status(ph)
        counts[st] = counts.get(st, 0) + 1
    return aggregate(counts, plan.interrupted)


def http_status(status: Status) -> int:
    """The SDK's answer code for GET /v1/plans/<plan>: 200 complete, 417 errors, 202 otherwise."""
    return 200 if status is Status.COMPLETE else 417 if status is Status.ERROR else 202


def step_message(engine, step: Step) -> str:
    """Why the step is where it is, in words."""
    st = step.state
    if step.is_interrupted() and st in (Status.PENDING, Status.PREPARED, Status.DELAYED):
        return "interrupted by the operator: continue the plan, phase or step to proceed"
    if st is Status.PENDING:
        if step.host is None and step.kind == HOST:
            return engine.mdm_waiting or "waiting for the MDM agents to be chosen"
        waiting = [r.name for r in step.requires if r.state is not Status.COMPLETE]
        if waiting:
            more = f" and {len(waiting) - 2} more" if len(waiting) > 2 else ""
            return f"waiting for {', '.join(waiting[:2])}{more}"
        node = engine.nodes.get(step.host) if step.host else None
        if node is not None and not node.present:
            return step.message or f"waiting for agent {step.host} to return"
        return step.message
    if st is Status.PREPARED:
        if step.kind == CLUSTER:
            return "ready to run in the scheduler"
        node = engine.nodes[step.host]
        if node.restarting:
            return f"waiting for agent {step.host} to finish restarting"
        if node.running is not None:
            return f"waiting for {node.running.name} to finish on agent {step.host}"
        return f"waiting for an offer from agent {step.host}"
    if st is Status.STARTING and not step.message:
        return "task launched" if step.kind == HOST else "running in the scheduler"
    if st is Status.STARTED and not step.message:
        return f"running on agent {step.host}"
    return step.message


def step_json(engine, step: Step) -> dict:
    """One step as in the plan JSON."""
    return {"id": element_id(step.key), "name": step.name, "message": step_message(engine, step),
            "status": step_status(step).value, "kind": step.kind, "agent": step.host,
            "attempts": step.attempts, "started": step.started, "finished": step.finished,
            "reason": step.reason or None}


def plan_json(engine, name: str = "deploy") -> dict:
    """GET /v1/plans/<name>. Raises KeyError for an unknown plan."""
    plan = engine.plans[name]
    phases = [{"id": phase_id(ph), "name": ph.name, "steps": [step_json(engine, s) for s in ph.steps],
               "strategy": ph.strategy.value, "status": phase_status(ph).value} for ph in plan.phases]
    return {"phases": phases, "strategy": plan.strategy.value, "errors": list(plan.errors),
            "status": plan_status(engine, name).value}


def node_json(engine, hostname: str) -> dict:
    """GET /v1/nodes/<node>: identity, persona, steps and devices of one node. KeyError if unknown."""
    node = engine.nodes[hostname]
    info = node.info
    persona = ([f"mdm-{_role(node)}"] if node.mdm_slot else []) \
        + (["gateway"] if node.mdm_slot else []) + (["sds"] if node.sds else []) + ["sdc"]
    devices = []
    for path, spec in node.devices.items():
        step = node.steps["device:" + path]
        status = step_status(step)
        state = "added" if status is Status.COMPLETE else "failed" if status is Status.ERROR else "pending"
        devices.append({"path": path, "protection_domain": spec.protection_domain, "storage_pool": spec.storage_pool,
                        "source": spec.source, "state": state, "status": status.value, "reason": step.reason or None})
    devices += [{"path": p, "state": "refused", "reason": r} for p, r in sorted(node.refused.items())]
    return {"hostname": node.hostname, "agent_id": info.agent_id, "ip": info.ip, "present": node.present,
            "public": info.public, "os_family": node.os_family or None, "mdm_slot": node.mdm_slot or None,
            "persona": persona, "restarting": node.restarting,
            "steps": [step_json(engine, s) for s in sorted(node.steps.values(), key=lambda s: s.order)],
            "devices": devices}


def _role(node) -> str:
    return node.mdm_slot.split("-", 1)[0]


def nodes_json(engine) -> list[dict]:
    return [node_json(engine, h) for h in engine.nodes]


# SDK HealthResource codes (dcos-ecosystem.md 5.3). Marathon counts 200-399 as healthy.
HEALTH_CODES = {"RUNNING": 200, "DEPLOYING_PENDING": 204, "DEPLOYING_STARTING": 202, "DEGRADED": 206,
                "DEPLOYING_WAITING_USER": 207, "DELAYED": 208, "ERROR_CREATING_SERVICE": 500}


def health(engine) -> dict:
    """``GET /v1/health``: ``{"value": name, "code": http code, "reasons": [...]}``.

    Bad options -> ERROR_CREATING_SERVICE (500) with one reason per field; steps in ERROR ->
    DEGRADED (206) naming them; then by the deploy plan's status: COMPLETE -> RUNNING,
    WAITING -> DEPLOYING_WAITING_USER, DELAYED -> DELAYED, PENDING -> DEPLOYING_PENDING,
    anything running -> DEPLOYING_STARTING.
    """
    plan = engine.plan
    if plan.errors:
        return _health("ERROR_CREATING_SERVICE", list(plan.errors))
    failed = [s for ph in plan.phases if ph.counts.get(Status.ERROR) for s in ph.steps if s.state is Status.ERROR]
    if failed:
        return _health("DEGRADED", [f"{s.name}: {s.reason}" for s in failed[:20]]
                       + ([f"... and {len(failed) - 20} more"] if len(failed) > 20 else []))
    status = plan_status(engine)
    name = {Status.COMPLETE: "RUNNING", Status.WAITING: "DEPLOYING_WAITING_USER", Status.DELAYED: "DELAYED",
            Status.PENDING: "DEPLOYING_PENDING"}.get(status, "DEPLOYING_STARTING")
    return _health(name, [] if name == "RUNNING" else [f"deploy plan is {status.value}"])


def _health(name, reasons):
    return {"value": name, "code": HEALTH_CODES[name], "reasons": reasons}


def metrics(engine) -> dict:
    """Counters for ``/v1/metrics``: steps by raw status, attempts beyond the first, nodes by state."""
    steps: dict = {}
    for ph in engine.plan.phases:
        for st, n in ph.counts.items():
            if n:
                steps[st.value] = steps.get(st.value, 0) + n
    retries = sum(max(0, s.attempts - 1) for s in engine.steps.values())
    nodes = {"present": 0, "absent": 0, "restarting": 0}
    for node in engine.nodes.values():
        nodes["restarting" if node.restarting else "present" if node.present else "absent"] += 1
    return {"steps_by_status": steps, "retries": retries, "nodes": nodes, "ignored_agents": len(engine.ignored),
            "offers_wanted": engine.wants_offers, "running_host_steps": engine.running_hosts}
