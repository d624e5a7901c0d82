"""The Mesos agent unit ordered after REX-Ray, by a systemd drop-in of ours.

Why: the volume isolator (``docker/volume`` with its checkpoint on disk, or the DVDI module)
unmounts the volumes of containers lost in a crash or reboot when the agent starts, through
``dvdcli unmount`` -> REX-Ray's socket. An agent that comes up before REX-Ray fails that cleanup
("volume driver 'rexray' not found") and keeps the volumes until its next restart.

- The drop-in is ``/etc/systemd/system/<agent unit>.service.d/dcos-scaleio-rexray.conf`` with
  ``Wants=`` + ``After=`` the REX-Ray unit (``rexray.service``, DC/OS ``dcos-rexray.service``).
  Units are only ever the fixed names below, so every path is one of :data:`DROP_INS`.
- It takes effect at the agent's next start: writing it costs a ``systemctl daemon-reload``,
  never an agent restart.
- Ours is recognised by its first line (:data:`MARKER`); :func:`remove` never touches anything else.
"""
from __future__ import annotations

from .hostcmd import Host
from .services import daemon_reload

AGENT_UNITS = ("mesos-slave", "dcos-mesos-slave", "dcos-mesos-slave-public")
REXRAY_UNITS = ("rexray", "dcos-rexray")
DROP_INS = {unit: f"/etc/systemd/system/{unit}.service.d/dcos-scaleio-rexray.conf" for unit in AGENT_UNITS}
MARKER = "# Managed by dcos-scaleio:"


def _units(agent_unit: str, rexray_unit: str) -> None:
    if agent_unit not in AGENT_UNITS or rexray_unit not in REXRAY_UNITS:
        raise ValueError(f"not an agent/REX-Ray unit pair we manage: {agent_unit!r}, {rexray_unit!r}")


def text(rexray_unit: str) -> str:
    """The drop-in's content for ``rexray_unit``."""
    if rexray_unit not in REXRAY_UNITS:
        raise ValueError(f"not a REX-Ray unit: {rexray_unit!r}")
    return (f"{MARKER} the volume isolator unmounts orphaned volumes when the agent starts,\n"
            f"# which needs REX-Ray's socket: start the agent after REX-Ray.\n"
            f"[Unit]\nWants={rexray_unit}.service\nAfter={rexray_unit}.service\n")


def is_ours(content: str | None) -> bool:
    return content is not None and content.startswith(MARKER)


def systemd_orders(host: Host, agent_unit: str, rexray_unit: str) -> bool:
    """Whether systemd's loaded view of the agent unit has ``After=`` the REX-Ray unit.

    An agent unit systemd does not know (``LoadState`` other than loaded) has nothing to order:
    systemd reads the drop-in whenever it loads the unit.
    """
    _units(agent_unit, rexray_unit)
    r = host.run(["systemctl", "show", "-p", "LoadState", "-p", "After", f"{agent_unit}.service"], timeout=60)
    props = dict(line.partition("=")[::2] for line in r.out.splitlines() if "=" in line)
    if props.get("LoadState", "").strip() != "loaded":
        return True
    return f"{rexray_unit}.service" in props.get("After", "").split()


def in_place(host: Host, agent_unit: str, rexray_unit: str) -> bool:
    """The drop-in is on disk as wanted and systemd has loaded it."""
    _units(agent_unit, rexray_unit)
    return host.read_text(DROP_INS[agent_unit]) == text(rexray_unit) and systemd_orders(host, agent_unit, rexray_unit)


def ensure(host: Host, ctx, agent_unit: str, rexray_unit: str) -> None:
    """Write the drop-in if missing or different, then ``daemon-reload`` (also when only the reload
    was missing, e.g. after a crash between the two). Never restarts the agent."""
    if in_place(host, agent_unit, rexray_unit):
        return
    path = DROP_INS[agent_unit]
    if host.write_text(path, text(rexray_unit), 0o644):
        ctx.changed(f"ordered {agent_unit} after {rexray_unit} ({path})")
    else:
        ctx.changed(f"systemctl daemon-reload: systemd had not loaded {path}")
    daemon_reload(host)


def ours(host: Host) -> list[str]:
    """Our drop-ins present on this host (any agent unit)."""
    return [path for path in DROP_INS.values() if is_ours(host.read_text(path))]


def remove(host: Host, ctx) -> None:
    """Remove our drop-ins (only files carrying :data:`MARKER`), then ``daemon-reload`` once."""
    removed = [path for path in ours(host) if host.remove(path)]
    for path in removed:
        ctx.changed(f"removed {path}")
    if removed:
        daemon_reload(host)
