"""Task reconciliation answers of the master (mesos-http-api.md section 5): explicit (one answer per
task, or silence while agents recover) and implicit (every task the master still knows)."""
from .protocol import TERMINAL_STATES


class ReconcileMixin:
    def _latest_state(self, task):
        return task.status_update_state or task.state

    def _reconcile(self, fw, items):
        pa = fw.partition_aware
        if not items:
            for task in list(fw.tasks.values()):
                self._send_update(fw, self._reconcile_known(task))
            return
        for item in items:
            tid = item["task_id"]["value"]
            aid = (item.get("agent_id") or {}).get("value")
            task = fw.tasks.get(tid)
            if task is not None and (aid is None or aid == task.agent_id):
                self._send_update(fw, self._reconcile_known(task))
                continue
            agent = self.agents.get(aid) if aid else None
            if aid is None and any(a.state == "recovering" for a in self.agents.values()):
                continue                # unknown task while an agent is still recovering: no answer
            if agent is not None and agent.state == "recovering":
                continue
            if agent is not None and agent.state == "unreachable":
                state = "TASK_UNREACHABLE"
                extra = {"unreachable_time": {"nanoseconds": int(agent.unreachable_time * 1e9)}}
            elif agent is not None:
                state, extra = "TASK_GONE", {}
            elif aid is not None and aid in self.gone_agents:
                state, extra = "TASK_GONE_BY_OPERATOR", {}
            else:
                state, extra = "TASK_UNKNOWN", {}
            message = "Reconciliation: Task is unknown" if state == "TASK_UNKNOWN" else \
                "Reconciliation: Task is unknown to the agent"
            if not pa:
                state = "TASK_LOST"
            self._send_update(fw, self._status(fw, tid, state, "REASON_RECONCILIATION", message, agent_id=aid, **extra))

    def _reconcile_known(self, task):
        agent = self.agents.get(task.agent_id)
        fw = self.frameworks[task.framework_id]
        state = self._latest_state(task)
        extra = {}
        if agent is not None and agent.state == "unreachable" and state not in TERMINAL_STATES:
            state = "TASK_UNREACHABLE" if fw.partition_aware else "TASK_LOST"
            extra["unreachable_time"] = {"nanoseconds": int(agent.unreachable_time * 1e9)}
        status = self._status(fw, task.id, state, "REASON_RECONCILIATION", "Reconciliation: Latest task state",
                              agent_id=task.agent_id, executor_id=task.executor_id, **extra)
        if task.status and "healthy" in task.status:
            status["healthy"] = task.status["healthy"]
        return status
