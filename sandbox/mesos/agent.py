"""An emulated Mesos agent: its own 127.x address and HTTP server, flags read from its isolated root,
custom executors as real processes inside that root, reliable status updates, checkpoint recovery.

Lifecycle (all coroutines run on the emulator loop; blocking work goes to worker threads):
- :meth:`start` - first boot: start the AgentRoot, write ``/etc/sandbox/agent.json`` and the initial
  flag files (only if absent), then :meth:`boot`.
- :meth:`boot` - read the flags afresh, recover from ``<work_dir>/meta/slaves/latest`` if present
  (refusing incompatible agent info: the agent then stays ``failed``), serve HTTP, wait for
  checkpointing executors to resubscribe (``executor_reregistration_timeout``), register with master.
- :meth:`stop_process` - the agent process dies: HTTP server gone, executor streams cut; executors
  keep running in the root.
- :meth:`shutdown` - everything inside the agent dies and its volumes are unmounted.

States: ``stopped`` -> ``recovering`` -> ``running``; ``failed`` when recovery is refused.
"""
import asyncio
import json
import logging
import os
import shutil

from . import agent_files, agent_operator, executor_api, flags as flagmod, modules, volumes
from . import resources as res
from .agent_executors import AgentTask, Executor, ExecutorMixin
from .httpserver import HttpServer, Response, json_response
from .protocol import TERMINAL_STATES, idv
from .status_updates import StatusUpdateManager

log = logging.getLogger(__name__)


class Agent(ExecutorMixin):
    def __init__(self, spec, *, master, clock, state_dir, control_url=None, update_retry=(10.0, 600.0)):
        from ..agentroot import AgentRoot
        self.spec = spec
        self.name = spec.name
        self.ip = spec.ip
        self.port = spec.port
        self.version = spec.version
        self.flavour = spec.flavour
        self.master = master
        self.clock = clock
        self.control_url = control_url
        self.dir = os.path.join(state_dir, "agents", self.name)
        self.work_dir = os.path.join(self.dir, "work")
        self.root = AgentRoot(os.path.join(state_dir, "roots"), self.name, hostname=spec.root_hostname,
                              shared_dirs=[self.work_dir, *map(str, spec.shared_dirs)])
        self.config = None
        self.agent_id = None
        self.state = "stopped"
        self.failure = None
        self.accepting_subscriptions = False
        self.partitioned = False
        self.frameworks = {}            # fid -> FrameworkInfo
        self.executors = {}             # (fid, eid) -> Executor
        self.tasks = {}                 # (fid, tid) -> AgentTask
        self.removing = set()           # frameworks being removed: no updates for them
        self.vols = volumes.VolumeManager()
        self.completed_executors = agent_files.CompletedExecutors()
        self.sum = StatusUpdateManager(clock, self._forward_update, *update_retry)
        self.sum.paused = True
        self.server = None
        self._watcher = None
        self._generation = 0            # bumped when the process stops, so an interrupted boot gives up
        self.booting = False

    # ------------------------------------------------------------------ what the master reads
    @property
    def hostname(self):
        return self.config.hostname if self.config else self.spec.hostname

    @property
    def role(self):
        return self.config.role if self.config else self.spec.role

    @property
    def total_resources(self):
        return self.config.resources if self.config else res.norm(self.spec.resources)

    def attributes_proto(self):
        return flagmod.attributes_proto(self.config.attributes if self.config else self.spec.attributes)

    @property
    def linked(self):
        return self.state == "running" and not self.partitioned and self.agent_id is not None

    def report_state(self):
        tasks = {}
        for (fid, tid), t in self.tasks.items():
            tasks[(fid, tid)] = (t.info, t.executor_id, t.state, t.status)
        executors = {(fid, eid): dict(ex.info, framework_id=idv(fid)) for (fid, eid), ex in self.executors.items()
                     if ex.info is not None and ex.kind != "command" and ex.state != "terminated"}
        return tasks, executors

    # ------------------------------------------------------------------ lifecycle
    async def start(self):
        os.makedirs(self.work_dir, exist_ok=True)
        await asyncio.to_thread(self.root.start)
        self.root.write_text("/etc/sandbox/agent.json", json.dumps({
            "name": self.name, "hostname": self.spec.hostname, "ip": self.ip, "control_url": self.control_url}) + "\n")
        marker = flagmod.DCOS_BASE if self.flavour == "dcos" else flagmod.PLAIN_DIR + "/work_dir"
        if self.root.read_text(marker) is None:       # a new host: its files and initial flags
            for path, content in self.spec.files.items():
                text, mode = (content, None) if isinstance(content, str) else (content[0], int(content[1]))
                self.root.write_text(path, text, mode=mode)
            flagmod.write_flags(self.root, self.flavour, self.spec.initial_flags(self.work_dir))
        return await self.boot()

    def _defaults(self):
        return {"hostname": self.spec.hostname, "work_dir": self.work_dir, "resources":
                res.format_flag(res.norm(self.spec.resources)), "isolation": flagmod.DEFAULT_ISOLATION}

    async def boot(self):
        """Start the agent process. Returns True when it is up, False when recovery was refused."""
        self.booting = True
        try:
            return await self._boot()
        finally:
            self.booting = False

    async def _boot(self):
        self.failure = None
        try:
            flags = flagmod.read_flags(self.root, self.flavour)
            self.config = flagmod.AgentConfig(flags, defaults=self._defaults())
        except (ValueError, KeyError) as exc:
            return self._fail(f"Failed to load flags: {exc}")
        if self.config.work_dir != self.work_dir:
            return self._fail(f"work_dir {self.config.work_dir} is not the emulator's shared work dir")
        why = modules.startup_error(self.root, self.config, self.version)
        if why:
            return self._fail(why)
        meta = os.path.join(self.work_dir, "meta", "slaves")
        latest = os.path.join(meta, "latest")
        recovered_id = None
        if os.path.exists(latest):
            try:
                with open(os.path.join(latest, "slave.info")) as f:
                    old_info = json.load(f)
                recovered_id = os.path.basename(os.path.realpath(latest))
            except (OSError, ValueError) as exc:
                return self._fail(f"Failed to recover agent info: {exc}")
            why = flagmod.incompatible(old_info, self.config.agent_info(), self.version,
                                       self.config.reconfiguration_policy)
            if why:
                return self._fail(why)
        if recovered_id is None:
            # A fresh agent: whatever ran under the old identity is an orphan and is destroyed.
            await self._destroy_all(updates=False)
            self.tasks.clear()
            self.completed_executors.clear()
            self.frameworks.clear()
            self.sum.stop()
            self.sum.streams.clear()
        if recovered_id is not None:
            # Mark what may come back before the server listens: an executor can resubscribe at once.
            for ex in self.executors.values():
                ex.reregistering = ex.state != "terminated" and ex.checkpoint and ex.kind == "custom"
        self.state = "recovering"
        self.accepting_subscriptions = True
        self.server = HttpServer(self.ip, self.port, self.handle, name=f"agent {self.name}")
        try:
            await self.server.start()
        except OSError as exc:
            self.server = None
            return self._fail(f"Failed to bind {self.ip}:{self.port}: {exc}")
        self._watcher = asyncio.ensure_future(self._watch_processes())
        generation = self._generation
        if recovered_id is not None:
            await self._recover_executors()
        if generation != self._generation or self.state != "recovering":
            return False                # the process was stopped again while recovering
        await self._cleanup_orphan_volumes()
        if generation != self._generation or self.state != "recovering":
            return False
        self.state = "running"
        self.agent_id = self.master.register_agent(self, recovered_id)
        self._checkpoint_info(meta)
        self.sum.paused = False
        self.sum.resend_all()
        log.info("agent %s up as %s", self.name, self.agent_id)
        return True

    async def _cleanup_orphan_volumes(self):
        """The docker/volume isolator's recovery: unmount what containers unknown to this agent left."""
        if "docker/volume" not in self.config.isolation or volumes.find_dvdcli(self.root) is None:
            return
        known = {ex.container_id for ex in self.executors.values() if ex.state != "terminated"}
        done = await asyncio.to_thread(self.vols.cleanup_orphans, self.root, self.config, known)
        for cid, driver, name, error in done:
            log.info("agent %s: orphan container %s: unmount %s/%s %s", self.name, cid, driver, name,
                     "failed: " + error if error else "done")

    def _fail(self, why):
        self.state = "failed"
        self.failure = why
        log.warning("agent %s failed to start: %s", self.name, why)
        with open(os.path.join(self.dir, "agent.log"), "a") as f:
            f.write(f"{why}\n")
        return False

    def _checkpoint_info(self, meta):
        path = os.path.join(meta, self.agent_id)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "slave.info"), "w") as f:
            json.dump(self.config.agent_info(), f)
        latest = os.path.join(meta, "latest")
        if os.path.islink(latest) or os.path.exists(latest):
            os.unlink(latest)
        os.symlink(self.agent_id, latest)

    async def _recover_executors(self):
        """Executors of checkpointing frameworks get ``executor_reregistration_timeout`` to resubscribe;
        the others are not recovered (destroyed, their tasks dropped)."""
        waiting = [ex for ex in self.executors.values() if ex.reregistering]
        for ex in list(self.executors.values()):
            if ex.state != "terminated" and not ex.reregistering:
                await self._terminate(ex, updates=False)
        if not waiting:
            return
        deadline = self.clock.deadline(self.config.executor_reregistration_timeout)
        while any(ex.reregistering and ex.state != "terminated" for ex in waiting):
            if self.clock.now() >= deadline:
                break
            await asyncio.sleep(0.05)
        for ex in waiting:
            if ex.reregistering and ex.state != "terminated":
                state = "TASK_GONE" if self._partition_aware(ex.fid) else "TASK_LOST"
                await self._terminate(ex, state=state, reason="REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
                                      message="Executor did not reregister within "
                                              f"{self.config.executor_reregistration_timeout:g}secs")

    async def stop_process(self):
        """The agent process dies (kill, systemctl stop): executors keep running inside the root."""
        if self.state in ("stopped", "failed") and self.server is None:
            self.state = "stopped"
            return
        was_linked = self.agent_id is not None and self.state == "running"
        self._generation += 1
        self.state = "stopped"
        self.accepting_subscriptions = False
        self.sum.paused = True
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for ex in self.executors.values():
            for timer in ex.timers:
                timer.cancel()
            ex.timers = []
            ex.stream = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if was_linked:
            self.master.agent_disconnected(self.agent_id)

    async def reboot(self, start=True):
        """The agent's host reboots (or crashes, or is powered off with ``start=False``): every process
        inside dies and runtime state (/run, /tmp) is lost. Executors are not recovered after a reboot;
        the agent keeps its ID if its info is unchanged, and the master reports the vanished tasks when
        it reregisters. Docker volumes are NOT released: no ``dvdcli unmount`` runs on a dying host,
        so an external volume stays mapped to this host's SDC until another host preempts it."""
        await self.stop_process()
        await self._destroy_all(updates=False, release_volumes=False)
        await asyncio.to_thread(self.vols.refs.clear)
        await asyncio.to_thread(self.root.reboot)
        if start:
            return await self.boot()
        return True

    async def restart(self, down_seconds=0.0):
        await self.stop_process()
        if down_seconds:
            await self.clock.sleep(down_seconds)
        return await self.boot()

    async def shutdown(self):
        """Stop the agent and everything in its root (cluster stop, agent removal)."""
        await self.stop_process()
        await self._destroy_all(updates=False)
        await asyncio.to_thread(self.vols.unmount_all, self.root)
        await asyncio.to_thread(self.root.stop)

    def partition(self):
        self.partitioned = True
        self.sum.paused = True
        if self.agent_id is not None:
            self.master.mark_unreachable(self.agent_id)

    def heal(self):
        self.partitioned = False
        if self.state == "running" and self.agent_id is not None:
            self.master.register_agent(self, self.agent_id)
            self.sum.paused = False
            self.sum.resend_all()

    # ------------------------------------------------------------------ HTTP
    async def handle(self, request):
        path = request.path.rstrip("/") or "/"
        if path == "/api/v1/executor":
            return await executor_api.handle(self, request)
        if path in ("/api/v1", "/api/v1/operator"):
            return await agent_operator.handle(self, request)
        if path in ("/flags", "/slave(1)/flags"):
            return json_response({"flags": dict(self.config.flags)})
        if path in ("/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json"):
            return json_response(self.state_json())
        if path.startswith("/files/"):
            return await agent_files.handle(self, request, path)
        if path == "/version":
            return json_response({"version": self.version, "git_tag": self.version})
        if path == "/health":
            return Response(200, b"")
        return Response(404, b"")

    def state_json(self):
        frameworks = {}
        for (fid, eid), ex in self.executors.items():
            fw = frameworks.setdefault(fid, {"id": fid, "name": self.frameworks.get(fid, {}).get("name"),
                                            "checkpoint": ex.checkpoint, "executors": []})
            fw["executors"].append({
                "id": eid, "name": (ex.info or {}).get("name", ""), "container": ex.container_id,
                "directory": ex.directory, "type": ex.kind.upper(),
                "tasks": [{"id": tid, "state": self.tasks[(fid, tid)].state} for tid in ex.tasks
                          if (fid, tid) in self.tasks],
                "queued_tasks": [t["task_id"]["value"] for tasks, _ in ex.queue for t in tasks],
                "completed_tasks": list(ex.completed_tasks)})
        completed = self.completed_executors.by_framework()
        for fid, done in completed.items():
            if fid in frameworks:
                frameworks[fid]["completed_executors"] = done
        completed_frameworks = [{"id": fid, "name": self.frameworks.get(fid, {}).get("name"), "executors": [],
                                 "completed_executors": done} for fid, done in completed.items()
                                if fid not in frameworks]
        for fw in frameworks.values():
            fw.setdefault("completed_executors", [])
        attributes = {k: v for k, v in self.config.attributes}
        return {"version": self.version, "id": self.agent_id, "pid": f"slave(1)@{self.ip}:{self.port}",
                "hostname": self.hostname, "flags": dict(self.config.flags), "attributes": attributes,
                "resources": {k: (v if not isinstance(v, list) else
                                  "[" + ", ".join(f"{b}-{e}" for b, e in v) + "]")
                              for k, v in self.total_resources.items()},
                "reserved_resources": {self.role: {}} if self.role != "*" else {},
                "master_hostname": self.master.leader_endpoint.host if self.master.leader_endpoint else None,
                "frameworks": list(frameworks.values()), "completed_frameworks": completed_frameworks,
                "state": self.state}

    # ------------------------------------------------------------------ from the master
    def _partition_aware(self, fid):
        caps = {c.get("type") for c in self.frameworks.get(fid, {}).get("capabilities", [])}
        return "PARTITION_AWARE" in caps

    def launch(self, framework_info, executor_info, tasks, group):
        fid = framework_info["id"]["value"]
        self.frameworks[fid] = framework_info
        self.removing.discard(fid)
        if executor_info is None:
            # Command task: the built-in command executor, one per task, ExecutorID = TaskID.
            for task in tasks:
                eid = task["task_id"]["value"]
                ex = Executor(fid, eid, None, framework_info, "command")
                self._register_tasks(ex, [task])
                self.executors[(fid, eid)] = ex
                asyncio.ensure_future(self._start_container(ex))
            return
        eid = executor_info["executor_id"]["value"]
        ex = self.executors.get((fid, eid))
        if ex is None or ex.state == "terminated":
            kind = "default" if executor_info.get("type") == "DEFAULT" else "custom"
            ex = Executor(fid, eid, executor_info, framework_info, kind)
            self.executors[(fid, eid)] = ex
            self._register_tasks(ex, tasks, group)
            asyncio.ensure_future(self._start_container(ex))
            return
        if ex.state == "terminating":
            for task in tasks:
                self._agent_update(fid, task["task_id"]["value"], eid, "TASK_LOST", "REASON_EXECUTOR_TERMINATED",
                                   "Executor is terminating", register=task)
            return
        self._register_tasks(ex, tasks, group)
        # Deliver now if the executor can take them; otherwise they wait in its queue (custom executors
        # get them on SUBSCRIBE, built-in ones once their container is prepared).
        if (ex.kind == "custom" and ex.stream is not None) or (ex.kind != "custom" and ex.state == "running"):
            self._deliver(ex)

    def _register_tasks(self, ex, tasks, group=False):
        for task in tasks:
            tid = task["task_id"]["value"]
            self.tasks[(ex.fid, tid)] = AgentTask(task, ex.id)
            ex.tasks.add(tid)
        ex.queue.append((tasks, group))

    def kill_task(self, fid, tid, kill_policy=None):
        task = self.tasks.get((fid, tid))
        if task is None or task.state in TERMINAL_STATES:
            return
        ex = self.executors.get((fid, task.executor_id))
        if ex is None:
            return
        if not task.delivered:
            ex.queue = [([t for t in tasks if t["task_id"]["value"] != tid], g) for tasks, g in ex.queue]
            ex.queue = [(tasks, g) for tasks, g in ex.queue if tasks]
            self._agent_update(fid, tid, ex.id, "TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH",
                               "Task killed before delivery to the executor")
            if ex.kind == "custom" and not any(self.tasks[(fid, t)].delivered for t in ex.tasks
                                               if (fid, t) in self.tasks) and not ex.queue:
                asyncio.ensure_future(self._shutdown_executor(ex))
            return
        if ex.kind == "custom":
            if ex.stream is not None:
                event = {"task_id": idv(tid)}
                if kill_policy:
                    event["kill_policy"] = kill_policy
                ex.stream.send({"type": "KILL", "kill": event})
        else:
            self._kill_builtin_task(ex, task, kill_policy)

    def acknowledge(self, fid, tid, uuid_b64):
        acked = self.sum.acknowledge(fid, tid, uuid_b64)
        if acked is not None and acked["state"] in TERMINAL_STATES and not self.sum.pending_for(fid, tid):
            task = self.tasks.pop((fid, tid), None)
            if task is not None:
                ex = self.executors.get((fid, task.executor_id))
                if ex is not None:
                    ex.tasks.discard(tid)
                    ex.completed_tasks.append({"id": tid, "state": task.state})

    def shutdown_executor(self, fid, eid):
        ex = self.executors.get((fid, eid))
        if ex is not None:
            asyncio.ensure_future(self._shutdown_executor(ex))

    def framework_message(self, fid, eid, data):
        ex = self.executors.get((fid, eid))
        if ex is not None and ex.stream is not None:
            ex.stream.send({"type": "MESSAGE", "message": {"data": data}})

    def shutdown_framework(self, fid):
        self.removing.add(fid)
        self.sum.drop_framework(fid)
        for ex in [e for (f, _), e in self.executors.items() if f == fid]:
            asyncio.ensure_future(self._shutdown_executor(ex))
        for key in [k for k in self.tasks if k[0] == fid]:
            del self.tasks[key]

    def cleanup_state_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)
