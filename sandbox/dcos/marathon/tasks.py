"""One app version running as Marathon runs it: each launch a new task in a fresh sandbox directory.

:class:`AppRunner` wraps a :class:`~dcos_scaleio.sandbox.supervisor.Supervisor` (restart on death with
the app's backoff) whose ``prepare`` hook makes every incarnation a new task:

- task id ``<app id, "/" -> "_">.<uuid>``; sandbox ``<work_dir>/<task id>`` (``MESOS_SANDBOX``, the
  cwd, where ``stdout``/``stderr`` go); nothing from an earlier launch is in it;
- host ports: one per ``portDefinitions`` entry, free ports on 127.0.0.1 (the given port when
  ``requirePorts``); env ``PORT0..n``, ``PORT``, ``PORTS``, ``PORT_<NAME>``, ``HOST``, ``MARATHON_APP_ID``,
  ``MARATHON_APP_VERSION``, ``MARATHON_APP_LABELS``/``MARATHON_APP_LABEL_<K>``, ``MESOS_TASK_ID``,
  ``MESOS_SANDBOX``, ``MARATHON_APP_RESOURCE_*``; then the app's ``env`` (which wins);
- ``fetch``: downloaded into the sandbox by the Mesos fetcher (``extract``, ``executable``,
  ``destPath`` as the file name); a failed fetch fails the launch (retried with backoff);
- ``cmd`` runs as ``["/bin/sh", "-c", cmd]``, ``args`` as is.

Health checks (HTTP/HTTPS/MESOS_HTTP[S]: 200-399 is healthy; TCP/MESOS_TCP: connect; COMMAND: exit
0) run on one monitor thread per app: first after ``delaySeconds`` (MESOS_*) or at once, then every
``intervalSeconds``; failures before the first success inside ``gracePeriodSeconds`` do not count
(and are retried within a second rather than a whole interval, so a deployment ends promptly);
``maxConsecutiveFailures`` failures in a row kill the task (0 = never), and the supervisor replaces it.
"""
from __future__ import annotations

import datetime
import http.client
import pathlib
import socket
import ssl
import subprocess
import threading
import time
import uuid

from ...mesos.fetcher import FetchError, fetch_one
from ...supervisor import Supervisor
from ...zookeeper import free_port

HOST = "127.0.0.1"
DEFAULT_KILL_GRACE_S = 3.0
TICK_S = 0.1
GRACE_RETRY_S = 1.0


def iso_now() -> str:
    """Marathon's timestamp format: ``2026-11-25T12:00:00.000Z``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _env_key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


class Task:
    """One launch of an app (what ``/v2/apps/<id>/tasks`` lists)."""

    def __init__(self, app: dict, version: str, work_dir: pathlib.Path):
        self.app_id = app["id"]
        self.version = version
        self.id = f"{app['id'].strip('/').replace('/', '_')}.{uuid.uuid4()}"
        self.sandbox = work_dir / self.id
        self.ports: list[int] = []
        self.staged_at = iso_now()
        self.started_at: str | None = None
        self.state = "TASK_STAGING"
        self.pid: int | None = None
        self.killed_for: str | None = None   # why we ended it (health check, kill, stop)
        self.health = [{"alive": False, "consecutiveFailures": 0, "firstSuccess": None, "lastSuccess": None,
                        "lastFailure": None, "lastFailureCause": None, "taskId": self.id, "instanceId": self.id,
                        "_next": None} for _ in app.get("healthChecks") or []]
        self.started_mono: float | None = None

    @property
    def healthy(self) -> bool:
        return self.state == "TASK_RUNNING" and all(h["alive"] for h in self.health)

    def to_json(self) -> dict:
        out = {"id": self.id, "appId": self.app_id, "host": HOST, "ipAddresses": [{"ipAddress": HOST, "protocol": "IPv4"}],
               "ports": list(self.ports), "servicePorts": [], "slaveId": "sandbox-marathon-agent",
               "stagedAt": self.staged_at, "startedAt": self.started_at, "state": self.state,
               "version": self.version, "localVolumes": []}
        if self.health:
            out["healthCheckResults"] = [{k: v for k, v in h.items() if not k.startswith("_")} for h in self.health]
        return out


class AppRunner:
    """Runs one version of one app until :meth:`stop`. ``changed()`` is called on every state change."""

    def __init__(self, app: dict, version: str, work_dir, base_env: dict, changed=lambda: None):
        self.app = app
        self.version = version
        self.work_dir = pathlib.Path(work_dir)
        self.base_env = dict(base_env)
        self.changed = changed
        self.lock = threading.Lock()
        self.task: Task | None = None
        self.tasks_launched = 0
        self.last_failure: dict | None = None
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.supervisor = Supervisor(
            ["/bin/true"], pid_file=None, log_dir=self.work_dir, name=app["id"],
            backoff_initial=float(app["backoffSeconds"]), backoff_factor=float(app["backoffFactor"]),
            backoff_max=max(float(app["maxLaunchDelaySeconds"]), float(app["backoffSeconds"])),
            stop_grace=float(app.get("taskKillGracePeriodSeconds") or DEFAULT_KILL_GRACE_S),
            prepare=self._prepare, on_spawn=self._spawned, on_exit=self._exited, retry_start=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "AppRunner":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor.start()
        if self.app.get("healthChecks"):
            self._monitor = threading.Thread(target=self._monitor_health, name=f"health-{self.app['id']}", daemon=True)
            self._monitor.start()
        return self

    def stop(self) -> None:
        """Kill the task (SIGTERM, SIGKILL after the grace period) and stop relaunching it."""
        self._stop.set()
        with self.lock:
            if self.task is not None and self.task.state in ("TASK_STAGING", "TASK_RUNNING"):
                self.task.killed_for = "killed"
        self.supervisor.stop()
        if self._monitor is not None:
            self._monitor.join(timeout=30)
        self.changed()

    def kill_task(self, reason: str) -> bool:
        """Kill the current task (it is replaced, as Marathon does after a kill); False when none runs."""
        with self.lock:
            task = self.task
            if task is None or task.state != "TASK_RUNNING":
                return False
            task.killed_for = reason
        return self.supervisor.kill_child(grace=self.supervisor.stop_grace) is not None

    # ------------------------------------------------------------------ supervisor hooks
    def _prepare(self) -> dict:
        task = Task(self.app, self.version, self.work_dir)
        with self.lock:
            self.task = task
            self.tasks_launched += 1
        self.changed()
        try:
            task.sandbox.mkdir(parents=True)
            task.ports = self._ports()
            for item in self.app.get("fetch") or []:
                uri = {"value": item["uri"], "extract": item.get("extract", True),
                       "executable": item.get("executable", False)}
                if item.get("destPath"):
                    uri["output_file"] = item["destPath"]
                fetch_one(uri, str(task.sandbox), lambda path: path)
        except (OSError, FetchError) as exc:
            self._record_failure(task, "TASK_FAILED", f"Failed to launch: {exc}")
            raise
        argv = ["/bin/sh", "-c", self.app["cmd"]] if self.app.get("cmd") is not None else list(self.app["args"])
        return {"argv": argv, "env": self._env(task), "cwd": str(task.sandbox), "log_dir": str(task.sandbox)}

    def _spawned(self, pid: int) -> None:
        with self.lock:
            task = self.task
            task.pid, task.state, task.started_at = pid, "TASK_RUNNING", iso_now()
            task.started_mono = time.monotonic()
            now = time.monotonic()
            for i, h in enumerate(task.health):
                check = self.app["healthChecks"][i]
                delay = check["delaySeconds"] if check["protocol"].startswith("MESOS_") else 0
                h["_next"] = now + min(delay, check["intervalSeconds"])
        self.changed()

    def _exited(self, pid: int, code: int) -> None:
        with self.lock:
            task = self.task
        if task is None or task.pid != pid:
            return
        if task.killed_for:
            state, message = "TASK_KILLED", f"Task was killed ({task.killed_for})"
        elif code == 0:
            state, message = "TASK_FINISHED", "Command exited with status 0"
        else:
            state = "TASK_FAILED"
            message = f"Command terminated with signal {-code}" if code < 0 else f"Command exited with status {code}"
        self._record_failure(task, state, message)

    def _record_failure(self, task: Task, state: str, message: str) -> None:
        with self.lock:
            task.state = state
            for h in task.health:
                h["alive"] = False
            self.last_failure = {"appId": task.app_id, "host": HOST, "message": message, "state": state,
                                 "taskId": task.id, "timestamp": iso_now(), "version": task.version}
        self.changed()

    # ------------------------------------------------------------------ environment
    def _ports(self) -> list[int]:
        ports = []
        for pd in self.app.get("portDefinitions") or []:
            ports.append(pd["port"] if self.app.get("requirePorts") and pd["port"] else free_port())
        return ports

    def _env(self, task: Task) -> dict:
        app = self.app
        env = dict(self.base_env)
        for i, port in enumerate(task.ports):
            env[f"PORT{i}"] = str(port)
            name = app["portDefinitions"][i].get("name")
            if name:
                env[f"PORT_{_env_key(name)}"] = str(port)
        if task.ports:
            env["PORT"] = str(task.ports[0])
            env["PORTS"] = ",".join(str(p) for p in task.ports)
        labels = app.get("labels") or {}
        env.update({"HOST": HOST, "MARATHON_APP_ID": app["id"], "MARATHON_APP_VERSION": self.version,
                    "MARATHON_APP_LABELS": " ".join(_env_key(k) for k in labels),
                    "MARATHON_APP_RESOURCE_CPUS": str(app["cpus"]), "MARATHON_APP_RESOURCE_MEM": str(app["mem"]),
                    "MARATHON_APP_RESOURCE_DISK": str(app["disk"]), "MARATHON_APP_RESOURCE_GPUS": str(app["gpus"]),
                    "MESOS_TASK_ID": task.id, "MESOS_SANDBOX": str(task.sandbox)})
        for key, value in labels.items():
            env[f"MARATHON_APP_LABEL_{_env_key(key)}"] = value
        env.update(app.get("env") or {})
        env["MESOS_SANDBOX"] = str(task.sandbox)
        return env

    # ------------------------------------------------------------------ health
    def _monitor_health(self) -> None:
        checks = self.app["healthChecks"]
        while not self._stop.wait(TICK_S):
            with self.lock:
                task = self.task
                due = [] if task is None or task.state != "TASK_RUNNING" else \
                    [i for i, h in enumerate(task.health) if h["_next"] is not None and h["_next"] <= time.monotonic()]
            for i in due:
                ok, cause = self._probe(checks[i], task)
                self._record_check(task, i, checks[i], ok, cause)

    def _record_check(self, task: Task, i: int, check: dict, ok: bool, cause: str | None) -> None:
        kill = False
        with self.lock:
            if task is not self.task or task.state != "TASK_RUNNING":
                return
            h = task.health[i]
            # Until the first success inside the grace period, look again within a second (not a
            # whole interval: a deployment waits for health, and sandbox users for deployments).
            in_grace = h["firstSuccess"] is None and time.monotonic() - task.started_mono < check["gracePeriodSeconds"]
            wait = check["intervalSeconds"] if ok or not in_grace else min(check["intervalSeconds"], GRACE_RETRY_S)
            h["_next"] = time.monotonic() + wait
            now = iso_now()
            if ok:
                h.update(alive=True, consecutiveFailures=0, lastSuccess=now)
                h["firstSuccess"] = h["firstSuccess"] or now
            else:
                h.update(alive=False, lastFailure=now, lastFailureCause=cause)
                if not in_grace:
                    h["consecutiveFailures"] += 1
                    limit = check["maxConsecutiveFailures"]
                    kill = limit > 0 and h["consecutiveFailures"] >= limit
        self.changed()
        if kill:
            self.kill_task("health check failed")

    def _probe(self, check: dict, task: Task) -> tuple[bool, str | None]:
        timeout = float(check["timeoutSeconds"])
        protocol = check["protocol"]
        try:
            if protocol == "COMMAND":
                proc = subprocess.run(["/bin/sh", "-c", check["command"]["value"]], cwd=task.sandbox,
                                      env=self._env(task), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, timeout=timeout)
                return proc.returncode == 0, None if proc.returncode == 0 else f"exit code {proc.returncode}"
            port = check.get("port") or task.ports[check["portIndex"]]
            if protocol.endswith("TCP"):
                socket.create_connection((HOST, port), timeout=timeout).close()
                return True, None
            if protocol.endswith("HTTPS"):
                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=ctx)
            else:
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
            try:
                conn.request("GET", check.get("path") or "/")
                status = conn.getresponse().status
            finally:
                conn.close()
            return 200 <= status < 400, None if 200 <= status < 400 else f"HTTP {status}"
        except (OSError, http.client.HTTPException, subprocess.SubprocessError, IndexError) as exc:
            return False, f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ views
    def tasks_json(self) -> list[dict]:
        with self.lock:
            task = self.task
            return [task.to_json()] if task is not None and task.state in ("TASK_STAGING", "TASK_RUNNING") else []

    def counts(self) -> dict:
        with self.lock:
            task = self.task
            running = task is not None and task.state == "TASK_RUNNING"
            staged = task is not None and task.state == "TASK_STAGING"
            has_checks = bool(task is not None and task.health)
            healthy = running and has_checks and task.healthy
            unhealthy = running and has_checks and not task.healthy and \
                any(h["lastFailure"] is not None for h in task.health)
        return {"tasksRunning": int(running), "tasksStaged": int(staged), "tasksHealthy": int(healthy),
                "tasksUnhealthy": int(unhealthy)}

    def ready(self) -> bool:
        """A deployment step's goal: the task runs and passes its health checks (if any)."""
        with self.lock:
            return self.task is not None and self.task.state == "TASK_RUNNING" and self.task.healthy
