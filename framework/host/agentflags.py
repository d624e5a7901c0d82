"""The Mesos agent's flags where they live on the host (scaleio-commands.md 7.3).

- Plain Mesos (Mesosphere packages): one file per flag, ``/etc/mesos-slave/<flag>``.
- DC/OS: ``MESOS_<FLAG>=value`` lines; the installer's ``/opt/mesosphere/etc/mesos-slave-common``
  is read first and the operator's ``/var/lib/dcos/mesos-slave-common`` wins. We only ever write
  the latter (``/opt/mesosphere/etc`` is replaced on upgrade).

:meth:`AgentFlags.get` is the effective value; :meth:`AgentFlags.own` is the value in the place
we write (what must be recorded before a change so uninstall can restore it exactly).
"""
from __future__ import annotations

import json
import urllib.request

from .hostcmd import Host

PLAIN_DIR = "/etc/mesos-slave"
DCOS_BASE = "/opt/mesosphere/etc/mesos-slave-common"
DCOS_OVERRIDE = "/var/lib/dcos/mesos-slave-common"
AGENT_UNIT = {"mesos": "mesos-slave", "dcos": "dcos-mesos-slave"}
DEFAULT_ISOLATION = "posix/cpu,posix/mem"


def _env_lines(text: str | None) -> dict:
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.startswith("MESOS_"):
            out[key[6:].lower()] = value.strip().strip("\"'")
    return out


class AgentFlags:
    def __init__(self, host: Host, flavour: str):
        self.host, self.flavour = host, flavour

    def own(self, flag: str) -> str | None:
        if self.flavour == "dcos":
            return _env_lines(self.host.read_text(DCOS_OVERRIDE)).get(flag)
        text = self.host.read_text(f"{PLAIN_DIR}/{flag}")
        return None if text is None else text.strip()

    def get(self, flag: str) -> str | None:
        if self.flavour == "dcos":
            own = self.own(flag)
            return own if own is not None else _env_lines(self.host.read_text(DCOS_BASE)).get(flag)
        return self.own(flag)

    def set(self, flag: str, value: str | None) -> bool:
        """Set (or with None remove) ``flag`` where we write. Returns True if anything changed."""
        if self.own(flag) == value:
            return False
        if self.flavour != "dcos":
            path = f"{PLAIN_DIR}/{flag}"
            if value is None:
                return self.host.remove(path)
            return self.host.write_text(path, value + "\n", 0o644)
        key = f"MESOS_{flag.upper()}"
        lines = [ln for ln in (self.host.read_text(DCOS_OVERRIDE) or "").splitlines()
                 if ln.strip().partition("=")[0] != key]
        if value is not None:
            lines.append(f"{key}={value}")
        return self.host.write_text(DCOS_OVERRIDE, "".join(ln + "\n" for ln in lines), 0o644)

    def isolation(self) -> list:
        return [i.strip() for i in (self.get("isolation") or DEFAULT_ISOLATION).split(",") if i.strip()]

    def running_flags(self, timeout_s: float = 3.0) -> dict | None:
        """The flags of the running agent from its ``/flags`` endpoint, or None if unreachable."""
        ip = self.get("ip") or "127.0.0.1"
        port = self.get("port") or "5051"
        if not port.isdigit() or not all(p.isdigit() for p in ip.split(".")):
            return None
        try:
            with urllib.request.urlopen(f"http://{ip}:{port}/flags", timeout=timeout_s) as resp:
                return json.loads(resp.read().decode()).get("flags") or {}
        except (OSError, ValueError):
            return None
