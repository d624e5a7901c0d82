"""The master's operator API (``POST /api/v1``; pymesos's operator driver uses ``/api/v1/operator``).

Calls: SUBSCRIBE (RecordIO stream: SUBSCRIBED with ``get_state``, HEARTBEAT, AGENT_ADDED,
AGENT_REMOVED, TASK_ADDED, TASK_UPDATED), GET_AGENTS, GET_STATE, GET_FRAMEWORKS, GET_TASKS,
GET_VERSION, GET_HEALTH, GET_MASTER. Other known operator calls answer 501, as an unimplemented
call would.
"""
import asyncio

from . import resources as res
from .httpserver import Response, Stream, json_response
from .protocol import CallError, check_accept, check_transport, idv, invalid

SUPPORTED = {"SUBSCRIBE", "GET_AGENTS", "GET_STATE", "GET_FRAMEWORKS", "GET_TASKS", "GET_VERSION", "GET_HEALTH",
             "GET_MASTER"}


class OperatorApi:
    def __init__(self, master):
        self.master = master
        self.streams = set()

    async def handle(self, request):
        try:
            call = check_transport(request)
            ctype = call.get("type")
            if ctype is None:
                raise invalid("Expecting 'type' to be present", "master::Call")
            if not isinstance(ctype, str):
                raise CallError(400, "Failed to convert JSON into Call protobuf: type must be a string")
            if ctype not in SUPPORTED:
                raise CallError(501, f"Call {ctype} is not supported by this master")
            check_accept(request)
            if ctype == "SUBSCRIBE":
                return self._subscribe()
            body = getattr(self, "_" + ctype.lower())()
            return json_response(dict({"type": ctype}, **body))
        except CallError as exc:
            return exc.response()

    # ------------------------------------------------------------------ queries
    def agent_json(self, rec):
        return {"agent_info": rec.agent_info(), "active": rec.state == "active", "deactivated": False,
                "version": rec.version, "pid": f"slave(1)@{rec.ip}:{rec.port}",
                "registered_time": {"nanoseconds": int(rec.registered_time * 1e9)},
                "total_resources": res.to_proto(rec.total, rec.role),
                "allocated_resources": res.to_proto(rec.used(), rec.role),
                "offered_resources": res.to_proto(res.subtract(res.subtract(rec.total, rec.used()), rec.free()),
                                                  rec.role),
                "capabilities": [{"type": t} for t in ("MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT")]}

    def _get_agents(self):
        m = self.master
        return {"get_agents": {"agents": [self.agent_json(a) for a in m.agents.values() if a.state != "unreachable"],
                               "recovered_agents": [],
                               "unreachable_agents": [a.agent_info() for a in m.agents.values()
                                                      if a.state == "unreachable"]}}

    def task_json(self, task):
        out = {"name": task.info.get("name", ""), "task_id": idv(task.id), "framework_id": idv(task.framework_id),
               "agent_id": idv(task.agent_id), "state": task.state,
               "resources": res.to_proto(task.bag, "*"), "statuses": [task.status] if task.status else []}
        if task.executor_id:
            out["executor_id"] = idv(task.executor_id)
        return out

    def _get_tasks(self):
        return {"get_tasks": {"tasks": [self.task_json(t) for f in self.master.frameworks.values()
                                        for t in f.tasks.values()]}}

    def _get_frameworks(self):
        m = self.master
        return {"get_frameworks": {"frameworks": [
            {"framework_info": f.info, "active": f.connected, "connected": f.connected, "recovered": False,
             "registered_time": {"nanoseconds": int(f.registered_time * 1e9)}} for f in m.frameworks.values()],
            "completed_frameworks": [{"framework_info": i, "active": False, "connected": False, "recovered": False}
                                     for i in m.completed.values()]}}

    def _get_state(self):
        return {"get_state": dict(self._get_tasks(), **self._get_agents(), **self._get_frameworks(),
                                  get_executors={"executors": []})}

    def _get_version(self):
        return {"get_version": {"version_info": self.master.version_json()}}

    def _get_health(self):
        return {"get_health": {"healthy": True}}

    def _get_master(self):
        return {"get_master": {"master_info": self.master.master_info()}}

    # ------------------------------------------------------------------ events
    def _subscribe(self):
        stream = Stream(on_close=self.streams.discard)
        stream.send({"type": "SUBSCRIBED", "subscribed": {
            "get_state": self._get_state()["get_state"],
            "heartbeat_interval_seconds": float(self.master.heartbeat_interval)}})
        stream.send({"type": "HEARTBEAT"})
        self.streams.add(stream)
        asyncio.ensure_future(self._heartbeats(stream))
        return stream

    async def _heartbeats(self, stream):
        while not stream.closed:
            await self.master.clock.sleep(self.master.heartbeat_interval)
            stream.send({"type": "HEARTBEAT"})

    def _broadcast(self, event):
        for stream in list(self.streams):
            stream.send(event)

    def agent_added(self, rec):
        self._broadcast({"type": "AGENT_ADDED", "agent_added": {"agent": self.agent_json(rec)}})

    def agent_removed(self, rec):
        self._broadcast({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": idv(rec.id)}})

    def task_added(self, task):
        self._broadcast({"type": "TASK_ADDED", "task_added": {"task": self.task_json(task)}})

    def task_updated(self, task, status):
        self._broadcast({"type": "TASK_UPDATED", "task_updated": {
            "framework_id": idv(task.framework_id), "status": status, "state": task.state}})

    def close_all(self):
        for stream in list(self.streams):
            stream.close(graceful=False)
        self.streams.clear()


__all__ = ["OperatorApi", "Response"]
