"""The generic host toolchain of an emulated agent: OS identity, package tools, systemd, disks, kernel.

``provision(root, ...)`` turns an :class:`~dcos_scaleio.sandbox.agentroot.AgentRoot` into a fresh
Ubuntu or CentOS host (running or stopped); ``boot(root)`` does what its init does after
``root.start()``/``root.reboot()``. Everything is written into the agent, never on the machine.
"""
from __future__ import annotations

import json
import sys

from .families import (AGENT_JSON, COMMON_TOOLS, DEFAULT_KERNEL, FAMILIES, FAMILY_TOOLS, FOREIGN_PATHS, HOST_JSON,
                       MESOS_UNITS, OS_RELEASE, PKG_DB_DIR, UNIT_DIR)

# provision() imports the rest lazily: the fake tools import this package on every call, inside agents.

__all__ = ["provision", "boot", "MESOS_UNITS", "AGENT_JSON", "HOST_JSON"]

MESOS_AGENT_CTL = "/usr/lib/sandbox/mesos-agent-ctl"
FLAVOURS = ("mesos", "dcos")
_RELEASE_FILES = {
    "ubuntu": {"/etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=16.04\nDISTRIB_CODENAME=xenial\n"
                                   "DISTRIB_DESCRIPTION=\"Ubuntu 16.04.7 LTS\"\n",
               "/etc/debian_version": "stretch/sid\n"},
    "rhel": {"/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n",
             "/etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n"},
}


def _mesos_unit(flavour: str) -> tuple[str, str]:
    """(in-agent path, text) of the Mesos agent unit for the flavour."""
    name = MESOS_UNITS[flavour]
    if flavour == "dcos":
        # All optional here: the Mesos emulator owns the flag files and writes them when it starts the agent.
        env_files = ("EnvironmentFile=-/opt/mesosphere/environment\n"
                     "EnvironmentFile=-/opt/mesosphere/etc/mesos-slave-common\n"
                     "EnvironmentFile=-/opt/mesosphere/etc/mesos-slave-common-extras\n"
                     "EnvironmentFile=-/var/lib/dcos/mesos-slave-common\n"
                     "EnvironmentFile=-/var/lib/dcos/mesos-resources\n"
                     "EnvironmentFile=-/run/dcos/etc/mesos-slave\n")
        path, desc = f"/etc/systemd/system/{name}.service", "Mesos Agent: distributed systems kernel agent"
    else:
        env_files = "EnvironmentFile=-/etc/default/mesos-slave\n"
        path, desc = None, "Mesos Slave"
    text = (f"[Unit]\nDescription={desc}\nAfter=network.target\nWants=network.target\n\n"
            f"[Service]\nType=oneshot\nRemainAfterExit=yes\n{env_files}"
            f"ExecStart={MESOS_AGENT_CTL} start\nExecStop={MESOS_AGENT_CTL} stop\n"
            f"# Sandbox extension: restart asks the Mesos emulator to restart this agent.\n"
            f"X-SandboxExecRestart={MESOS_AGENT_CTL} restart\n\n"
            f"[Install]\nWantedBy=multi-user.target\n")
    return path, text


def provision(root, *, os_family: str = "ubuntu", kernel: str = DEFAULT_KERNEL, disks=(),
              flavour: str = "mesos", system_disk: bool = True) -> None:
    """Make ``root`` a fresh host of ``os_family`` with the generic tools, disks and Mesos agent unit.

    Writes no Mesos flag files (/etc/mesos-slave/*, /opt/mesosphere/etc/*, /var/lib/dcos/*): the Mesos
    emulator owns those and writes them when it first starts the agent.

    Works on a running or a stopped AgentRoot. Hides the machine's own unit files, package database
    and the other family's tools inside the agent. Re-provisioning resets the package database, the
    unit directories and the disk table.
    """
    from . import disks as _disks
    from .pkgdb import initial_db, render_dpkg_status
    from .tools import install_tool
    if os_family not in FAMILIES:
        raise ValueError(f"os_family must be one of {FAMILIES}")
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}")
    if not kernel or "/" in kernel or any(c.isspace() for c in kernel):
        raise ValueError(f"bad kernel release: {kernel!r}")
    for path in FOREIGN_PATHS[os_family]:
        root.remove(path)
    root.write_text("/etc/os-release", OS_RELEASE[os_family])
    for path, text in _RELEASE_FILES[os_family].items():
        root.write_text(path, text)
    root.write_text(HOST_JSON, json.dumps({"os_family": os_family, "kernel": kernel, "boot_kernel": kernel,
                                           "flavour": flavour}, indent=1) + "\n")
    # A fresh host: no unit files, no package database but the family's own.
    for d in ("/etc/systemd/system", UNIT_DIR[os_family], "/usr/lib/systemd/system"):
        root.make_empty_dir(d)
    db_dir = PKG_DB_DIR[os_family]
    root.make_empty_dir(db_dir)
    pkgs = initial_db(os_family)
    root.write_text(f"{db_dir}/sandbox-db.json", json.dumps(pkgs, indent=1, sort_keys=True))
    if os_family == "ubuntu":
        root.write_text(f"{db_dir}/status", render_dpkg_status(pkgs))
        root.make_empty_dir(f"{db_dir}/info")
    root.make_empty_dir("/var/lib/sandbox")
    root.write_text(_disks.DISKS_JSON, json.dumps(_disks.make_table(list(disks), system_disk), indent=1))
    for module, paths in COMMON_TOOLS + FAMILY_TOOLS[os_family]:
        install_tool(root, module, paths)
    install_tool(root, "mesos_agent_ctl", [MESOS_AGENT_CTL])
    path, text = _mesos_unit(flavour)
    unit = MESOS_UNITS[flavour] + ".service"
    path = path or f"{UNIT_DIR[os_family]}/{unit}"
    root.write_text(path, text)
    # Enabled, as the packages/DC/OS installer leave it.
    wants = root.path(f"/etc/systemd/system/multi-user.target.wants/{unit}")
    wants.parent.mkdir(parents=True, exist_ok=True)
    wants.symlink_to(path)


def boot(root, *, timeout: float = 120) -> list[str]:
    """After ``root.start()``/``root.reboot()``: set the running kernel (the boot kernel, which a
    kernel package install may have changed), load unit files and start every enabled unit, as init
    does. Returns the units that failed to start (a boot does not stop at a failed unit).

    The Mesos agent unit is enabled, so booting POSTs ``{control_url}/agents/{name}/start`` to the
    Mesos emulator (if agent.json names one): the emulator must answer that idempotently and must not
    call boot() while holding a lock its control handler needs."""
    code = ("import json, sys\nfrom dcos_scaleio.sandbox.hosts.systemd import boot\n"
            "print(json.dumps(boot()))\n")
    res = root.run([sys.executable, "-c", code], timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"boot of {root.name} failed: {res.stderr.strip()[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])
