"""Mesos JSON in and out: FrameworkInfo, ExecutorInfo and TaskInfo built for pymesos (plain dicts),
agents read from offers and from the operator API, TaskStatus turned into engine events.

Pure functions, no I/O. Shapes follow the v1 protobufs (see shared reference mesos-http-api.md §1.6);
ID objects stay minimal (``{"value": ...}``) because pymesos and executors compare them exactly.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
import urllib.parse
from typing import Mapping

from dcos_scaleio.options import patterns
from dcos_scaleio.plan import AgentInfo, TaskStatusUpdate

__all__ = ["TWO_WEEKS_S", "PUBLIC_ROLE", "framework_info", "executor_id", "executor_info", "task_info",
           "agent_from_offer", "agent_from_operator", "status_event", "decode_result", "offer_role",
           "EXECUTOR_TERMINATED_REASONS", "SECRET_STEPS", "is_public", "framework_roles"]

TWO_WEEKS_S = 14 * 24 * 3600.0
PUBLIC_ROLE = "slave_public"
EXECUTOR_PREFIX = "scaleio-executor"
# Host steps that need the admin password (cluster-create logs in and sets it; the gateway and
# REX-Ray configurations carry it). The executor fetches it from /v1/executor/secrets.
SECRET_STEPS = frozenset({"cluster-create", "gateway", "rexray", "uninstall-gateway", "uninstall-mdm"})
# Reasons saying the executor itself is gone: the next launch needs a new executor ID.
EXECUTOR_TERMINATED_REASONS = frozenset({
    "REASON_EXECUTOR_TERMINATED", "REASON_EXECUTOR_REGISTRATION_TIMEOUT", "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
    "REASON_EXECUTOR_UNREGISTERED", "REASON_CONTAINER_LAUNCH_FAILED", "REASON_CONTAINER_LIMITATION",
    "REASON_CONTAINER_LIMITATION_MEMORY", "REASON_AGENT_RESTARTED", "REASON_GC_ERROR"})
TASK_CPUS, TASK_MEM = 0.01, 16.0
_PID_IP = re.compile(r"@([0-9.]+):\d+$")


def framework_info(options, *, framework_id: str | None = None, hostname: str = "") -> dict:
    """The FrameworkInfo to subscribe with: name = service name, role ``<name>-role`` (plus
    ``slave_public`` with MULTI_ROLE when public agents are selected), principal, checkpointing,
    a two-week failover timeout, PARTITION_AWARE. ``framework_id`` re-registers."""
    svc = options.service
    caps = [{"type": "PARTITION_AWARE"}]
    info = {"user": svc.user, "name": svc.name.strip("/"), "principal": svc.mesos_principal, "checkpoint": True,
            "failover_timeout": TWO_WEEKS_S}
    if options.agents.include_public:
        info["roles"] = [svc.mesos_role, PUBLIC_ROLE]
        caps.append({"type": "MULTI_ROLE"})
    else:
        info["role"] = svc.mesos_role
    info["capabilities"] = caps
    if hostname:
        info["hostname"] = hostname
    if framework_id:
        info["id"] = {"value": framework_id}
    return info


def framework_roles(info: Mapping) -> list[str]:
    return list(info.get("roles") or [info["role"]])


def executor_id(hostname: str, generation: int) -> str:
    return f"{EXECUTOR_PREFIX}__{hostname}__{generation}"


def executor_info(eid: str, *, persona: str, options, artifact_url: str, dev_python: str,
                  scheduler_url: str, token: str, role: str = "*", allocation_role: str | None = None) -> dict:
    """The agent's executor per the scheduler-executor contract: the PyInstaller artifact fetched
    through ``command.uris`` (extracted), or in dev mode ``<python> -m dcos_scaleio.framework.executor``;
    persona-sized resources; the scheduler URL and this executor's token in its environment."""
    ex = options.service.executor
    cpus, mem = (ex.mdm_cpus, ex.mdm_mem) if persona == "mdm" else (ex.data_cpus, ex.data_mem)
    sha256 = options.artifacts.executor.sha256 if artifact_url == options.artifacts.executor.url else ""
    if artifact_url and patterns.SHA256.match(sha256 or ""):
        # The archive is checked before anything in it runs (as the Marathon template does for the
        # scheduler): fetched as is, sha256sum -c, then unpacked.
        name = artifact_basename(artifact_url)
        check = f"printf '%s  %s\\n' {sha256} {shlex.quote(name)} | sha256sum -c - >&2"
        command = {"value": f"{check} && tar -xzf {shlex.quote(name)} && exec ./dcos-scaleio-executor", "shell": True,
                   "uris": [{"value": artifact_url, "extract": False, "executable": False, "cache": False}]}
    elif artifact_url:
        command = {"value": "exec ./dcos-scaleio-executor", "shell": True,
                   "uris": [{"value": artifact_url, "extract": True, "executable": False, "cache": False}]}
    else:
        command = {"value": f"exec {shlex.quote(dev_python)} -m dcos_scaleio.framework.executor", "shell": True}
    command["environment"] = {"variables": [{"name": "SCALEIO_SCHEDULER_URL", "value": scheduler_url},
                                            {"name": "SCALEIO_EXECUTOR_TOKEN", "value": token}]}
    return {"executor_id": {"value": eid}, "type": "CUSTOM",
            "name": f"ScaleIO executor ({persona})", "command": command,
            "resources": _resources(cpus, mem, role, allocation_role)}


_ARCHIVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(tar\.gz|tgz)$")


def artifact_basename(url: str) -> str:
    """The file name the Mesos fetcher gives ``url`` (its path's last segment); ValueError unless it
    is a plain ``.tar.gz``/``.tgz`` name (it reaches a shell command)."""
    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
    if not _ARCHIVE_NAME.match(name):
        raise ValueError(f"the executor artifact URL must end in a plain .tar.gz file name, not {name!r}")
    return name


def _resources(cpus: float, mem: float, role: str, allocation_role: str | None) -> list[dict]:
    out = []
    for name, value in (("cpus", float(cpus)), ("mem", float(mem))):
        r = {"name": name, "type": "SCALAR", "scalar": {"value": value}, "role": role}
        if allocation_role:
            r["allocation_info"] = {"role": allocation_role}
        out.append(r)
    return out


def task_info(launch, agent_id: str, executor: dict, *, role: str = "*", allocation_role: str | None = None) -> dict:
    """TaskInfo for an engine ``LaunchHostStep``: tiny resources (the executor holds the rest) and
    ``data`` = base64 JSON {"step", "params", "secrets"} -- secret *names* only, never values."""
    payload = {"step": launch.action, "params": dict(launch.params),
               "secrets": ["admin_password"] if launch.action in SECRET_STEPS else []}
    data = base64.b64encode(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).decode()
    return {"name": f"{launch.action}:{launch.hostname}", "task_id": {"value": launch.task_id},
            "agent_id": {"value": agent_id}, "executor": executor, "data": data,
            "resources": _resources(TASK_CPUS, TASK_MEM, role, allocation_role),
            "labels": {"labels": [{"key": "step", "value": launch.step}, {"key": "attempt", "value": str(launch.attempt)}]}}


def offer_role(offer: Mapping) -> tuple[str, str | None]:
    """(resource role, allocation role or None) of an offer, to build matching task resources."""
    alloc = (offer.get("allocation_info") or {}).get("role")
    for r in offer.get("resources") or ():
        if r.get("name") == "cpus":
            return r.get("role") or "*", alloc or (r.get("allocation_info") or {}).get("role")
    return "*", alloc


def _attributes(attrs) -> dict:
    out = {}
    for a in attrs or ():
        kind = a.get("type")
        if kind == "TEXT":
            out[a["name"]] = str(a.get("text", {}).get("value", ""))
        elif kind == "SCALAR":
            out[a["name"]] = f"{a.get('scalar', {}).get('value', 0):g}"
        elif kind == "RANGES":
            out[a["name"]] = ",".join(f"[{r['begin']}-{r['end']}]" for r in a.get("ranges", {}).get("range", []))
        elif kind == "SET":
            out[a["name"]] = ",".join(a.get("set", {}).get("item", []))
    return out


def _scalars(resources) -> tuple[float, float]:
    cpus = mem = 0.0
    for r in resources or ():
        if r.get("type", "SCALAR") == "SCALAR":
            if r.get("name") == "cpus":
                cpus += float(r.get("scalar", {}).get("value", 0))
            elif r.get("name") == "mem":
                mem += float(r.get("scalar", {}).get("value", 0))
    return cpus, mem


def is_public(resources) -> bool:
    """Whether resources are reserved for ``slave_public`` (the agent is a public agent)."""
    for r in resources or ():
        if r.get("role") == PUBLIC_ROLE or any(x.get("role") == PUBLIC_ROLE for x in r.get("reservations") or ()):
            return True
    return False


def agent_from_offer(offer: Mapping) -> AgentInfo:
    """What an offer tells about its agent (when the operator stream has not announced it)."""
    addr = (offer.get("url") or {}).get("address") or {}
    cpus, mem = _scalars(offer.get("resources"))
    return AgentInfo(offer["agent_id"]["value"], offer.get("hostname") or addr.get("hostname", ""),
                     addr.get("ip", ""), _attributes(offer.get("attributes")), is_public(offer.get("resources")),
                     cpus, mem, "")


def agent_from_operator(agent: Mapping) -> AgentInfo:
    """An operator-API ``Agent`` (GET_AGENTS / AGENT_ADDED) as an engine AgentInfo; the IP comes
    from the agent's pid (``slave(1)@ip:port``)."""
    info = agent["agent_info"]
    m = _PID_IP.search(agent.get("pid", ""))
    ip = m.group(1) if m else ""
    resources = agent.get("total_resources") or info.get("resources")
    cpus, mem = _scalars(resources)
    return AgentInfo(info["id"]["value"], info.get("hostname", ""), ip, _attributes(info.get("attributes")),
                     is_public(resources), cpus, mem, str(agent.get("version", "")))


def decode_result(data) -> dict:
    """TaskStatus.data (base64 JSON from the executor) as a dict; anything else -> {}."""
    if not data:
        return {}
    try:
        out = json.loads(base64.b64decode(data))
    except (binascii.Error, ValueError, TypeError):
        return {}
    return out if isinstance(out, dict) else {}


def status_event(now: float, status: Mapping) -> TaskStatusUpdate:
    """A TaskStatus dict as an engine event. Every state maps through unchanged (the engine knows
    them all: running states, TASK_FINISHED, TASK_UNREACHABLE as 'lost' without an attempt, every
    other terminal state as a failed attempt); the message carries the reason when Mesos gives no text."""
    reason = status.get("reason", "") or ""
    message = status.get("message", "") or ""
    if not message and reason:
        message = reason
    return TaskStatusUpdate(now, status["task_id"]["value"], status.get("state", "TASK_UNKNOWN"), message[:500],
                            decode_result(status.get("data")), reason)
