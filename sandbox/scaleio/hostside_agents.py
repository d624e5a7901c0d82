"""Agent roots prepared for the ScaleIO host side (tests, demos, the Mesos emulator's agents).

``make_agent`` builds an isolated agent root (sandbox.agentroot), provisions the generic host
toolchain (sandbox.hosts) for an OS family, names its address in ``/etc/sandbox/agent.json``,
attaches it to a ScaleIO system (``/etc/sandbox/scaleio.json``), shares the system's state dir and
the package dir into it, starts and boots it::

    root = make_agent(base, "agent-1", "127.0.70.1", sio_state_dir, os_family="rhel", share=[pkgdir])
    run(root, ["rpm", "-Uvh", f"{pkgdir}/EMC-ScaleIO-sds-....rpm"])
    root.destroy()
"""
from __future__ import annotations

import json
import subprocess

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.agentroot import AgentRoot, default_env
from dcos_scaleio.sandbox.scaleio.hostside import AGENT_FILE, attach_agent

DEFAULT_DISKS = ({"name": "sdb", "size_gb": 100, "fs": None}, {"name": "sdc", "size_gb": 100, "fs": "ext4"})


def prepare_host(root: AgentRoot, sio_state_dir, *, os_family: str = "ubuntu", kernel: str | None = None,
                 disks=DEFAULT_DISKS, flavour: str = "mesos") -> None:
    """Make a running agent root (e.g. a Mesos emulator agent's, whose shared dirs include
    ``sio_state_dir``) a ScaleIO-world host of ``os_family``: provision the host toolchain, attach it to
    the system, add DC/OS's bundled storage on DC/OS agents, and boot. Raises RuntimeError naming the
    units that failed to start."""
    kwargs = {"kernel": kernel} if kernel else {}
    hosts.provision(root, os_family=os_family, disks=list(disks), flavour=flavour, **kwargs)
    attach_agent(root, sio_state_dir)
    if flavour == "dcos":
        from dcos_scaleio.sandbox.scaleio.packages import install_dcos_bundled_storage
        install_dcos_bundled_storage(root)
    failed = hosts.boot(root)
    if failed:
        raise RuntimeError(f"agent {root.name} booted with failed units: {failed}")


def make_agent(base_dir, name: str, ip: str, sio_state_dir, *, os_family: str = "ubuntu",
               kernel: str | None = None, disks=DEFAULT_DISKS, flavour: str = "mesos", share=(),
               control_url: str | None = None) -> AgentRoot:
    """A new agent root named ``name`` at ``ip``, started and made a host by :func:`prepare_host`."""
    root = AgentRoot(base_dir, name, hostname=name, shared_dirs=[str(sio_state_dir), *map(str, share)])
    root.write_text(AGENT_FILE, json.dumps({"name": name, "hostname": name, "ip": ip,
                                            "control_url": control_url}) + "\n")
    root.start()
    try:
        prepare_host(root, sio_state_dir, os_family=os_family, kernel=kernel, disks=disks, flavour=flavour)
    except BaseException:
        root.destroy()   # never leave a half-made agent's processes behind
        raise
    return root


def run(root: AgentRoot, argv, *, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``argv`` inside the agent with its default environment plus ``env``."""
    full = default_env()
    full.update(env or {})
    return root.run(list(argv), env=full, timeout=timeout)
