"""``python -m dcos_scaleio.sandbox up``: the whole sandbox with the real scheduler running in it.

    python -m dcos_scaleio.sandbox up --agents N [--mode provision|existing] [--os mixed|ubuntu|rhel]
        [--store sqlite|zookeeper] [--state-dir D] [--dev-executor] [--frozen-scheduler]
        [--options FILE.json] [--dcos]

Brings up, in order: the artifact mirror (ScaleIO/REX-Ray/dvdcli packages and isolator modules, plus
the freshly built executor artifact ``framework/dcos-scaleio-executor.tar.gz``, each with a sha256);
ZooKeeper when ``--store zookeeper``; the Mesos emulator with N agents provisioned as isolated hosts
(alternating Ubuntu/RHEL for ``--os mixed``) attached to the ScaleIO world; for ``--mode existing``
a pre-built ScaleIO system (3-node MDM cluster + gateway) in that same world. It then writes the
operator options file (0600: artifact URLs + sha256 from the mirror, admin password, gateway CA in
existing mode, state store, Mesos master, merged with ``--options``) and runs the scheduler
(``python -m dcos_scaleio.framework.scheduler``) under a :class:`~.supervisor.Supervisor`, as
Marathon would: restarted whenever it dies, its current pid in ``<state_dir>/scheduler.pid``,
logs in ``<state_dir>/scheduler/stdout|stderr``. It
prints ONE JSON line once the scheduler serves ``/v1/plans/deploy``::

    {"master": "127.0.0.1:P", "control_url": ..., "scheduler_api": "http://127.0.0.1:P",
     "scheduler_pid": N, "pid_file": ".../scheduler.pid", "gateway_url": "https://..../api" | null,
     "ca_path": ".../ca.pem" | null, "admin_password": "...", "state_dir": ..., "mirror_url": ...,
     "options_file": ..., "store_url": ..., "mode": ..., "agents": [{"name", "ip", "hostname", "os"}],
     "executor_artifact": {"url", "sha256"} | null,
     "dcos_url": "https://127.0.0.1:P", "dcos_ca_path": ".../dcos/tls/ca.pem", "dcos_acs_token": "<jwt>",
     "users": {"bootstrapuser": pw, "viewer": pw}, "api_token": "...", "service_name": "scaleio"}

(``gateway_url``/``ca_path`` are null in provision mode: the framework installs the gateway.)

The DC/OS front (:mod:`.dcos`: IAM + Admin Router, HTTPS with its own sandbox CA) always runs:
``<dcos_url>/service/<service.name>/...`` reaches the scheduler, ``<dcos_url>/mesos/...`` the master;
``dcos_acs_token`` is a bootstrapuser login token. The scheduler gets ``SCALEIO_IAM_JWKS_URL``,
``SCALEIO_IAM_CA``, ``SCALEIO_API_TOKEN`` (= ``api_token``) and ``SCALEIO_API_OPERATORS=bootstrapuser``.

``--dcos``: as on a DC/OS cluster, nothing starts the scheduler by hand. ZooKeeper (the store), the
front, Marathon (``<dcos_url>/service/marathon``, also ``/marathon``) and Cosmos (``/package``,
``/cosmos``) run; the scheduler and executor artifacts are served at ``artifacts_url``
(``<mirror>/framework/<program>.tar.gz`` + ``.sha256``); the options file is what to install with
(operator options plus ``service.iam_jwks_url``/``iam_ca``/``api_operators`` for this front). The
JSON line then has ``scheduler_api``/``scheduler_pid``/``pid_file``/``api_token`` null and adds
``marathon_url`` and ``cosmos_url`` (direct, http), ``artifacts_url`` and ``scheduler_artifact``
``{"url", "sha256"}``. Marathon's tasks get this process's environment plus ``scheduler_env``
(and ``SCALEIO_DEV_EXECUTOR_PYTHON`` with ``--dev-executor``).
SIGTERM/SIGINT stops everything it started (scheduler, executors, agents and their mounts, the
ScaleIO system, ZooKeeper, the mirror). Without ``--state-dir`` a temp dir is used and removed.

The executor artifact is built by ``packaging/build_artifacts.py`` (skipped when its inputs are
unchanged). ``--dev-executor`` skips it: the options carry no executor URL and the scheduler gets
``SCALEIO_DEV_EXECUTOR_PYTHON`` so executors run ``python -m dcos_scaleio.framework.executor``.
``--frozen-scheduler`` runs the built ``dcos-scaleio-scheduler`` artifact (what Marathon runs)
instead of ``python -m dcos_scaleio.framework.scheduler``.

Python API for tests: ``with SandboxUp(agents=3, mode="existing", scheduler_env={...}) as up: up.info,
up.supervisor, up.front.mint(uid, exp=...)``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from .dcos.front import DcosFront
from .dcos.iam import BOOTSTRAP_USER
from .demo import DISKS, KERNELS, World, demo_options
from .scaleio import probe
from .scaleio.cli import admin_password
from .supervisor import Supervisor
from .zookeeper import free_port

REPO = pathlib.Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "packaging" / "build_artifacts.py"
EXECUTOR_PROGRAM = "dcos-scaleio-executor"
SCHEDULER_PROGRAM = "dcos-scaleio-scheduler"
CLI_PROGRAM = "dcos-scaleio"   # bin/<this> in the CLI zip, as resource.json names it
ARTIFACTS_DIR = "framework"   # in the mirror: the framework's artifacts, each with its .sha256
EXECUTOR_MIRROR_PATH = f"{ARTIFACTS_DIR}/{EXECUTOR_PROGRAM}.tar.gz"
OS_CHOICES = ("mixed", "ubuntu", "rhel")
SCHEDULER_MODULE = "dcos_scaleio.framework.scheduler"
DEFAULT_SERVICE_NAME = "scaleio"
EXECUTOR_MODULE = "dcos_scaleio.framework.executor"


def build_artifact(which: str = "executor", timeout: float = 900) -> dict:
    """Build (or reuse) one artifact ("executor"/"scheduler"/"cli"); ``{"path", "sha256", "built", "seconds"}``."""
    if not BUILD_SCRIPT.is_file():
        raise RuntimeError(f"{BUILD_SCRIPT} is missing (not a source checkout): use --dev-executor")
    proc = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--only", which], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"building the {which} artifact failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])[f"dcos-scaleio-{which}"]


def build_executor_artifact(timeout: float = 900) -> dict:
    return build_artifact("executor", timeout)


def unpack_scheduler(target: pathlib.Path) -> list[str]:
    """Build (or reuse) the scheduler artifact, unpack it into ``target`` as Marathon's fetcher
    would, and return the argv that runs it."""
    import tarfile
    info = build_artifact("scheduler")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(info["path"]) as tar:
        tar.extractall(target, filter="data")
    return [str(target / SCHEDULER_PROGRAM)]


def install_cli_plugin(env_dir: pathlib.Path, timeout: float = 900) -> dict:
    """Build (or reuse) the shipped CLI zip and unpack it into ``env_dir`` as the DC/OS CLI unpacks a
    plugin of kind "zip" (file modes kept: ``bin/dcos-scaleio`` is executable).
    ``{"binary", "zip", "sha256"}``: the program, the zip and its sha256."""
    import zipfile
    built = build_artifact("cli", timeout)
    zip_path = pathlib.Path(built["path"])
    with zipfile.ZipFile(zip_path) as zf:
        for member in zf.infolist():
            target = zf.extract(member, env_dir)
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
    return {"binary": pathlib.Path(env_dir) / "bin" / CLI_PROGRAM, "zip": zip_path, "sha256": built["sha256"]}


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of ``base`` with ``override`` merged in (nested dicts merged, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_private_json(path: pathlib.Path, data: dict) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte (it holds the admin password)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def free_sio_prefix() -> str:
    """A ``127.0.X`` prefix (X in 10..99) whose first MDM address is free on the MDM port."""
    for _ in range(50):
        third = random.randint(10, 99)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((f"127.0.{third}.1", probe.MDM_PORT))
            except OSError:
                continue
        return f"127.0.{third}"
    raise RuntimeError("no free 127.0.X prefix for the pre-built ScaleIO system")


class UpWorld(World):
    """The demo's world, with a chosen OS mix and, for existing mode, agents attached to the
    pre-built system (so their SDCs join it)."""

    def __init__(self, state_dir: str, os_choice: str, password: str):
        super().__init__(state_dir)
        if os_choice not in OS_CHOICES:
            raise ValueError(f"os must be one of {OS_CHOICES}")
        self.os_choice = os_choice
        self.password = password
        self.families: dict[str, str] = {}

    @property
    def sio_dir(self) -> str:
        return os.path.join(self.state_dir, "scaleio")

    def family(self, index: int) -> str:
        return ("ubuntu", "rhel")[index % 2] if self.os_choice == "mixed" else self.os_choice

    def provision_agents(self):
        from dcos_scaleio.sandbox.scaleio.hostside_agents import prepare_host
        for i, agent in enumerate(self.mesos.agents.values()):
            family = self.family(i)
            prepare_host(agent.root, self.sio_dir, os_family=family, kernel=KERNELS[family], disks=DISKS)
            self.families[agent.name] = family

    def start_scaleio(self):
        """The pre-built system, on a free ``127.0.X`` prefix: sandboxes may run side by side."""
        from dcos_scaleio.sandbox.scaleio.prebuilt import ExistingCluster
        self.scaleio = ExistingCluster(self.sio_dir, ip_prefix=free_sio_prefix(), password=self.password)
        self.scaleio.start()


class SandboxUp:
    """Everything ``up`` starts, as a context manager. ``start()`` returns once the scheduler answers.

    ``options`` are merged over the generated operator options; ``scheduler_env`` is added to the
    scheduler's environment (e.g. short reconciliation timings); ``scheduler_argv`` replaces the
    scheduler command (default ``[python, -m, dcos_scaleio.framework.scheduler]``; with
    ``frozen_scheduler`` the built ``dcos-scaleio-scheduler`` artifact, unpacked in the state dir);
    ``executor_artifact`` is a ready ``.tar.gz`` to serve instead of building one.
    """

    def __init__(self, agents: int = 3, *, mode: str = "provision", os_choice: str = "mixed",
                 store: str = "sqlite", state_dir=None, dev_executor: bool = False,
                 executor_artifact=None, options: dict | None = None, scheduler_env: dict | None = None,
                 scheduler_argv=None, frozen_scheduler: bool = False, ready_timeout: float = 90.0,
                 dcos: bool = False, scheduler_artifact=None):
        if agents < 1:
            raise ValueError("agents must be >= 1")
        if mode not in ("provision", "existing"):
            raise ValueError("mode must be provision or existing")
        if store not in ("sqlite", "zookeeper"):
            raise ValueError("store must be sqlite or zookeeper")
        if os_choice not in OS_CHOICES:
            raise ValueError(f"os must be one of {OS_CHOICES}")
        self.dcos = dcos
        if dcos:
            store = "zookeeper"   # a Marathon-launched scheduler keeps its state where DC/OS does
        self.agent_count, self.mode, self.store, self.os_choice = agents, mode, store, os_choice
        self._temp = state_dir is None
        self.state_dir = pathlib.Path(state_dir or tempfile.mkdtemp(prefix="scaleio-up-")).resolve()
        self.dev_executor = dev_executor
        self.executor_artifact = executor_artifact
        self.scheduler_artifact = scheduler_artifact
        self.scheduler_info: dict | None = None
        self.marathon = None
        self.cosmos = None
        self.options_override = options or {}
        self.scheduler_env = dict(scheduler_env or {})
        self.scheduler_argv = list(scheduler_argv or [sys.executable, "-m", SCHEDULER_MODULE])
        self.frozen_scheduler = frozen_scheduler
        self.ready_timeout = ready_timeout
        self.world: UpWorld | None = None
        self.zookeeper = None
        self.front: DcosFront | None = None   # the DC/OS front (IAM + Admin Router); .mint() for tests
        self.api_token = secrets.token_urlsafe(32)
        self.supervisor: Supervisor | None = None
        self.api_port: int | None = None
        self.executor_info: dict | None = None
        self.options_file = self.state_dir / "options.json"
        self.pid_file = self.state_dir / "scheduler.pid"
        self.info: dict = {}

    # ------------------------------------------------------------------ parts
    def _publish(self, path, program: str) -> dict:
        """Serve an artifact as ``<mirror>/framework/<program>.tar.gz`` with a ``.sha256`` beside it
        (``sha256sum`` format, as build_artifacts.py writes it); ``{"url", "sha256"}``."""
        rel = f"{ARTIFACTS_DIR}/{program}.tar.gz"
        target = self.world.mirror.directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        sha = self.world.mirror.sha256(rel)
        (target.parent / f"{target.name}.sha256").write_text(f"{sha}  {target.name}\n")
        return {"url": self.world.mirror.url_for(rel), "sha256": sha}

    def _serve_executor(self) -> None:
        if self.dev_executor:
            return
        self.executor_info = self._publish(self.executor_artifact or build_executor_artifact()["path"],
                                           EXECUTOR_PROGRAM)

    def _serve_scheduler(self) -> None:
        """(--dcos) The scheduler artifact, for the package Cosmos installs to fetch."""
        self.scheduler_info = self._publish(self.scheduler_artifact or build_artifact("scheduler")["path"],
                                            SCHEDULER_PROGRAM)

    def _store_options(self) -> dict:
        if self.store == "zookeeper":
            from .zookeeper import ZooKeeperServer
            self.zookeeper = ZooKeeperServer(base_dir=str(self.state_dir)).start()
            return {"type": "zookeeper", "zookeeper": self.zookeeper.hosts}
        return {"type": "sqlite", "sqlite_path": str(self.state_dir / "scheduler" / "state.sqlite")}

    def operator_options(self, store: dict) -> dict:
        """The options file's content (before the caller's overrides are merged in)."""
        opts = demo_options(self.world)   # provision-mode base: every package URL + sha256 from the mirror
        opts["scaleio"].update({"admin_password": self.world.password, "mode": self.mode})
        opts["service"] = {"mesos_master": self.world.mesos.master_address, "state_store": store}
        opts["agents"] = {"flavour": "mesos", "allow_restart": True}
        if self.executor_info:
            opts["artifacts"]["executor"] = dict(self.executor_info)
        if self.mode == "existing":
            sio = self.world.scaleio.info()
            opts["scaleio"]["existing"] = {
                "mdm_ips": sio["mdm_ips"], "system_id": sio["system_id"],
                "gateway_endpoint": f"https://{sio['gateway_ip']}:{sio['gateway_port']}"}
            opts["scaleio"]["gateway"] = {"ca_file": sio["ca_path"]}
        return deep_merge(opts, self.options_override)

    @property
    def service_name(self) -> str:
        """The service's name (option ``service.name``), i.e. its ``/service/<name>`` route."""
        return ((self.options_override.get("service") or {}).get("name")) or DEFAULT_SERVICE_NAME

    def _start_front(self) -> None:
        self.front = DcosFront(self.state_dir / "dcos", mesos_master=self.world.mesos.master_address).start()
        # Read on every request: the route follows the supervised scheduler wherever it serves.
        self.front.services.set(self.service_name, lambda: self.api_url if self.api_port else None)

    def front_env(self) -> dict:
        """What the scheduler needs to check credentials against this front (see the auth contract)."""
        return {"SCALEIO_IAM_JWKS_URL": self.front.jwks_url, "SCALEIO_IAM_CA": self.front.ca_path,
                "SCALEIO_API_TOKEN": self.api_token, "SCALEIO_API_OPERATORS": BOOTSTRAP_USER}

    def install_options(self, options: dict) -> dict:
        """(--dcos) The operator options plus what an install through Cosmos needs to trust this
        front: the JWKS URL, its CA and the operators (options ``service.iam_*``/``api_operators``)."""
        service = dict(options.get("service") or {})
        service.update({"iam_jwks_url": self.front.jwks_url, "iam_ca": self.front.ca_path,
                        "api_operators": [BOOTSTRAP_USER]})
        return {**options, "service": service}

    def task_env(self) -> dict:
        """(--dcos) What Marathon gives every task besides the app's env (an agent's environment)."""
        env = dict(os.environ)
        for key in ("SCALEIO_DEV_EXECUTOR_PYTHON", "SCALEIO_OPTIONS_FILE", "PORT_API", "PORT0"):
            env.pop(key, None)
        env.update({"LIBPROCESS_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"})
        if self.dev_executor:
            env["SCALEIO_DEV_EXECUTOR_PYTHON"] = sys.executable
        env.update(self.scheduler_env)
        return env

    def _start_marathon_and_cosmos(self) -> None:
        """(--dcos) Marathon (its apps' tasks under ``<state_dir>/marathon``) and, when this build has
        it, Cosmos, both behind the front."""
        from .dcos.marathon import Marathon
        self.marathon = Marathon(self.state_dir / "marathon", task_env=self.task_env()).start()
        self.front.serve_marathon(self.marathon)
        try:
            from .dcos.cosmos import Cosmos
        except ImportError:   # Cosmos is another part of the sandbox; without it, Marathon alone
            return
        self.cosmos = Cosmos(self.marathon.url, mesos_url=f"http://{self.world.mesos.master_address}").start()
        self.cosmos.mount(self.front.router)

    def relaunch_scheduler(self, env: dict | None = None) -> None:
        """Stop the scheduler and start it again (``env`` updates ``scheduler_env`` first, and the
        options file is read afresh); returns once it serves its plan. ``info`` follows it."""
        if self.dcos:
            raise RuntimeError("with dcos=True Marathon runs the scheduler")
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
        self.scheduler_env.update(env or {})
        self._start_scheduler()
        self._wait_ready()
        self.info.update(scheduler_api=self.api_url, scheduler_pid=self.supervisor.pid)

    def _start_scheduler(self) -> None:
        sandbox = self.state_dir / "scheduler"
        sandbox.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()   # fixed across restarts, as Marathon's port mapping would be
        env = dict(os.environ)
        env.update({"SCALEIO_OPTIONS_FILE": str(self.options_file), "PORT_API": str(self.api_port),
                    "LIBPROCESS_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"})
        env.pop("SCALEIO_DEV_EXECUTOR_PYTHON", None)
        if self.dev_executor:
            env["SCALEIO_DEV_EXECUTOR_PYTHON"] = sys.executable
        env.update(self.front_env())
        env.update(self.scheduler_env)
        if self.frozen_scheduler:
            self.scheduler_argv = unpack_scheduler(self.state_dir / "scheduler-bin")
        self.supervisor = Supervisor(self.scheduler_argv, pid_file=self.pid_file, log_dir=sandbox, env=env,
                                     cwd=sandbox, name="scheduler").start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _wait_ready(self) -> None:
        """Until the scheduler serves its deploy plan (200/202, or 417 for bad options): before its
        routes are installed it answers 503 "starting" (e.g. while a restarted scheduler waits for
        the dead one's store lock)."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.api_url}/v1/plans/deploy", timeout=2).close()
                return
            except urllib.error.HTTPError as exc:
                if exc.code == 417:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                tail = (self.state_dir / "scheduler" / "stderr").read_text(errors="replace")[-2000:]
                raise TimeoutError(f"the scheduler did not serve its plan within {self.ready_timeout:.0f} s:\n{tail}")
            time.sleep(0.1)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "SandboxUp":
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.world = UpWorld(str(self.state_dir), self.os_choice, admin_password(self.state_dir))
            self.world.start_mirror()
            self._serve_executor()
            if self.dcos:
                self._serve_scheduler()
            store = self._store_options()
            self.world.start_mesos(self.agent_count)
            self._start_front()
            self.world.provision_agents()
            if self.mode == "existing":
                self.world.start_scaleio()
            options = self.operator_options(store)
            if self.dcos:
                write_private_json(self.options_file, self.install_options(options))
                self._start_marathon_and_cosmos()
            else:
                write_private_json(self.options_file, options)
                self._start_scheduler()
                self._wait_ready()
            self.info = self._describe()
        except BaseException:
            self.stop()
            raise
        return self

    def _describe(self) -> dict:
        w = self.world
        sio = w.scaleio.info() if w.scaleio is not None else {}
        agents = [{"name": a.name, "ip": a.ip, "hostname": a.hostname, "os": w.families.get(a.name)}
                  for a in w.mesos.agents.values()]
        store = json.loads(self.options_file.read_text())["service"]["state_store"]
        store_url = (f"zk://{store['zookeeper']}" if store["type"] == "zookeeper"
                     else f"sqlite://{store['sqlite_path']}")
        scheduler = self.supervisor is not None
        return {"master": w.mesos.master_address, "control_url": w.mesos.control.url,
                "scheduler_api": self.api_url if scheduler else None,
                "scheduler_pid": self.supervisor.pid if scheduler else None,
                "pid_file": str(self.pid_file) if scheduler else None, "gateway_url": sio.get("gateway_url"),
                "ca_path": sio.get("ca_path"), "admin_password": w.password, "state_dir": str(self.state_dir),
                "mirror_url": w.mirror.url, "options_file": str(self.options_file), "store_url": store_url,
                "mode": self.mode, "agents": agents, "executor_artifact": self.executor_info,
                **self._describe_front(), **(self._describe_dcos() if self.dcos else {})}

    def _describe_dcos(self) -> dict:
        return {"marathon_url": self.marathon.url, "cosmos_url": self.cosmos.url if self.cosmos else None,
                "artifacts_url": self.world.mirror.url_for(ARTIFACTS_DIR),
                "scheduler_artifact": self.scheduler_info, "api_token": None}

    def _describe_front(self) -> dict:
        return {"dcos_url": self.front.url, "dcos_ca_path": self.front.ca_path,
                "dcos_acs_token": self.front.token(BOOTSTRAP_USER), "users": self.front.users,
                "api_token": self.api_token, "service_name": self.service_name}

    def stop(self) -> None:
        """Stop everything started, newest first; keep going past a part that fails to stop."""
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
        for part in ("cosmos", "marathon"):   # Marathon kills the tasks it runs (the scheduler)
            if getattr(self, part) is not None:
                try:
                    getattr(self, part).stop()
                except Exception as exc:
                    print(f"warning: stopping {part} failed: {exc}", file=sys.stderr)
                setattr(self, part, None)
        if self.front is not None:
            self.front.stop()
            self.front = None
        if self.world is not None:
            self.world.stop()   # ScaleIO system, Mesos (executors, agents, mounts), mirror
            self.world = None
        if self.zookeeper is not None:
            self.zookeeper.close()
            self.zookeeper = None
        if self._temp:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> "SandboxUp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m dcos_scaleio.sandbox up", description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=3, help="private agents, each an isolated host")
    p.add_argument("--mode", choices=("provision", "existing"), default="provision")
    p.add_argument("--os", dest="os_choice", choices=OS_CHOICES, default="mixed")
    p.add_argument("--store", choices=("sqlite", "zookeeper"), default="sqlite")
    p.add_argument("--state-dir", default=None, help="where the world lives (default: a temp dir, removed after)")
    p.add_argument("--dev-executor", action="store_true",
                   help="run executors as `python -m dcos_scaleio.framework.executor` (no artifact build)")
    p.add_argument("--frozen-scheduler", action="store_true",
                   help="run the built dcos-scaleio-scheduler artifact instead of `python -m ...`")
    p.add_argument("--options", default=None, help="JSON file merged over the generated operator options")
    p.add_argument("--dcos", action="store_true",
                   help="run Marathon and Cosmos behind the front (store: ZooKeeper) and no scheduler: "
                        "install the package through Cosmos, as on DC/OS")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    overrides = json.loads(pathlib.Path(args.options).read_text()) if args.options else None
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    up = SandboxUp(args.agents, mode=args.mode, os_choice=args.os_choice, store=args.store,
                   state_dir=args.state_dir, dev_executor=args.dev_executor, options=overrides,
                   frozen_scheduler=args.frozen_scheduler, dcos=args.dcos)
    try:
        up.start()
        print(json.dumps(up.info, sort_keys=True), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        up.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
