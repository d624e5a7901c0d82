"""``make demo``: the product as a DC/OS user meets it, in the sandbox, in one command.

What it does, in order (each part is the real thing, talking over real sockets):

1. brings up the sandbox as a DC/OS cluster (``sandbox up --dcos``): the artifact mirror, ZooKeeper,
   Mesos with N agents of both OS families (each an isolated host with its own 127.x address,
   hostname and copy-on-write root) attached to the ScaleIO world, and the DC/OS front: IAM, the
   Admin Router (HTTPS), Marathon and Cosmos;
2. installs the ``dcos scaleio`` CLI from its shipped zip, as ``dcos package install --cli`` would,
   and runs ``dcos scaleio install`` through it: the CLI validates the options, publishes the package
   it carries (a repository app in Marathon, added to Cosmos), installs it through Cosmos, and shows
   live progress per phase and agent until the deploy plan is COMPLETE;
3. adds a device (``dcos scaleio add-device``) and follows the plan again;
4. runs a Mesos task with an external (REX-Ray) volume on an agent, writes into it and reads it back;
5. prints ``dcos scaleio status`` and the cluster's capacity (the service's ``/v1/cluster``);
6. uninstalls (``dcos scaleio uninstall``: Cosmos's SDK uninstall, followed by the CLI) and shuts
   everything down. ``--keep`` leaves it all running until Ctrl-C and prints how to reach it
   (``DCOS_URL``, a token, the CA, example commands).

``--classic`` runs the earlier demo instead (the world, the plan the engine would run, a pre-built
ScaleIO system), which needs no artifact build.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
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
    p.add_argument("--classic", action="store_true",
                   help="the earlier demo: the world and the plan the engine would run (no install)")
    p.add_argument("--timeout", type=float, default=1500.0,
                   help="seconds the install (and each later wait) may take at most")
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


def classic(args) -> int:
    """The earlier demo: the world, the engine's plan, a pre-built ScaleIO system."""
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


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.classic:
        return classic(args)
    return DcosDemo(args).run()


# ---------------------------------------------------------------------------------------------------
# The DC/OS demo: sandbox up --dcos, the real CLI binary, Cosmos, Marathon, a volume task.

SERVICE = "scaleio"
DEMO_VOLUME = "demo-vol"
# Install with one disk per agent (sdb), so that adding sdc later shows the day-2 path.
INSTALL_OVERRIDES = {"devices": {"discovery": {"enabled": True, "allow": ["sdb"]}},
                     "service": {"step_timeout_s": 300}}


class DcosDemo:
    """One run of the DC/OS demo; every part it starts is stopped by :meth:`stop`."""

    def __init__(self, args):
        self.args = args
        self.console = Console(width=None if sys.stdout.isatty() else 120, highlight=False)
        self.state_dir = args.state_dir or tempfile.mkdtemp(prefix="scaleio-demo-")
        self.up = None
        self.cli = None
        self.env: dict = {}
        self.started = time.monotonic()
        self.interrupted = threading.Event()   # set by SIGINT/SIGTERM

    # ------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        self.console.print(f"\n[bold cyan]==> {text}[/bold cyan] [dim]({time.monotonic() - self.started:.0f} s)[/dim]")

    def dcos(self, *argv, check: bool = True, timeout: float | None = None) -> int:
        """Run ``dcos scaleio <argv>`` (the real binary) with its output on this terminal."""
        from rich.markup import escape
        self.console.print(f"[bold]$ dcos scaleio {escape(' '.join(argv))}[/bold]")
        sys.stdout.flush()
        proc = subprocess.Popen([str(self.cli), SERVICE, *argv], env=self.env)
        deadline = time.monotonic() + (timeout or self.args.timeout)
        while proc.poll() is None:
            if self.interrupted.is_set() or time.monotonic() > deadline:
                proc.send_signal(signal.SIGINT)   # what Ctrl-C would send it
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                raise DemoFailed("interrupted" if self.interrupted.is_set() else f"`dcos scaleio {argv[0]}` timed out")
            time.sleep(0.2)
        if check and proc.returncode != 0:
            raise DemoFailed(f"`dcos scaleio {' '.join(argv)}` exited {proc.returncode}")
        return proc.returncode

    def get(self, path: str):
        """``GET <dcos_url><path>`` as the logged-in user (through the Admin Router); the JSON answer."""
        import requests
        info = self.up.info
        r = requests.get(f"{info['dcos_url']}{path}", timeout=30, verify=info["dcos_ca_path"],
                         headers={"Authorization": f"token={info['dcos_acs_token']}"})
        r.raise_for_status()
        return r.json()

    # ------------------------------------------------------------------ parts
    def bring_up(self) -> None:
        from .up import SandboxUp
        self.say(f"bringing up the sandbox as a DC/OS cluster: {self.args.agents} agents (Ubuntu and RHEL), "
                 "ZooKeeper, Admin Router, Marathon, Cosmos")
        self.console.print("[dim]the first run builds the scheduler, executor and CLI artifacts (PyInstaller): "
                           "a few minutes; later runs reuse them[/dim]")
        self.up = SandboxUp(self.args.agents, mode="provision", os_choice="mixed", dcos=True,
                            state_dir=self.state_dir, ready_timeout=self.args.timeout)
        with self.console.status("starting..."):
            self.up.start()
        info = self.up.info
        table = Table(title="the cluster")
        for col in ("agent", "address", "hostname", "OS"):
            table.add_column(col)
        for a in info["agents"]:
            table.add_row(a["name"], a["ip"], a["hostname"], a["os"] or "?")
        self.console.print(table)
        self.console.print(f"DC/OS URL {info['dcos_url']}  (Marathon at /service/marathon, Cosmos at /package)")

    def install_cli(self) -> None:
        """Unpack the shipped CLI zip as the DC/OS CLI does (``<plugin>/env/bin/dcos-scaleio``) and
        serve it beside the other artifacts (the package's resource.json names it)."""
        import shutil

        from .up import install_cli_plugin
        self.say("installing the dcos scaleio CLI from its zip (what `dcos package install scaleio --cli` does)")
        env_dir = pathlib.Path(self.state_dir) / "dcos-cli" / "subcommands" / SERVICE / "env"
        with self.console.status("building (or reusing) the CLI binary..."):
            built = install_cli_plugin(env_dir)
        framework = self.up.world.mirror.directory / "framework"
        for item in (built["zip"], built["zip"].with_name(built["zip"].name + ".sha256")):
            shutil.copyfile(item, framework / item.name)
        self.cli = built["binary"]
        home = pathlib.Path(self.state_dir) / "home"
        home.mkdir(exist_ok=True)
        info = self.up.info
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DCOS_")}
        self.env.update({"HOME": str(home), "DCOS_URL": info["dcos_url"], "DCOS_ACS_TOKEN": info["dcos_acs_token"],
                         "DCOS_TLS_CA_PATH": info["dcos_ca_path"]})
        self.console.print(f"{self.cli} (sha256 {built['sha256'][:16]}...)")

    def install(self) -> None:
        from .up import deep_merge, write_private_json
        options = deep_merge(json.loads(pathlib.Path(self.up.info["options_file"]).read_text()), INSTALL_OVERRIDES)
        # The gateways the framework installs get certificates from the ScaleIO world's CA.
        options["scaleio"].setdefault("gateway", {}).setdefault("ca_file", str(pathlib.Path(self.up.world.sio_dir) / "tls" / "ca.pem"))
        path = pathlib.Path(self.state_dir) / "install-options.json"
        write_private_json(path, options)   # it holds the admin password
        self.say("dcos scaleio install: validate, publish the package, install through Cosmos, follow the plan")
        self.dcos("install", f"--options={path}", "--yes", f"--artifacts-url={self.up.info['artifacts_url']}",
                  f"--timeout={self.args.timeout:.0f}")

    def add_device(self) -> str:
        host = self.up.info["agents"][0]["hostname"]
        self.say(f"day 2: adding /dev/sdc of {host} to the storage pool")
        self.dcos("add-device", host, "/dev/sdc")
        self.dcos("status", "--watch", f"--timeout={self.args.timeout:.0f}")
        return host

    def volume_task(self, host: str) -> None:
        from .workload import run_volume_task
        self.say(f"a Mesos task on {host} with an external volume '{DEMO_VOLUME}' (REX-Ray on ScaleIO)")
        command = "date > data/written-at && echo 'hello from a ScaleIO volume' > data/hello && cat data/hello && df -h data | tail -1"
        self.console.print(f"[bold]task:[/bold] {command}")
        with self.console.status("running the task..."):
            result = run_volume_task(self.up.info["master"], host, DEMO_VOLUME, command, timeout=180)
        colour = "green" if result.state == "TASK_FINISHED" else "red"
        self.console.print(f"[{colour}]{result.state}[/{colour}] {result.message or ''}")
        self.console.print(result.stdout.rstrip() or "(no output)")
        if result.state != "TASK_FINISHED":
            raise DemoFailed(f"the volume task ended {result.state}: {result.stderr[-500:]}")

    def status(self) -> None:
        self.say("dcos scaleio status, and the cluster's capacity")
        self.dcos("status")
        cluster = self.get(f"/service/{SERVICE}/v1/cluster")
        table = Table(title="ScaleIO capacity (GET /service/scaleio/v1/cluster)")
        for col in ("protection domain", "storage pool", "SDSs", "capacity"):
            table.add_column(col)
        for pd in cluster.get("protection_domains", []):
            for pool in pd.get("storage_pools", []):
                table.add_row(str(pd.get("name")), str(pool.get("name")), str(pd.get("sds")), _capacity(pool.get("capacity")))
        self.console.print(table)
        self.console.print(f"total: {_capacity(cluster.get('capacity'))}; volumes: {cluster.get('volumes')}; "
                           f"health: {(cluster.get('health') or {}).get('status')}")

    def uninstall(self) -> None:
        self.say("dcos scaleio uninstall (default level: the framework goes, ScaleIO and its volumes stay)")
        self.dcos("uninstall", "--yes", f"--timeout={self.args.timeout:.0f}")

    def after_uninstall(self, host: str) -> None:
        """The default uninstall leaves ScaleIO working: the volume still holds what the task wrote."""
        from .workload import run_volume_task
        self.say(f"after the uninstall: the framework is gone, the volume '{DEMO_VOLUME}' is still there")
        info = self.up.info
        frameworks = self.get("/mesos/master/frameworks")
        registered = [f["name"] + ("" if f.get("active") else " (inactive)") for f in frameworks.get("frameworks", [])]
        self.console.print(f"frameworks registered at the Mesos master: {', '.join(registered) or 'none'}")
        with self.console.status("reading the volume from a new task..."):
            result = run_volume_task(info["master"], host, DEMO_VOLUME, "cat data/hello data/written-at", timeout=180)
        self.console.print(f"{result.state}: {result.stdout.rstrip()}")
        if result.state != "TASK_FINISHED":
            raise DemoFailed(f"the volume is not readable after the uninstall: {result.stderr[-500:]}")

    def keep(self, stop: threading.Event) -> None:
        info = self.up.info
        self.console.print(f"""
[bold green]left running[/bold green]; state in {self.state_dir}. Reach it with:

  export DCOS_URL={info['dcos_url']}
  export DCOS_ACS_TOKEN={info['dcos_acs_token']}
  export DCOS_TLS_CA_PATH={info['dcos_ca_path']}
  {self.cli} scaleio status            # the DC/OS CLI would run it as `dcos scaleio status`
  {self.cli} scaleio nodes
  {self.cli} scaleio plan show deploy
  curl --cacert $DCOS_TLS_CA_PATH -H "Authorization: token=$DCOS_ACS_TOKEN" $DCOS_URL/service/scaleio/v1/cluster
  curl --cacert $DCOS_TLS_CA_PATH -H "Authorization: token=$DCOS_ACS_TOKEN" $DCOS_URL/service/marathon/v2/apps

Users: {', '.join(f'{u} / {p}' for u, p in info['users'].items())} (POST $DCOS_URL/acs/api/v1/auth/login).
Ctrl-C stops everything.""", soft_wrap=True)   # no wrapping: the lines are meant to be copied
        while not stop.wait(1.0):
            pass

    def stop(self) -> None:
        if self.up is not None:
            with self.console.status("stopping everything..."):
                self.up.stop()
            self.up = None

    def run(self) -> int:
        stop = self.interrupted
        previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
        code = 0
        try:
            self.bring_up()
            self.install_cli()
            self.install()
            host = self.add_device()
            self.volume_task(host)
            self.status()
            if self.args.keep:
                self.keep(stop)
            else:
                self.uninstall()
                self.after_uninstall(host)
            self.say("done")
        except DemoFailed as exc:
            self.console.print(f"[bold red]demo failed:[/bold red] {exc}")
            code = 1
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
            if self.args.state_dir is None:   # a temp dir (it holds the admin password): gone once stopped
                import shutil
                shutil.rmtree(self.state_dir, ignore_errors=True)
        self.console.print(f"stopped; nothing left running ({time.monotonic() - self.started:.0f} s in all)")
        return code


class DemoFailed(Exception):
    pass


def _capacity(cap) -> str:
    """``{"total_bytes", "used_bytes", ...}`` or kB keys, as a short human string."""
    if not isinstance(cap, dict):
        return "?"
    parts = []
    for key, value in cap.items():
        if isinstance(value, (int, float)):
            if key.endswith("_kb"):
                value, key = value * 1024, key[:-3]
            elif key.endswith("_bytes"):
                key = key[:-6]
            else:
                parts.append(f"{key} {value}")
                continue
            parts.append(f"{key} {value / 2**30:.0f} GiB")
    return ", ".join(parts) or "?"
