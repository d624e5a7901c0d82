"""A small, real Mesos framework that runs tasks with an external (REX-Ray) volume, as Marathon would.

It is an UNMODIFIED ``pymesos.MesosSchedulerDriver`` (checkpointing, PARTITION_AWARE, TASK_KILLING_STATE,
role ``*``) that launches command tasks on a chosen agent (matched by the offer's hostname) with one
external volume, in either form a Mesos agent understands:

- ``form="docker_volume"`` (default; what Marathon sends for ``external`` volumes on the Mesos
  containerizer and what the ``docker/volume`` isolator reads)::

      "container": {"type": "MESOS", "volumes": [{"container_path": "data", "mode": "RW",
                    "source": {"type": "DOCKER_VOLUME", "docker_volume": {"driver": "rexray",
                    "name": "<volume>", "driver_options": {"parameter": [{"key": "size", "value": "1"}]}}}}]}

- ``form="dvdi"``: the EMC DVDI module's environment (``DVDI_VOLUME_NAME``, ``DVDI_VOLUME_DRIVER``,
  ``DVDI_VOLUME_OPTS``, ``DVDI_VOLUME_CONTAINERPATH``).

A relative ``container_path`` is a directory in the task's sandbox (the command's working directory),
so ``echo hi > data/f`` writes into the volume. The task's stdout/stderr are read back the way
``dcos task log`` does: the agent's ``/state`` gives the sandbox directory (live or completed
executor), ``/files/read`` its contents.

One call (what the demo uses)::

    from dcos_scaleio.sandbox.workload import run_volume_task
    result = run_volume_task("127.0.0.1:5050", "127.101.0.1", "pgdata", "echo hi > data/f && cat data/f",
                             timeout=60)
    result.state, result.message, result.stdout    # "TASK_FINISHED", "Command exited with status 0", "hi\\n"

Several tasks, long-running ones, agent failures::

    with VolumeWorkload(master) as wl:
        tid = wl.launch(hostname, "vol1", "echo x > data/f; echo WRITTEN; exec sleep 600")
        wl.wait_output(tid, "WRITTEN", timeout=30)
        ...                                   # kill the agent: wl.wait(tid, {"TASK_UNREACHABLE", ...})
        result = wl.run(other_hostname, "vol1", "cat data/f", timeout=30)

A Marathon-like app (one instance, hostname constraint, replaced whenever its task is gone)::

        wl.start_app("db", "dbvol", "... exec my-db --data data/", [host_a, host_b], options={"size": 8})
        first = wl.wait_app_task("db", 0)     # then e.g. its host dies:
        second = wl.wait_app_task("db", 1)    # the replacement, on the other host
        wl.stop_app("db")

Every wait has a deadline (:class:`WorkloadTimeout`). ``stop()`` tears the framework down (the master
kills its tasks; the agents release the volumes).
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

from pymesos import MesosSchedulerDriver, Scheduler

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
                             "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"})
# Where a Marathon-like framework gives up on a task and replaces it (it may still come back).
GONE_STATES = TERMINAL_STATES | {"TASK_UNREACHABLE", "TASK_UNKNOWN"}
FORMS = ("docker_volume", "dvdi")
_NAME = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
_TASK_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
DECLINE_SECONDS = 2.0          # short refusals: the next launch revives offers anyway


class WorkloadError(Exception):
    """The framework could not do what was asked (bad arguments, an error from the master)."""


class WorkloadTimeout(WorkloadError, TimeoutError):
    """A bounded wait ran out."""


@dataclass
class TaskResult:
    """What became of one task. ``stdout``/``stderr`` are "" when the agent cannot serve them (host down)."""
    task_id: str
    state: str
    message: str = ""
    reason: str | None = None
    hostname: str | None = None
    agent_id: str | None = None
    directory: str | None = None
    stdout: str = ""
    stderr: str = ""
    states: list = field(default_factory=list)   # every state reported, in order

    @property
    def ok(self) -> bool:
        return self.state == "TASK_FINISHED"


def volume_container(volume: str, *, driver: str = "rexray", container_path: str = "data", mode: str = "RW",
                     options: dict | None = None) -> dict:
    """ContainerInfo (Mesos containerizer) with one DOCKER_VOLUME, as the docker/volume isolator reads it."""
    dv = {"driver": driver, "name": volume}
    if options:
        dv["driver_options"] = {"parameter": [{"key": k, "value": str(v)} for k, v in sorted(options.items())]}
    return {"type": "MESOS", "volumes": [{"container_path": container_path, "mode": mode,
                                          "source": {"type": "DOCKER_VOLUME", "docker_volume": dv}}]}


def dvdi_environment(volume: str, *, driver: str = "rexray", container_path: str = "data",
                     options: dict | None = None) -> list[dict]:
    """The DVDI module's environment variables for one volume."""
    env = [{"name": "DVDI_VOLUME_NAME", "value": volume}, {"name": "DVDI_VOLUME_DRIVER", "value": driver},
           {"name": "DVDI_VOLUME_CONTAINERPATH", "value": container_path}]
    if options:
        env.append({"name": "DVDI_VOLUME_OPTS", "value": ",".join(f"{k}={v}" for k, v in sorted(options.items()))})
    return env


def task_info(task_id: str, agent_id: dict, volume: str, command: str, *, form: str = "docker_volume",
              driver: str = "rexray", container_path: str = "data", mode: str = "RW",
              options: dict | None = None, cpus: float = 0.1, mem: float = 32.0,
              kill_grace_s: float | None = None) -> dict:
    """The TaskInfo of one command task with an external volume (validated: values reach dvdcli).
    ``kill_grace_s``: KillPolicy grace period between SIGTERM and SIGKILL (agent default 3 s)."""
    if form not in FORMS:
        raise WorkloadError(f"form must be one of {FORMS}")
    if not _NAME.match(volume) or not _NAME.match(driver):
        raise WorkloadError(f"invalid volume name or driver: {driver}/{volume}")
    if mode not in ("RW", "RO"):
        raise WorkloadError("mode must be RW or RO")
    if not container_path or "\x00" in container_path or ".." in container_path.split("/"):
        raise WorkloadError(f"invalid container_path {container_path!r}")
    for key, value in (options or {}).items():
        if not re.match(r"^[A-Za-z0-9_.-]+$", str(key)) or re.search(r"[\x00\n,]", str(value)):
            raise WorkloadError(f"invalid volume option {key}={value!r}")
    task = {"task_id": {"value": task_id}, "agent_id": agent_id, "name": task_id.split(".")[0],
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}],
            "command": {"shell": True, "value": command}}
    if kill_grace_s is not None:
        if not 0 <= float(kill_grace_s) <= 3600:
            raise WorkloadError("kill_grace_s must be within [0, 3600]")
        task["kill_policy"] = {"grace_period": {"nanoseconds": int(float(kill_grace_s) * 1e9)}}
    if form == "docker_volume":
        task["container"] = volume_container(volume, driver=driver, container_path=container_path, mode=mode,
                                             options=options)
    else:
        task["command"]["environment"] = {"variables": dvdi_environment(
            volume, driver=driver, container_path=container_path, options=options)}
    return task


_SPEC_DEFAULTS = {"form": "docker_volume", "driver": "rexray", "container_path": "data", "mode": "RW",
                  "options": None, "cpus": 0.1, "mem": 32.0, "kill_grace_s": None}


def validated_spec(hostnames, volume, command, **kwargs) -> dict:
    """Task parameters (``_SPEC_DEFAULTS`` keys) checked before anything is registered or launched:
    errors surface to the caller as WorkloadError, never inside a pymesos callback."""
    if not hostnames:
        raise WorkloadError("at least one hostname is needed")
    for hostname in hostnames:
        if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
            raise WorkloadError(f"invalid hostname {hostname!r}")
    unknown = set(kwargs) - set(_SPEC_DEFAULTS)
    if unknown:
        raise WorkloadError(f"unknown task parameters: {sorted(unknown)}")
    spec = dict(_SPEC_DEFAULTS, volume=volume, command=command, **kwargs)
    task_info("check", {"value": "check"}, **spec)
    return spec


def _task_id(prefix: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', prefix)}.{uuid.uuid4()}"


def _scalar(resources, name) -> float:
    return sum(r.get("scalar", {}).get("value", 0.0) for r in resources
               if r.get("name") == name and r.get("role", "*") == "*" and not r.get("reservations"))


def _http_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


class _Task:
    def __init__(self, task_id, hostnames, spec, app_id=None):
        self.task_id = task_id
        self.hostnames = frozenset(hostnames)   # where it may run
        self.hostname = next(iter(self.hostnames)) if len(self.hostnames) == 1 else None   # where it runs
        self.spec = spec                # kwargs for task_info
        self.app_id = app_id
        self.launched = False
        self.agent_id = None
        self.agent_url = None           # "http://ip:port" from the offer
        self.statuses = []


class _App:
    """A Marathon-like app of one instance: a replacement is launched whenever its task is gone."""

    def __init__(self, app_id, hostnames, spec, max_launches):
        self.app_id = app_id
        self.hostnames = frozenset(hostnames)
        self.spec = spec
        self.max_launches = max_launches
        self.task_ids = []              # in launch order; the last one is the current instance
        self.running = True


class _Callbacks(Scheduler):
    """pymesos callbacks: never raise (pymesos would tear the framework down), never block."""

    def __init__(self, workload: "VolumeWorkload"):
        self.wl = workload

    def _guard(self, what, fn, *args):
        try:
            fn(*args)
        except Exception:       # noqa: BLE001 - logged; raising into pymesos kills the driver
            log.exception("workload: %s failed", what)

    def registered(self, driver, framework_id, master_info):
        self._guard("registered", self.wl._on_registered, framework_id["value"])

    def reregistered(self, driver, master_info):
        self._guard("reregistered", self.wl._on_registered, driver.framework_id)

    def resourceOffers(self, driver, offers):
        self._guard("offers", self.wl._on_offers, driver, offers)

    def statusUpdate(self, driver, status):
        self._guard("status", self.wl._on_status, driver, status)

    def error(self, driver, message):
        self._guard("error", self.wl._on_error, message)


class VolumeWorkload:
    """A Marathon-like framework for volume tasks. Thread-safe; a context manager."""

    def __init__(self, master: str, *, name: str = "volume-workload", checkpoint: bool = True,
                 principal: str | None = None, secret: str | None = None):
        self.master = master
        self.name = name
        self.framework_info = {"name": name, "user": "root", "role": "*", "checkpoint": checkpoint,
                               "failover_timeout": 60.0,
                               # as Marathon: UNREACHABLE/GONE instead of LOST, and TASK_KILLING
                               "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}]}
        self._principal, self._secret = principal, secret
        if principal:
            self.framework_info["principal"] = principal
        self._cond = threading.Condition()
        self._tasks: dict[str, _Task] = {}
        self._apps: dict[str, _App] = {}
        self._framework_id = None
        self._error = None
        self.driver = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> "VolumeWorkload":
        self.driver = MesosSchedulerDriver(_Callbacks(self), dict(self.framework_info), self.master,
                                           use_addict=False, principal=self._principal, secret=self._secret)
        self.driver.start()
        try:
            self._wait_for(lambda: self._framework_id or self._error, timeout, "the framework to register")
            if self._error:
                raise WorkloadError(f"the master refused the framework: {self._error}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Tear the framework down (its tasks are killed, their volumes released) and stop the driver."""
        driver, self.driver = self.driver, None
        if driver is None:
            return
        try:
            driver.stop(failover=False)
            driver.join()
        except Exception:       # noqa: BLE001 - stopping must go on
            log.exception("workload: stopping the driver failed")

    def __enter__(self) -> "VolumeWorkload":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def framework_id(self) -> str | None:
        return self._framework_id

    # ------------------------------------------------------------------ API
    def launch(self, hostname: str, volume: str, command: str, *, form: str = "docker_volume",
               driver: str = "rexray", container_path: str = "data", mode: str = "RW",
               options: dict | None = None, cpus: float = 0.1, mem: float = 32.0,
               kill_grace_s: float | None = None, task_id: str | None = None) -> str:
        """Queue a task for the next offer from ``hostname``; returns its task ID (``<volume>.<uuid>``).
        ``options`` become the volume's driver options (e.g. ``{"size": 8}``, implicit create)."""
        spec = self._spec([hostname], volume, command, form=form, driver=driver, container_path=container_path,
                          mode=mode, options=options, cpus=cpus, mem=mem, kill_grace_s=kill_grace_s)
        if task_id is not None and not _TASK_ID.match(task_id):
            raise WorkloadError(f"invalid task id {task_id!r}")
        task_id = task_id or _task_id(volume)
        with self._cond:
            if task_id in self._tasks:
                raise WorkloadError(f"task {task_id} exists")
            self._tasks[task_id] = _Task(task_id, [hostname], spec)
        self.driver.reviveOffers()      # offers declined earlier come back at once
        return task_id

    def start_app(self, app_id: str, volume: str, command: str, hostnames, *, max_launches: int = 5,
                  **kwargs) -> str:
        """A Marathon-like app with one instance on any of ``hostnames`` (a hostname constraint): whenever
        its task is gone (terminal, or UNREACHABLE: an ``unreachableStrategy`` with ``inactiveAfterSeconds``
        0) a replacement is launched on whichever of those hosts offers first, at most ``max_launches``
        tasks in all. ``kwargs`` as for :meth:`launch`. Task IDs are ``<app_id>.<uuid>``."""
        if not re.match(r"^[a-z0-9][a-z0-9.-]{0,62}$", app_id):
            raise WorkloadError(f"invalid app id {app_id!r}")
        hostnames = list(hostnames)
        spec = self._spec(hostnames, volume, command, **kwargs)
        with self._cond:
            if app_id in self._apps:
                raise WorkloadError(f"app {app_id} exists")
            app = self._apps[app_id] = _App(app_id, hostnames, spec, max_launches)
            self._queue_app_task(app)
        self.driver.reviveOffers()
        return app_id

    def app_tasks(self, app_id: str) -> list[str]:
        """The app's task IDs in launch order (the last one is the current instance)."""
        with self._cond:
            return list(self._apps[app_id].task_ids)

    def wait_app_task(self, app_id: str, index: int, timeout: float = 60.0) -> str:
        """The app's ``index``-th task (0: the first), once it has been queued."""
        app = self._apps[app_id]
        return self._wait_for(lambda: app.task_ids[index] if len(app.task_ids) > index else None, timeout,
                              f"task #{index} of app {app_id}")

    def stop_app(self, app_id: str) -> None:
        """No more replacements; the current task is killed."""
        with self._cond:
            app = self._apps[app_id]
            app.running = False
            current = app.task_ids[-1] if app.task_ids else None
        if current is not None and self.state(current) not in TERMINAL_STATES:
            self.kill(current)

    def wait(self, task_id: str, states=TERMINAL_STATES, timeout: float = 60.0) -> dict:
        """Block until the task reports one of ``states``; returns that TaskStatus."""
        states = set(states)

        def reached():
            t = self._tasks[task_id]
            return next((s for s in t.statuses if s["state"] in states), None)
        return self._wait_for(reached, timeout, f"task {task_id} to reach {sorted(states)}")

    def state(self, task_id: str) -> str | None:
        with self._cond:
            statuses = self._tasks[task_id].statuses
            return statuses[-1]["state"] if statuses else None

    def kill(self, task_id: str) -> None:
        self.driver.killTask({"value": task_id})

    def read_output(self, task_id: str, name: str = "stdout") -> str | None:
        """The task's sandbox file ``name`` through the agent's ``/files/read``; None if unreachable."""
        t = self._tasks[task_id]
        if t.agent_url is None:
            return None
        try:
            directory = self._sandbox(t)
            if directory is None:
                return None
            return self._read_file(t.agent_url, f"{directory}/{name}")
        except OSError:
            return None

    def wait_output(self, task_id: str, text: str, timeout: float = 60.0, name: str = "stdout") -> str:
        """Poll the task's ``stdout`` until it contains ``text``; fails early if the task ends without it."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.read_output(task_id, name) or ""
            if text in out:
                return out
            if self.state(task_id) in TERMINAL_STATES:
                out = self.read_output(task_id, name) or ""
                if text in out:
                    return out
                raise WorkloadError(f"task {task_id} ended ({self.state(task_id)}) without printing {text!r}; "
                                    f"{name}: {out[-500:]!r}")
            if time.monotonic() > deadline:
                raise WorkloadTimeout(f"task {task_id} did not print {text!r} within {timeout:g} s; "
                                      f"{name}: {out[-500:]!r}")
            time.sleep(0.1)

    def result(self, task_id: str) -> TaskResult:
        t = self._tasks[task_id]
        with self._cond:
            statuses = list(t.statuses)
        last = statuses[-1] if statuses else {}
        directory = None
        if t.agent_url is not None:
            try:
                directory = self._sandbox(t)
            except OSError:
                directory = None
        return TaskResult(task_id=task_id, state=last.get("state", "TASK_STAGING"), message=last.get("message", ""),
                          reason=last.get("reason"), hostname=t.hostname, agent_id=t.agent_id, directory=directory,
                          stdout=(self.read_output(task_id, "stdout") or "") if directory else "",
                          stderr=(self.read_output(task_id, "stderr") or "") if directory else "",
                          states=[s["state"] for s in statuses])

    def run(self, hostname: str, volume: str, command: str, timeout: float = 60.0, **kwargs) -> TaskResult:
        """Launch, wait for a terminal state, return the result (a timeout kills the task first)."""
        task_id = self.launch(hostname, volume, command, **kwargs)
        try:
            self.wait(task_id, TERMINAL_STATES, timeout)
        except WorkloadTimeout:
            if self._tasks[task_id].launched:
                self.kill(task_id)
            raise
        return self.result(task_id)

    # ------------------------------------------------------------------ internals
    def _spec(self, hostnames, volume, command, **kwargs) -> dict:
        if self.driver is None:
            raise WorkloadError("the workload framework is not started")
        return validated_spec(hostnames, volume, command, **kwargs)

    def _queue_app_task(self, app: _App) -> str:
        """Queue the app's next task (caller holds the lock)."""
        task_id = _task_id(app.app_id)
        self._tasks[task_id] = _Task(task_id, app.hostnames, app.spec, app_id=app.app_id)
        app.task_ids.append(task_id)
        self._cond.notify_all()
        return task_id

    def _wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkloadTimeout(f"timed out after {timeout:g} s waiting for {what}")
                self._cond.wait(min(remaining, 0.5))

    def _sandbox(self, t: _Task) -> str | None:
        """The command executor's sandbox (ExecutorID = TaskID) from the agent's /state."""
        state = _http_json(f"{t.agent_url}/state")
        found = None
        for fw in state.get("frameworks", []) + state.get("completed_frameworks", []):
            if fw.get("id") == self._framework_id:
                for ex in fw.get("executors", []) + fw.get("completed_executors", []):
                    if ex.get("id") == t.task_id and ex.get("directory"):
                        found = ex["directory"]     # the newest run wins
        return found

    @staticmethod
    def _read_file(agent_url: str, path: str) -> str:
        chunks, offset = [], 0
        while True:
            query = urllib.parse.urlencode({"path": path, "offset": offset, "length": 1 << 20})
            data = _http_json(f"{agent_url}/files/read?{query}")["data"]
            if not data:
                return "".join(chunks)
            chunks.append(data)
            offset += len(data.encode("utf-8"))

    def _on_registered(self, framework_id):
        with self._cond:
            self._framework_id = framework_id
            self._cond.notify_all()

    def _on_error(self, message):
        log.warning("workload: error from the master: %s", message)
        with self._cond:
            self._error = message
            self._cond.notify_all()

    def _on_status(self, driver, status):
        tid = status["task_id"]["value"]
        replaced = None
        with self._cond:
            t = self._tasks.get(tid)
            if t is None:
                return
            t.statuses.append({k: status.get(k) for k in ("state", "message", "reason", "source")
                               if status.get(k) is not None})
            app = self._apps.get(t.app_id) if t.app_id else None
            if app is not None and app.running and app.task_ids[-1] == tid and status["state"] in GONE_STATES:
                if len(app.task_ids) < app.max_launches:
                    replaced = self._queue_app_task(app)
                else:
                    log.warning("workload: app %s reached %d launches; not replacing %s", app.app_id,
                                app.max_launches, tid)
            self._cond.notify_all()
        if replaced is not None:
            log.info("workload: app %s: task %s is %s, launching %s", t.app_id, tid, status["state"], replaced)
            driver.reviveOffers()

    def _on_offers(self, driver, offers):
        decline = []
        with self._cond:
            for offer in offers:
                pending = [t for t in self._tasks.values() if not t.launched and offer.get("hostname") in t.hostnames]
                cpus, mem = _scalar(offer["resources"], "cpus"), _scalar(offer["resources"], "mem")
                tasks = []
                for t in pending:
                    if t.spec["cpus"] > cpus or t.spec["mem"] > mem:
                        continue
                    cpus -= t.spec["cpus"]
                    mem -= t.spec["mem"]
                    tasks.append(task_info(t.task_id, offer["agent_id"], **t.spec))
                    t.launched = True
                    t.hostname = offer.get("hostname")
                    t.agent_id = offer["agent_id"]["value"]
                    address = (offer.get("url") or {}).get("address") or {}
                    t.agent_url = f"http://{address.get('ip') or address.get('hostname')}:{address.get('port')}"
                if tasks:
                    driver.launchTasks([offer["id"]], tasks)
                else:
                    decline.append(offer["id"])
            waiting = any(not t.launched for t in self._tasks.values())
        if decline:
            driver.declineOffer(decline, {"refuse_seconds": 0.5 if waiting else DECLINE_SECONDS})


def run_volume_task(master: str, hostname: str, volume: str, command: str, timeout: float = 60.0,
                    **kwargs) -> TaskResult:
    """One call: register a framework, run ``command`` on ``hostname`` with ``volume`` mounted at
    ``data/`` (see :meth:`VolumeWorkload.launch` for ``kwargs``), wait for a terminal state, read the
    task's stdout/stderr, tear the framework down. Raises WorkloadTimeout after ``timeout`` seconds."""
    validated_spec([hostname], volume, command, **{k: v for k, v in kwargs.items() if k != "task_id"})
    with VolumeWorkload(master) as wl:
        return wl.run(hostname, volume, command, timeout=timeout, **kwargs)
