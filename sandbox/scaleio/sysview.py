"""The host side's view of the shared ScaleIO system: small queries over ``system.System`` and the
host-side fault names.

Faults the host side honours (armed with ``System.set_fault(name, **params)``):

- ``"mdm_unreachable"``: params ``ip`` (one MDM IP) or ``ips`` (a list); none = every MDM. The
  ``mdm`` daemons of those IPs close their ports 9011/6611 (connected SDCs drop), and ``scli``
  cannot reach them.
- ``"slow_command"``: params ``tool`` (``scli``, ``drv_cfg``, ``rexray`` volume commands), optional
  ``command`` (e.g. ``"add_sds"``), ``seconds``. Matching invocations sleep first.

Other faults are host facts rather than system state: a disk that carries data is a disk with a
filesystem in the agent's disk table (the ``sds`` daemon publishes it with ``has_data``); a kernel
without a ``scini`` module is the agent's configured kernel; a reboot is ``AgentRoot.reboot()``.
"""
from __future__ import annotations

import time

from dcos_scaleio.sandbox.scaleio import hostside
from dcos_scaleio.sandbox.scaleio.errors import NotFound

MDM_UNREACHABLE = "mdm_unreachable"
SLOW_COMMAND = "slow_command"


_OPEN: dict[tuple, object] = {}


def open_system(host: hostside.Host, program: str):
    """This process's handle on the host's system (one per state dir and program, reused).

    One handle per process on purpose: every handle keeps SQLite connections whose file locks are
    per process, so short-lived extra handles in a long-running process (the rexray service rescans
    on every mount) would only add churn.
    """
    from dcos_scaleio.sandbox.scaleio.system import System
    key = (host.state_dir, program)
    if key not in _OPEN:
        _OPEN[key] = System.open(host.state_dir, actor=host.actor(program))
    return _OPEN[key]


def mdm_unreachable(system, ip: str) -> bool:
    params = system.peek_fault(MDM_UNREACHABLE)
    if params is None:
        return False
    if "ip" in params:
        return params["ip"] == ip
    if "ips" in params:
        return ip in params["ips"]
    return True


def apply_slow_command(system, tool: str, command: str | None) -> None:
    """Sleep as the ``slow_command`` fault says, if it matches this invocation."""
    params = system.peek_fault(SLOW_COMMAND)
    if not params or params.get("tool", tool) != tool:
        return
    if params.get("command") and params["command"] != command:
        return
    time.sleep(min(float(params.get("seconds", 1.0)), 120.0))


def slow_command_on_host(host: hostside.Host, tool: str, command: str | None) -> None:
    """The ``slow_command`` fault for tools that do not otherwise open the system (drv_cfg, rexray)."""
    try:
        system = open_system(host, tool)
    except hostside.HostError:
        return
    apply_slow_command(system, tool, command)


def member(cluster, ip: str):
    """The cluster's MDM record having ``ip``, or None."""
    for m in cluster.members:
        if ip in m.ips or ip in m.management_ips:
            return m
    return None


def find_sdc(system, guid: str):
    try:
        return system.sdc(guid=guid.upper())
    except NotFound:
        return None


def volumes_mapped_to(system, sdc_id: str) -> list[str]:
    return [v.id for v in system.volumes(sdc_id=sdc_id)]


class SystemView:
    """What an MDM service asks of the system."""

    def __init__(self, system):
        self.system = system

    def is_member(self, ip: str) -> bool:
        """Active (non-standby) manager member: it serves SDCs and management."""
        cluster = self.system.cluster()
        m = member(cluster, ip) if cluster.created else None
        return m is not None and m.status in ("master", "slave")

    def system_id(self) -> str | None:
        return self.system.cluster().system_id

    def mdm_unreachable(self, ip: str) -> bool:
        return mdm_unreachable(self.system, ip)

    def sdc_connected(self, guid: str, ip: str) -> None:
        self.system.register_sdc(guid, ip)

    def sdc_disconnected(self, guid: str) -> None:
        self.system.disconnect_sdc(guid=guid.upper())
