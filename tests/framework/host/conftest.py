"""Fixtures for the host-step tests: a ScaleIO world (system state dir, package mirror) and isolated
agent roots provisioned with the generic host toolchain, in which the step runner runs for real.

Only the sandbox's emulators stand in for real hosts: the steps run as
``python -m dcos_scaleio.framework.host.run <step>`` inside the agent root (nsenter + chroot), and
call the agent's own dpkg/rpm/apt-get/yum/systemctl/scli/drv_cfg/rexray/dvdcli.
"""
import concurrent.futures
import functools
import itertools
import json
import os
import signal
import sys
import time

import pytest

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.agentroot import AgentRoot, default_env
from dcos_scaleio.sandbox.mesos import flags as mflags, resources as mres
from dcos_scaleio.sandbox.mirror import Mirror
from dcos_scaleio.sandbox.scaleio import packages
from dcos_scaleio.sandbox.scaleio.hostside import AGENT_FILE, attach_agent
from dcos_scaleio.sandbox.scaleio.system import System

VERSION = "3.0-200.104"
MESOS = "1.0.1"
PASSWORD = "Sandbox-Pw-7741"
RUNNER = [sys.executable, "-m", "dcos_scaleio.framework.host.run"]
# Loopback block of this test process (other folders use 127.100-199.x).
OCTET2 = 20 + os.getpid() % 50
# A DC/OS agent from before docker/volume was on by default.
OLD_DCOS_ISOLATION = "cgroups/cpu,cgroups/mem,disk/du,filesystem/linux,docker/runtime"


def parallel(*calls):
    """Run independent calls ``(fn, *args)`` at once (steps on different agents); results in order."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(*c) for c in calls]]


class Agent:
    """An agent root plus helpers to run host steps in it."""

    def __init__(self, root: AgentRoot, name: str, ip: str, family: str, flavour: str):
        self.root, self.name, self.ip, self.family, self.flavour = root, name, ip, family, flavour

    def runner_env(self) -> dict:
        """What the runner inherits from the executor on a real agent, including the agent's endpoint:
        steps find this host's own listeners by it (other worlds' gateways share port 8443 in the
        sandbox's network namespace, e.g. on another pytest worker)."""
        return {**default_env(), "MESOS_AGENT_ENDPOINT": f"{self.ip}:5051"}

    def start_step(self, step: str, params: dict, secrets: dict | None = None):
        """Start the runner for ``step`` in the background (to crash it mid-way)."""
        import subprocess
        proc = self.root.popen(RUNNER + [step], env=self.runner_env(), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdin.write(json.dumps({**params, **({"secrets": secrets} if secrets else {})}).encode())
        proc.stdin.close()
        proc.stdin = None
        return proc

    def step(self, step: str, params: dict, secrets: dict | None = None, timeout: float = 120) -> dict:
        body = dict(params)
        if secrets:
            body["secrets"] = secrets
        res = self.root.run(RUNNER + [step], env=self.runner_env(), input=json.dumps(body), timeout=timeout)
        lines = res.stdout.strip().splitlines()
        assert lines, f"runner printed nothing (rc {res.returncode}): {res.stderr[-3000:]}"
        result = json.loads(lines[-1])
        if os.environ.get("HOSTSTEP_TRACE"):
            with open(os.environ["HOSTSTEP_TRACE"], "a") as fh:
                fh.write(json.dumps({"agent": self.name, **result}) + "\n")
        result["_rc"] = res.returncode
        result["_stderr"] = res.stderr
        return result

    def sh(self, *argv, env=None, timeout=60):
        full = default_env()
        full.update(env or {})
        return self.root.run(list(argv), env=full, timeout=timeout)

    def read(self, path):
        return self.root.read_text(path)

    def active(self, unit) -> bool:
        return self.sh("systemctl", "is-active", unit).stdout.strip() == "active"


class World:
    def __init__(self, base, pkgdir, catalog, mirror, state, system):
        self.base, self.pkgdir, self.catalog, self.mirror = base, pkgdir, catalog, mirror
        self.state, self.system = state, system
        self.agents: list[Agent] = []
        self._numbers = itertools.count(1)   # next() is atomic: agents are built from several threads

    def artifact(self, key: str) -> dict:
        name = self.catalog[key]
        return {"url": self.mirror.url_for(name), "sha256": self.mirror.sha256(name)}

    def packages(self, family: str, *components) -> dict:
        out = {}
        for comp in components:
            if comp == "rexray":
                key = f"rexray/{packages.REXRAY_VERSIONS[0]}/{family}"
            elif comp == "dvdcli":
                key = f"dvdcli/{packages.DVDCLI_VERSIONS[0]}/{family}"
            else:
                key = f"scaleio/{VERSION}/{family}/{comp}"
            out[comp] = self.artifact(key)
        return out

    def agent(self, name: str, family: str, *, flavour: str = "mesos", kernel: str | None = None,
              isolation: str | None = None,
              disks=({"name": "sdb", "size_gb": 100, "fs": None}, {"name": "sdc", "size_gb": 100, "fs": "ext4"})):
        ip = f"127.{OCTET2}.77.{next(self._numbers)}"
        root = AgentRoot(self.base / "agents", name, hostname=name, shared_dirs=[str(self.state)])
        kwargs = {"kernel": kernel} if kernel else {}
        hosts.provision(root, os_family=family, disks=list(disks), flavour=flavour, **kwargs)
        root.write_text(AGENT_FILE, json.dumps({"name": name, "hostname": name, "ip": ip,
                                                "control_url": None}) + "\n")
        attach_agent(root, self.state)
        # The agent's flags as the Mesos emulator installs them (plain: /etc/mesos-slave/*, DC/OS: env files).
        work_dir = "/var/lib/mesos/slave" if flavour == "dcos" else "/var/lib/mesos"
        mflags.write_flags(root, flavour, mflags.default_flags(
            ip=ip, hostname=name, port=5051, work_dir=work_dir, resources=mres.parse_flag("cpus:2;mem:2048"),
            attributes=[], role="*", flavour=flavour,
            isolation=isolation or (None if flavour == "dcos" else "cgroups/cpu,cgroups/mem")))
        if flavour == "dcos":
            packages.install_dcos_bundled_storage(root)
        agent = Agent(root, name, ip, family, flavour)
        self.agents.append(agent)
        root.start()
        failed = hosts.boot(root)
        assert not failed, failed
        return agent

    def mixed_agents(self, ubuntu: str, rhel: str, dcos: str) -> tuple[Agent, Agent, Agent]:
        """Three agents built at once: Ubuntu and CentOS on plain Mesos, and Ubuntu on a DC/OS from
        before docker/volume was on by default."""
        return tuple(parallel((self.agent, ubuntu, "ubuntu"), (self.agent, rhel, "rhel"),
                              (functools.partial(self.agent, flavour="dcos", isolation=OLD_DCOS_ISOLATION),
                               dcos, "ubuntu")))

    def close(self):
        for a in self.agents:
            try:
                a.root.kill_all(signal.SIGTERM)
            except Exception:
                pass
            a.root.destroy()
        self.mirror.stop()
        self.system.close()


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostworld")
    pkgdir = base / "pkgs"
    catalog = packages.build_all(pkgdir, scaleio_versions=(VERSION,), mesos_versions=(MESOS,))
    mirror = Mirror(pkgdir).start()
    state = base / "sio"
    state.mkdir(mode=0o700)
    system = System.open(state, actor="test")
    w = World(base, pkgdir, catalog, mirror, state, system)
    yield w
    w.close()


def wait_for(predicate, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
