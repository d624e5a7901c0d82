"""Simulated-executor agents, for benchmarks only (never for end-to-end tests).

A :class:`SimAgent` has no root, no HTTP server and no processes: a launched task goes TASK_RUNNING at
once and TASK_FINISHED after its duration (emulated seconds; ``None``: it runs until killed). The
duration is, first match wins: the task label ``sim_duration``; the first ``task_durations`` entry
(``(regex, seconds)`` pairs, or a dict) whose regex matches the start of the TaskInfo ``name`` (how a
benchmark gives each kind of step its own duration without the framework knowing it is simulated);
``task_duration``. A label ``sim_result`` (``FINISHED``/``FAILED``) picks the end state.
Updates still go through the reliable status update manager, so schedulers must acknowledge them.
One process can carry thousands of these.
"""
import os
import re

from . import flags as flagmod
from . import resources as res
from .protocol import TERMINAL_STATES, b64, idv, now
from .status_updates import StatusUpdateManager


def compile_durations(task_durations):
    """``{regex: seconds}`` or ``[(regex, seconds), ...]`` -> ``[(compiled regex, float | None)]`` (order kept)."""
    items = task_durations.items() if isinstance(task_durations, dict) else task_durations
    return [(re.compile(p), None if s is None else float(s)) for p, s in items]


class SimAgent:
    def __init__(self, spec, *, master, clock, task_duration=5.0, update_retry=(10.0, 600.0), task_durations=()):
        self.spec = spec
        self.name = spec.name
        self.ip = spec.ip
        self.port = spec.port
        self.hostname = spec.hostname
        self.version = spec.version
        self.role = spec.role
        self.total_resources = res.norm(spec.resources)
        self.master = master
        self.clock = clock
        self.task_duration = task_duration
        self.task_durations = compile_durations(task_durations)
        self.agent_id = None
        self.state = "stopped"
        self.tasks = {}                 # (fid, tid) -> [info, eid, state, status, timer]
        self.executors = {}             # (fid, eid) -> ExecutorInfo
        self.sum = StatusUpdateManager(clock, self._forward, *update_retry)
        self.root = None
        self.failure = None
        self.partitioned = False
        self.booting = False

    def attributes_proto(self):
        return flagmod.attributes_proto(self.spec.attributes)

    async def start(self):
        self.state = "running"
        self.agent_id = self.master.register_agent(self, None)
        return True

    async def shutdown(self):
        self.state = "stopped"
        self.sum.stop()
        for entry in self.tasks.values():
            if entry[4] is not None:
                entry[4].cancel()

    async def stop_process(self):
        self.state = "stopped"
        self.sum.paused = True
        self.master.agent_disconnected(self.agent_id)

    async def boot(self):
        self.state = "running"
        self.master.register_agent(self, self.agent_id)
        self.sum.paused = False
        self.sum.resend_all()
        return True

    async def restart(self, down_seconds=0.0):
        await self.stop_process()
        await self.clock.sleep(down_seconds)
        return await self.boot()

    def partition(self):
        self.partitioned = True
        self.sum.paused = True
        self.master.mark_unreachable(self.agent_id)

    def heal(self):
        self.partitioned = False
        self.master.register_agent(self, self.agent_id)
        self.sum.paused = False
        self.sum.resend_all()

    def report_state(self):
        return ({k: (v[0], v[1], v[2], v[3]) for k, v in self.tasks.items()},
                {k: dict(v, framework_id=idv(k[0])) for k, v in self.executors.items()})

    def _forward(self, fid, status):
        if self.state == "running" and not self.partitioned:
            self.master.status_update(self.agent_id, fid, status)

    def _update(self, fid, tid, state, message=None):
        entry = self.tasks.get((fid, tid))
        if entry is None or entry[2] in TERMINAL_STATES:
            return
        status = {"task_id": idv(tid), "state": state, "source": "SOURCE_EXECUTOR", "uuid": b64(os.urandom(16)),
                  "timestamp": now(), "agent_id": idv(self.agent_id)}
        if entry[1]:
            status["executor_id"] = idv(entry[1])
        if message:
            status["message"] = message
        entry[2], entry[3] = state, status
        self.sum.update(fid, status)

    def launch(self, framework_info, executor_info, tasks, group):
        fid = framework_info["id"]["value"]
        eid = executor_info["executor_id"]["value"] if executor_info else None
        if executor_info:
            self.executors[(fid, eid)] = executor_info
        for task in tasks:
            tid = task["task_id"]["value"]
            labels = {lab.get("key"): lab.get("value") for lab in (task.get("labels") or {}).get("labels", [])}
            duration = float(labels["sim_duration"]) if "sim_duration" in labels else self.duration_for(task)
            result = "TASK_" + labels.get("sim_result", "FINISHED").upper()
            self.tasks[(fid, tid)] = [task, eid, "TASK_STAGING", None, None]
            self._update(fid, tid, "TASK_RUNNING")
            if duration is not None:
                self.tasks[(fid, tid)][4] = self.clock.call_later(duration, self._update, fid, tid, result)

    def duration_for(self, task):
        """Emulated seconds ``task`` runs for (without a ``sim_duration`` label): see the module docstring."""
        name = task.get("name") or ""
        for pattern, seconds in self.task_durations:
            if pattern.match(name):
                return seconds
        return self.task_duration

    def kill_task(self, fid, tid, kill_policy=None):
        entry = self.tasks.get((fid, tid))
        if entry is not None:
            if entry[4] is not None:
                entry[4].cancel()
            self._update(fid, tid, "TASK_KILLED")

    def acknowledge(self, fid, tid, uuid_b64):
        acked = self.sum.acknowledge(fid, tid, uuid_b64)
        if acked is not None and acked["state"] in TERMINAL_STATES:
            self.tasks.pop((fid, tid), None)

    def shutdown_executor(self, fid, eid):
        for (f, tid), entry in list(self.tasks.items()):
            if f == fid and entry[1] == eid:
                self.kill_task(fid, tid)
        if self.executors.pop((fid, eid), None) is not None:
            self.master.executor_exited(self.agent_id, fid, eid, 9)

    def framework_message(self, fid, eid, data):
        # The simulated executor echoes framework messages back.
        self.master.executor_message(self.agent_id, fid, eid, data)

    def shutdown_framework(self, fid):
        self.sum.drop_framework(fid)
        for key in [k for k in self.tasks if k[0] == fid]:
            entry = self.tasks.pop(key)
            if entry[4] is not None:
                entry[4].cancel()
        for key in [k for k in self.executors if k[0] == fid]:
            del self.executors[key]
