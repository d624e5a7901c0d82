"""The agent's containers: custom executor processes inside the agent root, the built-in command and
default executors, the executor side of the status update pipeline, executor termination.

Mixed into :class:`~.agent.Agent`; it relies on the agent's ``root``, ``config``, ``clock``, ``master``,
``executors``, ``tasks``, ``sum`` (StatusUpdateManager), ``vols`` and ``removing`` attributes.
"""
import asyncio
import logging
import os
import signal

from . import containerizer, volumes
from . import resources as res
from .model import new_uuid
from .protocol import TERMINAL_STATES, b64, idv, now

log = logging.getLogger(__name__)
KILL_GRACE_S = 3.0                  # the command executor's default kill grace period


def describe_exit(returncode):
    """A Popen returncode as Mesos' WSTRINGIFY words it: ``exited with status N`` or ``terminated
    with signal Terminated``."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.strsignal(-returncode) or f"{-returncode}"
    except ValueError:
        name = f"{-returncode}"
    return f"terminated with signal {name}"


class AgentTask:
    def __init__(self, info, eid):
        self.info = info
        self.executor_id = eid
        self.state = "TASK_STAGING"
        self.status = None
        self.delivered = False


class Executor:
    def __init__(self, fid, eid, info, framework_info, kind):
        self.fid = fid
        self.id = eid
        self.info = info                # ExecutorInfo (None for the built-in command executor)
        self.framework_info = framework_info
        self.kind = kind                # "custom" | "command" | "default"
        self.container_id = new_uuid()
        self.directory = None
        self.proc = None                # custom executor process
        self.task_procs = {}            # built-in executors: task_id -> Popen
        self.killed_tasks = set()
        self.state = "launching"        # launching | running | terminating | terminated
        self.stream = None
        self.ever_subscribed = False
        self.reregistering = False
        self.queue = []                 # [(tasks, group)] not yet delivered
        self.tasks = set()              # task ids owned
        self.completed_tasks = []       # [{"id", "state"}] of terminal tasks acknowledged and dropped
        self.volumes = []
        self.timers = []
        self.grace = 5.0

    @property
    def checkpoint(self):
        return bool(self.framework_info.get("checkpoint", False))


class ExecutorMixin:
    def _resolve_local(self, path):
        pid = self.root.holder_pid
        return f"/proc/{pid}/root{path}" if pid else path

    async def _start_container(self, ex):
        try:
            await asyncio.to_thread(self._prepare_and_launch, ex)
        except Exception as exc:        # fetch, volume or exec failures
            log.info("agent %s: container for %s failed: %s", self.name, ex.id, exc)
            await self._terminate(ex, reason="REASON_CONTAINER_LAUNCH_FAILED",
                                  message=f"Failed to launch container: {exc}")
            return
        if ex.state == "terminated":
            # Destroyed while it was being prepared: undo what the preparation still did.
            if ex.proc is not None:
                containerizer.kill_session(ex.proc.pid)
                await asyncio.to_thread(ex.proc.wait, 10)
            vols, ex.volumes = ex.volumes, []
            await asyncio.to_thread(self.vols.release, self.root, self.config, ex.container_id, vols)
            return
        ex.state = "running"
        if ex.kind == "custom":
            ex.timers.append(self.clock.call_later(self.config.executor_registration_timeout,
                                                   self._registration_timeout, ex))
        else:
            self._deliver(ex)

    def _prepare_and_launch(self, ex):
        ex.directory = containerizer.sandbox_path(self.work_dir, self.agent_id, ex.fid, ex.id, ex.container_id)
        tasks = [t for tasks, _ in ex.queue for t in tasks]
        for info in [ex.info or {}] + tasks:
            ctype = (info.get("container") or {}).get("type", "MESOS")
            if ctype != "MESOS":
                # Only the Mesos containerizer exists here (no docker daemon in the sandbox).
                raise containerizer.LaunchError(
                    f"No containerizer supports ContainerInfo type '{ctype}' (--containerizers="
                    f"{self.config.flags.get('containerizers', 'mesos')}; only 'mesos' is available)")
        wanted = volumes.requested_volumes(ex.info, tasks)
        for kind in sorted({v["kind"] for v in wanted}):
            why = volumes.volume_support(self.root, self.config, kind)
            if why:
                raise volumes.VolumeError(why)
        if "docker/volume" in self.config.isolation:
            self.vols.checkpoint(self.root, self.config, ex.container_id, wanted)
        for vol in wanted:
            if vol["kind"] == "dvdi" and not (volumes.DVDI_MODULE in self.config.isolation):
                continue
            point = self.vols.mount(self.root, vol)
            ex.volumes.append(vol)
            cpath = vol["container_path"]
            if point and cpath and not cpath.startswith("/"):
                link = os.path.join(ex.directory, cpath)
                if not os.path.lexists(link):
                    os.symlink(point, link)
        if ex.kind == "custom":
            grace = ex.info.get("shutdown_grace_period", {}).get("nanoseconds")
            ex.grace = grace / 1e9 if grace else self.config.executor_shutdown_grace_period
            env = self._env(ex, ex.info.get("command", {}).get("environment"))
            ex.proc = containerizer.launch(self.root, ex.info["command"], env, ex.directory, self._resolve_local)

    def _env(self, ex, command_env):
        return containerizer.executor_environment(
            agent=self, fid=ex.fid, eid=ex.id, directory=ex.directory, checkpoint=ex.checkpoint,
            grace_period=ex.grace, base_env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                              "HOME": "/root", "LANG": "C.UTF-8"}, command_env=command_env)

    def _registration_timeout(self, ex):
        if not ex.ever_subscribed and ex.state not in ("terminated",):
            asyncio.ensure_future(self._terminate(ex, reason="REASON_EXECUTOR_REGISTRATION_TIMEOUT",
                                                  message="Executor did not register within "
                                                          f"{self.config.executor_registration_timeout:g}secs"))

    def _deliver(self, ex):
        """Send queued tasks to a subscribed custom executor, or start them in a built-in one."""
        queue, ex.queue = ex.queue, []
        for tasks, group in queue:
            for task in tasks:
                t = self.tasks.get((ex.fid, task["task_id"]["value"]))
                if t is not None:
                    t.delivered = True
            if ex.kind == "custom":
                if group:
                    ex.stream.send({"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": tasks}}})
                else:
                    for task in tasks:
                        ex.stream.send({"type": "LAUNCH", "launch": {"task": task}})
            else:
                for task in tasks:
                    asyncio.ensure_future(self._run_builtin_task(ex, task))

    async def _run_builtin_task(self, ex, task):
        """The command/default executor: STARTING, RUNNING, then FINISHED/FAILED/KILLED from the exit."""
        tid = task["task_id"]["value"]
        self._executor_side_update(ex, tid, "TASK_STARTING")
        env = self._env(ex, task["command"].get("environment"))
        try:
            proc = await asyncio.to_thread(containerizer.launch, self.root, task["command"], env, ex.directory,
                                           self._resolve_local)
        except Exception as exc:
            self._executor_side_update(ex, tid, "TASK_FAILED", message=f"Failed to launch command: {exc}")
            return
        ex.task_procs[tid] = proc
        self._executor_side_update(ex, tid, "TASK_RUNNING")

    def _kill_builtin_task(self, ex, task, kill_policy=None):
        """The command/default executor's kill: TASK_KILLING (frameworks with TASK_KILLING_STATE), SIGTERM
        to the task's process tree, SIGKILL once the grace period is over (the KILL call's policy, else
        the task's, else 3 s); the exit then reports TASK_KILLED."""
        tid = task.info["task_id"]["value"]
        proc = ex.task_procs.get(tid)
        if proc is None or tid in ex.killed_tasks:
            return
        ex.killed_tasks.add(tid)
        caps = {c.get("type") for c in ex.framework_info.get("capabilities", []) if isinstance(c, dict)}
        if "TASK_KILLING_STATE" in caps:
            self._executor_side_update(ex, tid, "TASK_KILLING")
        containerizer.kill_session(proc.pid, signal.SIGTERM)
        grace = KILL_GRACE_S
        for policy in (kill_policy, task.info.get("kill_policy")):
            nanos = ((policy or {}).get("grace_period") or {}).get("nanoseconds")
            if nanos is not None:
                grace = max(0.0, int(nanos) / 1e9)
                break

        def escalate():
            if proc.poll() is None:
                containerizer.kill_session(proc.pid)
        ex.timers.append(self.clock.call_later(grace, escalate))

    def _executor_side_update(self, ex, tid, state, message=None, reason=None):
        status = {"task_id": idv(tid), "state": state, "source": "SOURCE_EXECUTOR", "uuid": b64(os.urandom(16)),
                  "timestamp": now(), "executor_id": idv(ex.id)}
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        self._accept_update(ex.fid, status)

    def executor_subscribed(self, ex, stream, subscribe):
        if ex.state in ("terminating", "terminated") or ex.fid in self.removing:
            stream.send({"type": "SHUTDOWN"})
            stream.close()
            return
        if ex.stream is not None:
            old, ex.stream = ex.stream, None
            old.close()
        ex.stream = stream
        ex.ever_subscribed = True
        was_reregistering, ex.reregistering = ex.reregistering, False
        stream.on_close = lambda s, ex=ex: self._executor_stream_closed(ex, s)
        stream.send({"type": "SUBSCRIBED", "subscribed": {
            "executor_info": dict(ex.info, framework_id=idv(ex.fid)),
            "framework_info": dict(ex.framework_info),
            "agent_info": {"hostname": self.hostname, "port": self.port, "id": idv(self.agent_id),
                           "resources": self._resources_proto(), "attributes": self.attributes_proto()},
            "container_id": idv(ex.container_id)}})
        for item in subscribe.get("unacknowledged_updates", []) or []:
            status = (item or {}).get("status")
            if isinstance(status, dict) and status.get("uuid") and status.get("task_id"):
                self._accept_update(ex.fid, dict(status, source="SOURCE_EXECUTOR", executor_id=idv(ex.id)))
        if was_reregistering:
            unacked = {t.get("task_id", {}).get("value") for t in subscribe.get("unacknowledged_tasks", []) or []}
            for tid in list(ex.tasks):
                t = self.tasks.get((ex.fid, tid))
                if t is not None and t.delivered and t.state == "TASK_STAGING" and tid not in unacked:
                    state = "TASK_DROPPED" if self._partition_aware(ex.fid) else "TASK_LOST"
                    self._agent_update(ex.fid, tid, ex.id, state, "REASON_AGENT_RESTARTED",
                                       "Task launched during agent restart")
        self._deliver(ex)

    def _resources_proto(self):
        return res.to_proto(self.total_resources, self.role)

    def _executor_stream_closed(self, ex, stream):
        if ex.stream is stream:
            ex.stream = None            # a real agent does nothing else: the executor must reconnect

    def executor_update(self, ex, status):
        status = dict(status, executor_id=idv(ex.id), source="SOURCE_EXECUTOR")
        status.setdefault("timestamp", now())
        self._accept_update(ex.fid, status)
        if ex.stream is not None:
            ex.stream.send({"type": "ACKNOWLEDGED", "acknowledged": {"task_id": status["task_id"],
                                                                     "uuid": status["uuid"]}})

    def executor_message(self, ex, data):
        if self.linked and ex.fid not in self.removing:
            self.master.executor_message(self.agent_id, ex.fid, ex.id, data)

    def _accept_update(self, fid, status):
        if fid in self.removing:
            return
        status = dict(status, agent_id=idv(self.agent_id))
        tid = status["task_id"]["value"]
        task = self.tasks.get((fid, tid))
        if task is not None:
            if task.state in TERMINAL_STATES and status["state"] not in TERMINAL_STATES:
                return                  # a terminal task never goes back
            if status["state"] == "TASK_RUNNING" and "container_status" not in status:
                ex = self.executors.get((fid, task.executor_id))
                status["container_status"] = {
                    "container_id": idv(ex.container_id) if ex else idv(new_uuid()),
                    "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": self.ip}]}]}
            if self.sum.update(fid, status):
                task.state = status["state"]
                task.status = status
        else:
            self.sum.update(fid, status)

    def _agent_update(self, fid, tid, eid, state, reason, message, register=None):
        """A reliable update generated by the agent itself (SOURCE_AGENT, with a uuid)."""
        if register is not None:
            self.tasks[(fid, tid)] = AgentTask(register, eid)
        status = {"task_id": idv(tid), "state": state, "source": "SOURCE_AGENT", "reason": reason,
                  "message": message, "uuid": b64(os.urandom(16)), "timestamp": now()}
        if eid:
            status["executor_id"] = idv(eid)
        self._accept_update(fid, status)

    def _forward_update(self, fid, status):
        if self.linked and fid not in self.removing:
            self.master.status_update(self.agent_id, fid, status)

    async def _shutdown_executor(self, ex):
        if ex.state in ("terminating", "terminated"):
            return
        if ex.kind != "custom":
            await self._terminate(ex, updates=ex.fid not in self.removing,
                                  state="TASK_KILLED", reason="REASON_EXECUTOR_TERMINATED",
                                  message="Executor shut down")
            return
        ex.state = "terminating"
        if ex.stream is not None:
            ex.stream.send({"type": "SHUTDOWN"})
        deadline = self.clock.deadline(ex.grace)
        while ex.proc is not None and ex.proc.poll() is None and self.clock.now() < deadline:
            await asyncio.sleep(0.05)
        if ex.state != "terminated":
            await self._terminate(ex, updates=ex.fid not in self.removing)

    async def _terminate(self, ex, *, updates=True, state="TASK_FAILED", reason="REASON_EXECUTOR_TERMINATED",
                         message=None, status=None, purge=None, release_volumes=True):
        """Destroy the container and report: TASK_x for every live task, then FAILURE via the master.
        ``release_volumes=False`` when the host itself goes down: nothing runs ``dvdcli unmount``, so
        the volume stays mapped to this host's SDC and its checkpoint stays (lost with /var/run on
        reboot, or found by the agent's next start when the checkpoint dir is on disk)."""
        if ex.state == "terminated":
            return
        ex.state = "terminated"
        for timer in ex.timers:
            timer.cancel()
        ex.timers = []
        procs = [p for p in [ex.proc, *ex.task_procs.values()] if p is not None]
        for proc in procs:
            containerizer.kill_session(proc.pid)
        for proc in procs:
            try:
                await asyncio.to_thread(proc.wait, 10)
            except Exception:
                pass
        if status is None and ex.proc is not None:
            status = containerizer.wait_status(ex.proc.returncode)
        if ex.stream is not None:
            stream, ex.stream = ex.stream, None
            stream.close()
        if ex.volumes:
            vols, ex.volumes = ex.volumes, []
            if release_volumes:
                await asyncio.to_thread(self.vols.release, self.root, self.config, ex.container_id, vols)
        if updates and ex.fid not in self.removing:
            if message is None:
                message = "Executor terminated" if not status else \
                    f"Abnormal executor termination: {self._describe(status)}"
            for tid in sorted(ex.tasks):
                t = self.tasks.get((ex.fid, tid))
                if t is not None and t.state not in TERMINAL_STATES:
                    self._agent_update(ex.fid, tid, ex.id, state, reason, message)
        if self.executors.get((ex.fid, ex.id)) is ex:
            del self.executors[(ex.fid, ex.id)]
        self.completed_executors.add(ex, self.tasks)
        if (not updates) if purge is None else purge:
            for tid in ex.tasks:
                self.tasks.pop((ex.fid, tid), None)
        if self.linked and ex.fid not in self.removing:
            self.master.executor_exited(self.agent_id, ex.fid, ex.id, status or 0)

    @staticmethod
    def _describe(status):
        if status & 0x7F:
            return f"terminated by signal {status & 0x7F}"
        return f"exited with status {status >> 8}"

    async def _destroy_all(self, updates, release_volumes=True):
        for ex in list(self.executors.values()):
            await self._terminate(ex, updates=updates, release_volumes=release_volumes)
        self.executors.clear()

    async def _watch_processes(self):
        """Reap exited executor processes (and built-in task processes)."""
        while True:
            await asyncio.sleep(0.1)
            for ex in list(self.executors.values()):
                if ex.state == "terminated":
                    continue
                if ex.proc is not None and ex.proc.poll() is not None:
                    await self._terminate(ex, status=containerizer.wait_status(ex.proc.returncode))
                    continue
                for tid, proc in list(ex.task_procs.items()):
                    rc = proc.poll()
                    if rc is None:
                        continue
                    del ex.task_procs[tid]
                    # As the command executor: killed wins over the exit status; WSTRINGIFY messages.
                    state = "TASK_KILLED" if tid in ex.killed_tasks else \
                        "TASK_FINISHED" if rc == 0 else "TASK_FAILED"
                    self._executor_side_update(ex, tid, state, message=f"Command {describe_exit(rc)}")
                    if ex.kind == "command" or (ex.kind == "default" and not ex.task_procs and not ex.queue):
                        await self._terminate(ex, updates=False, purge=False,
                                              status=containerizer.wait_status(rc))
