"""Running ``scli`` and reading its state (scaleio-commands.md section 3).

scli keeps one login session per Unix user, so calls are serialised with an exclusive lock on
``/var/lock/dcos-scaleio-scli.lock`` (as swisscom's ``scli_wrap.sh`` does with flock). State is
always read with ``--query_cluster`` before acting; exit codes are only hints.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
from dataclasses import dataclass, field

from ..hostcmd import CommandError, CommandResult, Host

LOCK = "/var/lock/dcos-scaleio-scli.lock"
NO_CLUSTER = ("not attached to a system", "state is incorrect")
SECTIONS = {"Master MDM:": "master", "Slave MDMs:": "slaves", "Tie-Breakers:": "tiebreakers",
            "Standby MDMs:": "standbys"}


@contextlib.contextmanager
def locked():
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    with open(LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def scli(host: Host, *args: str, timeout: float = 120) -> CommandResult:
    return host.run(["scli", *args], timeout=timeout)


@dataclass
class ClusterState:
    attached: bool
    mode: str = ""
    name: str = ""
    system_id: str = ""
    members: dict = field(default_factory=dict)   # section -> [{"name", "ips"}]

    def section_of(self, ip: str) -> str | None:
        for section, items in self.members.items():
            if any(ip in m["ips"] for m in items):
                return section
        return None

    def names(self, section: str) -> list:
        return [m["name"] for m in self.members.get(section, [])]


def parse_cluster(text: str) -> ClusterState:
    state = ClusterState(attached=True, members={s: [] for s in SECTIONS.values()})
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if raw and not raw[0].isspace():
            section = SECTIONS.get(line, "cluster" if line == "Cluster:" else None)
            continue
        if section == "cluster":
            if m := re.search(r"\bMode: ([0-9a-z_]+)", line):
                state.mode = m.group(1)
            if m := re.match(r"Name: ([^,]+),", line):
                state.name = m.group(1).strip()
            if m := re.search(r"\bID: ([0-9a-fA-Fx]+)", line):
                state.system_id = m.group(1).removeprefix("0x")
        elif section in state.members:
            if m := re.match(r"Name: ([^,]+),", line):
                state.members[section].append({"name": m.group(1).strip(), "ips": []})
            elif line.startswith("IPs:") and state.members[section]:
                ips = re.match(r"IPs: (.*?)(, Management IPs:|, Port:|$)", line).group(1)
                state.members[section][-1]["ips"] = [p.strip() for p in ips.split(",") if p.strip()]
    return state


def query_cluster(host: Host) -> ClusterState:
    """The cluster as this host's MDM sees it; ``attached=False`` when there is none yet."""
    r = scli(host, "--query_cluster", "--approve_certificate")
    if r.ok:
        return parse_cluster(r.out)
    if any(s in r.text for s in NO_CLUSTER):
        return ClusterState(attached=False)
    raise CommandError(host.failure(r, "scli --query_cluster"), r.rc)
