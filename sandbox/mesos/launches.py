"""ACCEPT/DECLINE handling of the master (``Master::accept``, mesos-http-api.md section 1.7): offer
validity, per-task validation (TASK_ERROR), invalid offers (TASK_LOST/TASK_DROPPED), resource checks
with executor resources counted once, refuse filters for what was not used."""
from . import resources as res
from .model import Task
from .protocol import idv


class LaunchMixin:
    def _launch_tasks_of(self, operations):
        for op in operations:
            if op.get("type") == "LAUNCH":
                yield from (op.get("launch") or {}).get("task_infos", [])
            elif op.get("type") == "LAUNCH_GROUP":
                yield from ((op.get("launch_group") or {}).get("task_group") or {}).get("tasks", [])

    def _accept(self, fw, body):
        oids = [o["value"] for o in body.get("offer_ids", [])]
        operations = body.get("operations", [])
        error = None
        if not oids:
            error = "No offers specified"
        else:
            offers = []
            for oid in oids:
                offer = self.offers.get(oid)
                if offer is None or offer.framework_id != fw.id or oids.count(oid) > 1:
                    error = f"Offer {oid} is no longer valid"
                    break
                offers.append(offer)
            if error is None and len({(o.agent_id, o.role) for o in offers}) > 1:
                error = "Aggregated offers must belong to one single agent and role"
        if error is not None:
            for oid in oids:
                offer = self.offers.get(oid)
                if offer is not None and offer.framework_id == fw.id:
                    self.discard_offer(oid)
            state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
            for task in self._launch_tasks_of(operations):
                self._send_update(fw, self._status(fw, task["task_id"]["value"], state, "REASON_INVALID_OFFERS",
                                                   f"Task launched with invalid offers: {error}"))
            self.allocator.wake()
            return
        for oid in oids:
            self.discard_offer(oid)
        agent = self.agents.get(offers[0].agent_id)
        if agent is None or agent.state != "active":
            # The agent went away after the offer was made (its offers are being rescinded).
            state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
            for task in self._launch_tasks_of(operations):
                self._send_update(fw, self._status(fw, task["task_id"]["value"], state, "REASON_AGENT_DISCONNECTED",
                                                   "Agent is not connected", agent_id=offers[0].agent_id))
            return
        role = offers[0].role
        available = {}
        for offer in offers:
            available = res.add(available, offer.bag)
        new_executors = {}
        for op in operations:
            kind = op.get("type")
            if kind == "LAUNCH":
                for task in (op.get("launch") or {}).get("task_infos", []):
                    available = self._launch(fw, agent, role, available, new_executors, [task], None)
            elif kind == "LAUNCH_GROUP":
                group = op["launch_group"]
                available = self._launch(fw, agent, role, available, new_executors,
                                         (group.get("task_group") or {}).get("tasks", []), group["executor"])
            # RESERVE/CREATE/...: not supported by this emulator; ignored like an operation without feedback.
        filters = body.get("filters") or {}
        self.add_filter(fw, agent.id, role, available, filters.get("refuse_seconds"))
        self.allocator.wake()

    def _task_error(self, fw, task, message, reason="REASON_TASK_INVALID"):
        self._send_update(fw, self._status(fw, task["task_id"]["value"], "TASK_ERROR", reason, message,
                                           agent_id=task.get("agent_id", {}).get("value")))

    def _executor_problem(self, fw, agent, executor, group):
        if executor.get("type", "CUSTOM") not in (("CUSTOM", "DEFAULT") if group else ("CUSTOM",)):
            return "'ExecutorInfo.type' must be 'CUSTOM'"
        if executor.get("type", "CUSTOM") == "CUSTOM" and "command" not in executor:
            return "Executor must have a CommandInfo"
        if executor.get("framework_id", {}).get("value", fw.id) != fw.id:
            return "ExecutorInfo has an invalid FrameworkID"
        return None

    def _launch(self, fw, agent, role, available, new_executors, tasks, group_executor):
        """Validate one LAUNCH task or one LAUNCH_GROUP; send valid work to the agent; return what is left."""
        group = group_executor is not None
        problems = {}
        seen = set()
        executor = None
        if group:
            executor = dict(group_executor, framework_id=idv(fw.id))
            executor.setdefault("type", "DEFAULT")
        for task in tasks:
            tid = task["task_id"]["value"]
            existing = fw.tasks.get(tid)
            if (existing is not None and not existing.terminal) or tid in seen:
                problems[tid] = f"Task has duplicate ID: {tid}"
            elif task["agent_id"]["value"] != agent.id:
                problems[tid] = (f"Task uses agent {task['agent_id']['value']} but offer is for {agent.id}")
            elif not task.get("resources"):
                problems[tid] = "Task uses no resources"
            elif not group and ("executor" in task) == ("command" in task):
                problems[tid] = ("Task should have at least one (but not both) of CommandInfo or ExecutorInfo "
                                 "present")
            elif group and "executor" in task:
                problems[tid] = "'TaskInfo.executor' must not be set"
            elif group and "command" not in task and executor.get("type") == "DEFAULT":
                problems[tid] = "Task in a group run by the default executor must have a CommandInfo"
            seen.add(tid)
            if tid not in problems:
                try:
                    res.from_proto(task["resources"])
                except (ValueError, KeyError, TypeError) as exc:
                    problems[tid] = f"Invalid resources: {exc}"
        if group and not problems:
            why = self._executor_problem(fw, agent, executor, True)
            if why:
                problems = {t["task_id"]["value"]: why for t in tasks}
        if not group and not problems and "executor" in tasks[0]:
            executor = dict(tasks[0]["executor"], framework_id=idv(fw.id))
            executor.setdefault("type", "CUSTOM")
            why = self._executor_problem(fw, agent, executor, False)
            if why:
                problems[tasks[0]["task_id"]["value"]] = why
        if executor is not None and not problems:
            eid = executor["executor_id"]["value"]
            known = agent.executors.get((fw.id, eid)) or new_executors.get(eid)
            if known is not None and known != executor:
                problems = {t["task_id"]["value"]: "ExecutorInfo is not compatible with existing ExecutorInfo "
                                                   "with same ExecutorID" for t in tasks}
        needed = {}
        if not problems:
            for task in tasks:
                needed = res.add(needed, res.from_proto(task["resources"]))
            if executor is not None:
                eid = executor["executor_id"]["value"]
                if (fw.id, eid) not in agent.executors and eid not in new_executors:
                    needed = res.add(needed, res.from_proto(executor.get("resources", [])))
            if not res.contains(available, needed):
                problems = {t["task_id"]["value"]: "Task uses more resources than available in the offer"
                            for t in tasks}
        if problems:
            # A group is all-or-nothing: every task gets the error (the first reason found).
            reason = "REASON_TASK_GROUP_INVALID" if group else "REASON_TASK_INVALID"
            first = next(iter(problems.values()))
            for task in tasks:
                self._task_error(fw, task, problems.get(task["task_id"]["value"], first), reason)
            return available
        if executor is not None:
            eid = executor["executor_id"]["value"]
            if (fw.id, eid) not in agent.executors:
                new_executors[eid] = executor
                agent.executors[(fw.id, eid)] = executor
        records = []
        for task in tasks:
            eid = executor["executor_id"]["value"] if executor is not None else None
            record = Task(task, fw.id, agent.id, eid, res.from_proto(task["resources"]), role)
            fw.tasks[record.id] = record
            agent.tasks[(fw.id, record.id)] = record
            records.append(record)
        agent.agent.launch(dict(fw.info), executor, [dict(t) for t in tasks], group)
        if self.operator is not None:
            for record in records:
                self.operator.task_added(record)
        return res.subtract(available, needed)

    def _decline(self, fw, body):
        filters = body.get("filters") or {}
        for oid in [o["value"] for o in body.get("offer_ids", [])]:
            offer = self.offers.get(oid)
            if offer is None or offer.framework_id != fw.id:
                continue
            self.discard_offer(oid)
            self.add_filter(fw, offer.agent_id, offer.role, offer.bag, filters.get("refuse_seconds"))
        self.allocator.wake()
