"""``make demo``: bring up the sandbox world and show what the product sees in it.

What it does, in order (each part is the real thing, talking over real sockets):

1. builds the artifact mirror (ScaleIO, REX-Ray, dvdcli packages and isolator modules, each with a
   sha256) and serves it on loopback;
2. starts the Mesos emulator with N agents of both OS families, each an isolated host (its own
   127.x address, hostname and copy-on-write root) provisioned with the host toolchain and attached
   to the ScaleIO world;
3. asks every agent, from inside its own root, what it is (``/etc/os-release``, ``uname -r``,
   ``lsblk``);
4. validates operator options that point at the mirror and feeds the Mesos master's agents to the
   pure plan engine, then prints the deploy plan it would run, step by step;
5. brings up a pre-built ScaleIO system (3-node MDM cluster + gateway) and reads its summary through
   the product's gateway adapter (PyPowerFlex over verified TLS);
6. shuts everything down (``--keep`` leaves it running until Ctrl-C and prints how to reach it).

The scheduler and executor that run the plan for real come with the framework issue; until then this
demo shows the world and the plan, and says so.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

ADMIN_PASSWORD = "Demo-Passw0rd"   # a sandbox-only password for a throwaway world
FAMILIES = ("ubuntu", "rhel")
KERNELS = {"ubuntu": "4.15.0-20-generic", "rhel": "3.10.0-1160.el7.x86_64"}   # both have a scini module
DISKS = ({"name": "sdb", "size_gb": 200, "fs": None}, {"name": "sdc", "size_gb": 100, "fs": None},
         {"name": "sdd", "size_gb": 50, "fs": "xfs"})


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m dcos_scaleio.sandbox demo", description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=5, help="private agents (alternating Ubuntu and RHEL)")
    p.add_argument("--state-dir", default=None, help="where the world lives (default: a temp dir, removed after)")
    p.add_argument("--keep", action="store_true", help="leave the world running until Ctrl-C")
    return p.parse_args(argv)


class World:
    """The sandbox pieces the demo starts, stopped in reverse order by :meth:`stop`."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.mirror = None
        self.catalog = {}
        self.mesos = None
        self.scaleio = None

    def start_mirror(self):
        from dcos_scaleio.sandbox.mirror import Mirror
        from dcos_scaleio.sandbox.scaleio.packages import build_all
        mirror_dir = os.path.join(self.state_dir, "mirror")
        os.makedirs(mirror_dir, exist_ok=True)
        self.catalog = build_all(mirror_dir)
        self.mirror = Mirror(mirror_dir)
        self.mirror.start()

    def start_mesos(self, count: int):
        from dcos_scaleio.sandbox.mesos import AgentSpec, MesosCluster
        sio_dir = os.path.join(self.state_dir, "scaleio")
        os.makedirs(sio_dir, exist_ok=True)
        specs = [AgentSpec(f"agent-{i + 1}", attributes={"rack": f"r{i % 2 + 1}"},
                           shared_dirs=(sio_dir,)) for i in range(count)]
        self.mesos = MesosCluster(os.path.join(self.state_dir, "mesos"), specs, heartbeat_interval=5,
                                  allocation_interval=0.5)
        self.mesos.start()

    def provision_agents(self):
        """Turn each Mesos agent's root into a host of one OS family, attached to the ScaleIO world."""
        from dcos_scaleio.sandbox.scaleio.hostside_agents import prepare_host
        sio_dir = os.path.join(self.state_dir, "scaleio")
        for i, agent in enumerate(self.mesos.agents.values()):
            family = FAMILIES[i % 2]
            prepare_host(agent.root, sio_dir, os_family=family, kernel=KERNELS[family], disks=DISKS)

    def start_scaleio(self):
        from dcos_scaleio.sandbox.scaleio.prebuilt import ExistingCluster
        self.scaleio = ExistingCluster(os.path.join(self.state_dir, "scaleio-existing"), ip_prefix="127.0.10",
                                       password=ADMIN_PASSWORD)
        self.scaleio.start()

    def stop(self):
        for part in (self.scaleio, self.mesos, self.mirror):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest; say what failed
                    print(f"warning: stopping {type(part).__name__} failed: {exc}", file=sys.stderr)


def describe_agents(console: Console, world: World) -> list[dict]:
    """Ask each agent from inside its own root what it is; print a table; return the facts."""
    table = Table(title="Mesos agents, each an isolated host (facts read from inside each agent)")
    for col in ("agent", "agent id", "address", "OS", "kernel", "disks (lsblk)"):
        table.add_column(col)
    facts = []
    for agent in world.mesos.agents.values():
        os_release = dict(line.split("=", 1) for line in (agent.root.read_text("/etc/os-release") or "").splitlines()
                          if "=" in line)
        kernel = agent.root.run(["uname", "-r"], timeout=30).stdout.strip()
        lsblk = agent.root.run(["lsblk", "-b", "-d", "-n", "-o", "NAME,SIZE,FSTYPE"], timeout=30).stdout
        disks = []
        for line in lsblk.splitlines():
            parts = line.split()
            if parts:
                fs = parts[2] if len(parts) > 2 else "empty"
                disks.append(f"{parts[0]} {int(parts[1]) // 2**30}G {fs}")
        pretty = os_release.get("PRETTY_NAME", "?").strip('"')
        short_id = (agent.agent_id or "-").rsplit("-", 1)[-1]
        table.add_row(agent.name, short_id, agent.ip, pretty, kernel, "\n".join(disks))
        facts.append({"name": agent.name, "agent_id": agent.agent_id, "ip": agent.ip, "hostname": agent.hostname})
    console.print(table)
    return facts


def demo_options(world: World) -> dict:
    """Operator options for provision mode, with every artifact URL and sha256 from the mirror."""
    artifacts = {}
    for key, filename in world.catalog.items():
        parts = key.split("/")
        if parts[0] == "scaleio" and parts[1].startswith("3.0"):
            family, component = parts[2], parts[3]
        elif parts[0] in ("rexray", "dvdcli"):
            family, component = parts[2], parts[0]
        else:
            continue
        artifacts.setdefault(family, {})[component] = {"url": world.mirror.url_for(filename),
                                                       "sha256": world.mirror.sha256(filename)}
    return {"scaleio": {"admin_password": ADMIN_PASSWORD, "mode": "provision"},
            "agents": {"flavour": "mesos"}, "devices": {"discovery": {"enabled": True}},
            "artifacts": artifacts}


def show_plan(console: Console, world: World, agents: list[dict]) -> None:
    from dcos_scaleio.options import validate
    from rich.markup import escape

    from dcos_scaleio.plan import AgentInfo, AgentsListed, Engine, plan_json
    result = validate(demo_options(world))
    if not result.ok:
        for err in result.errors:
            console.print(f"[red]option error[/red] {err.path}: {err.message}")
        raise SystemExit(1)
    for warning in getattr(result, "warnings", ()):
        console.print(f"[yellow]warning[/yellow] {warning}")
    engine = Engine(result.options)
    engine.resume(0.0)
    engine.handle(AgentsListed(0.0, tuple(AgentInfo(a["agent_id"], a["hostname"], a["ip"]) for a in agents)))
    plan = plan_json(engine)
    tree = Tree(f"[bold]deploy plan[/bold] ({plan['strategy']}): {plan['status']}")
    for phase in plan["phases"]:
        branch = tree.add(f"[bold]{escape(phase['name'])}[/bold] ({phase['strategy']}): {phase['status']}")
        for step in phase["steps"]:
            message = escape(step.get("message") or "")
            branch.add(f"{escape(step['name'])}: {step['status']}" + (f" [dim]- {message}[/dim]" if message else ""))
    console.print(tree)
    console.print("[dim]The plan engine decided this from the agents alone; the scheduler that runs it "
                  "comes with the framework issue.[/dim]")


def show_scaleio(console: Console, world: World) -> None:
    from dcos_scaleio.framework.cluster import Gateway, GatewayConfig, cluster_summary
    gw = Gateway(GatewayConfig(world.scaleio.gateway.url, ADMIN_PASSWORD, ca_path=world.scaleio.gateway.ca_path))
    summary = cluster_summary(gw)
    console.print_json(json.dumps(summary))


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Wide enough for the tables when output is not a terminal (CI logs, `make demo | tee`).
    console = Console(width=None if sys.stdout.isatty() else 120)
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="scaleio-demo-")
    world = World(state_dir)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    started = time.monotonic()
    try:
        with console.status("building the artifact mirror (ScaleIO, REX-Ray, dvdcli, isolator)..."):
            world.start_mirror()
        console.print(f"mirror: {world.mirror.url} ({len(world.catalog)} artifacts with sha256)")
        with console.status(f"starting Mesos with {args.agents} isolated agents..."):
            world.start_mesos(args.agents)
            world.provision_agents()
        console.print(f"Mesos master: {world.mesos.master_address}  control API: {world.mesos.control.url}")
        agents = describe_agents(console, world)
        show_plan(console, world, agents)
        with console.status("starting a pre-built ScaleIO system (3-node MDM cluster + gateway)..."):
            world.start_scaleio()
        console.print(f"ScaleIO gateway: {world.scaleio.gateway.url} (TLS verified against {world.scaleio.gateway.ca_path})")
        show_scaleio(console, world)
        console.print(f"[green]demo world up in {time.monotonic() - started:.0f} s[/green]")
        if args.keep:
            console.print(f"left running; state in {state_dir}. Mesos master {world.mesos.master_address}; "
                          "Ctrl-C stops everything.")
            while not stop.wait(1.0):
                pass
    finally:
        with console.status("stopping everything..."):
            world.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if args.state_dir is None and not args.keep:
            import shutil
            shutil.rmtree(state_dir, ignore_errors=True)
    console.print("stopped; nothing left running")
    return 0
