"""A new host joins a running sandbox: provision an agent, attach it to the ScaleIO world, boot it.

    from dcos_scaleio.sandbox.join import join_agent
    info = join_agent(up, os_family="rhel")     # up: a started SandboxUp
    # {"name", "ip", "hostname", "os", "agent_id"}

Like a real host being added to a cluster, the agent only gets offers once it is a complete host:
the Mesos emulator's allocation is paused while the new agent registers and its root is
provisioned (host toolchain, disks, the ScaleIO world attached, units booted), then resumed. The
framework may learn about the agent (operator stream) before that, but cannot launch anything on
it until the host is ready. Offers to the other agents are only delayed, never lost.
"""
from __future__ import annotations

from .demo import DISKS, KERNELS

__all__ = ["join_agent"]


def join_agent(up, *, os_family: str | None = None, name: str | None = None, disks=DISKS,
               attributes: dict | None = None, kernel: str | None = None, packages=()) -> dict:
    """Add one agent to ``up`` (a started :class:`~.up.SandboxUp`) and make it a ScaleIO host of
    ``os_family`` (default: what ``--os`` would give the next agent) running ``kernel`` (default: one
    the SDC supports), with the OS ``packages`` (e.g. ``kernel-<release>``) installed before it gets
    offers. Returns its description, in the shape of ``up.info["agents"]`` entries plus ``agent_id``;
    ``up.info["agents"]`` is extended."""
    from .mesos import AgentSpec
    from .scaleio.hostside_agents import prepare_host
    world = up.world
    if world is None or world.mesos is None:
        raise RuntimeError("the sandbox is not running")
    mesos = world.mesos
    index = len(mesos.agents)
    family = os_family or world.family(index)
    if family not in KERNELS:
        raise ValueError(f"os_family must be one of {sorted(KERNELS)}")
    name = name or f"agent-{index + 1}"
    spec = AgentSpec(name, attributes=attributes if attributes is not None else {"rack": f"r{index % 2 + 1}"},
                     shared_dirs=(world.sio_dir,))
    mesos.pause_allocation(True)
    try:
        mesos.add_agent(spec)
        agent = mesos.agents[name]
        try:
            prepare_host(agent.root, world.sio_dir, os_family=family, kernel=kernel or KERNELS[family], disks=disks)
            if packages:
                argv = (["yum", "-y", "install"] if family == "rhel" else ["apt-get", "install", "-y"]) + list(packages)
                res = agent.root.run(argv, timeout=120)
                if res.returncode != 0:
                    raise RuntimeError(f"installing {' '.join(packages)} on {name} failed: {res.stderr[-1000:]}")
        except BaseException:
            mesos.remove_agent(name)      # never leave a half-made host registered
            raise
        world.families[name] = family
    finally:
        mesos.pause_allocation(False)
    desc = {"name": name, "ip": agent.ip, "hostname": agent.hostname, "os": family}
    if up.info:
        up.info.setdefault("agents", []).append(dict(desc))
    return {**desc, "agent_id": agent.agent_id}
