"""``/master/state``: the master's v0 JSON state (agents with resources, attributes and roles,
frameworks with tasks, executors and offers, completed frameworks)."""
from . import resources as res


class StateMixin:
    def state(self, ep):
        leader = self.leader_endpoint
        return {
            "version": self.version, "id": ep.master_id, "pid": f"master@{ep.host}:{ep.port}",
            "hostname": ep.host, "activated_slaves": sum(1 for a in self.agents.values() if a.state == "active"),
            "deactivated_slaves": 0, "unreachable_slaves": sum(1 for a in self.agents.values()
                                                               if a.state == "unreachable"),
            "leader": f"master@{leader.host}:{leader.port}" if leader else None,
            "leader_info": self.master_info(leader) if leader else None,
            "flags": {"heartbeat_interval": f"{self.heartbeat_interval}secs", "roles": "", "root_submissions": "true"},
            "slaves": [self._agent_state(a) for a in self.agents.values()],
            "frameworks": [self._framework_state(f) for f in self.frameworks.values()],
            "completed_frameworks": [{"id": fid, "name": info.get("name"), "active": False}
                                     for fid, info in self.completed.items()],
            "orphan_tasks": [], "unregistered_frameworks": [],
        }

    @staticmethod
    def _bag_v0(bag):
        out = {k: v for k, v in bag.items() if not isinstance(v, list)}
        for name in ("cpus", "mem", "disk", "gpus"):
            out.setdefault(name, 0.0)
        for name, ranges in bag.items():
            if isinstance(ranges, list):
                out[name] = "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"
        return out

    def _agent_state(self, a):
        attributes = {}
        for attr in a.attributes:
            if attr.get("type") == "TEXT":
                attributes[attr["name"]] = attr["text"]["value"]
            elif attr.get("type") == "SCALAR":
                attributes[attr["name"]] = attr["scalar"]["value"]
        total = self._bag_v0(a.total)
        return {"id": a.id, "pid": f"slave(1)@{a.ip}:{a.port}", "hostname": a.hostname, "port": a.port,
                "registered_time": a.registered_time, "resources": total, "used_resources": self._bag_v0(a.used()),
                "offered_resources": self._bag_v0(res.subtract(res.subtract(a.total, a.used()), a.free())),
                "reserved_resources": {a.role: total} if a.role != "*" else {},
                "unreserved_resources": total if a.role == "*" else self._bag_v0({}),
                "attributes": attributes, "active": a.state == "active", "version": a.version,
                "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
                "domain": None, "reserved_resources_full": {}, "state": a.state}

    def _framework_state(self, f):
        tasks = []
        for t in f.tasks.values():
            tasks.append({"id": t.id, "name": t.info.get("name"), "framework_id": f.id,
                          "executor_id": t.executor_id or "", "slave_id": t.agent_id, "state": t.state,
                          "resources": self._bag_v0(t.bag), "role": t.role, "statuses": t.statuses})
        executors = [{"executor_id": eid, "framework_id": fid, "slave_id": a.id, "name": info.get("name", ""),
                      "command": info.get("command", {})}
                     for a in self.agents.values() for (fid, eid), info in a.executors.items() if fid == f.id]
        return {"id": f.id, "name": f.info.get("name"), "user": f.info.get("user"), "role": f.info.get("role", "*"),
                "roles": f.roles, "active": f.connected, "connected": f.connected,
                "failover_timeout": f.info.get("failover_timeout", 0.0), "checkpoint": f.checkpoint,
                "capabilities": sorted(f.capabilities), "hostname": f.info.get("hostname", ""),
                "webui_url": f.info.get("webui_url", ""), "principal": f.info.get("principal"),
                "registered_time": f.registered_time, "tasks": tasks, "executors": executors,
                "offers": [self._offer_v0(self.offers[o]) for o in f.offers if o in self.offers],
                "suppressed_roles": sorted(f.suppressed), "completed_tasks": []}

    def _offer_v0(self, o):
        return {"id": o.id, "framework_id": o.framework_id, "slave_id": o.agent_id,
                "resources": self._bag_v0(o.bag)}

    def state_part(self, which, ep):
        """``/master/slaves``, ``/master/frameworks`` or ``/master/tasks``."""
        state = self.state(ep)
        if which == "slaves":
            return {"slaves": state["slaves"], "recovered_slaves": []}
        if which == "frameworks":
            return {"frameworks": state["frameworks"], "completed_frameworks": state["completed_frameworks"],
                    "unregistered_frameworks": []}
        return {"tasks": [t for f in state["frameworks"] for t in f["tasks"]]}
